"""namesearch: (status, prefecture_code, name) and (status, county_code, name) indexes, so that a
市州 or 县区 operator's search for a name's beginning (a surname, a whole name) is a range of
one index instead of reading every volunteer row of the region (measured with
bench/console_pages.py on bench/seed_data.py's 1M volunteers)

Revision ID: 0022_namesearch
Revises: 0021_rollups
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0022_namesearch"
down_revision: str | None = "0021_rollups"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, table, columns). The province-wide search already has (status, name) (0017_scale).
INDEXES: tuple[tuple[str, str, list[str]], ...] = (
    ("ix_volunteers_status_pref_name", "volunteers", ["status", "prefecture_code", "name"]),
    ("ix_volunteers_status_county_name", "volunteers", ["status", "county_code", "name"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
