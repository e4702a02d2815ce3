"""scale2: (status, prefecture_code, x) indexes for a 市州 operator's filtered volunteer list, and
covering (status, region, openid) indexes for notice audience counts (measured with
bench/console_pages.py on bench/seed_data.py's 1M volunteers)

Revision ID: 0019_scale2
Revises: 0018_skillrows
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0019_scale2"
down_revision: str | None = "0018_skillrows"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, table, columns). InnoDB appends the id to each, so an equality on every column gives
# the list's ORDER BY id DESC from the index, and (…, created_at) gives ORDER BY created_at DESC,
# id DESC for a date range (services.paging orders by registration time when dates are set).
INDEXES: tuple[tuple[str, str, list[str]], ...] = (
    (
        "ix_volunteers_status_pref_created",
        "volunteers",
        ["status", "prefecture_code", "created_at"],
    ),
    (
        "ix_volunteers_status_pref_education",
        "volunteers",
        ["status", "prefecture_code", "education"],
    ),
    (
        "ix_volunteers_status_pref_occupation",
        "volunteers",
        ["status", "prefecture_code", "occupation"],
    ),
    # A notice's audience (services.notices.audience): status, region and openid (for the
    # follower probe) from the index alone, no volunteer row read.
    ("ix_volunteers_status_pref_openid", "volunteers", ["status", "prefecture_code", "openid"]),
    ("ix_volunteers_status_county_openid", "volunteers", ["status", "county_code", "openid"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
