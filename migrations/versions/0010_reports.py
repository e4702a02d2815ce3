"""reports: volunteers imported by an operator are marked until they claim their record;
recognition shortlists (candidates picked for a year, with a note, and the 公示's time)

Revision ID: 0010_reports
Revises: 0009_team
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0010_reports"
down_revision: str | None = "0009_team"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def upgrade() -> None:
    op.add_column("volunteers", sa.Column("imported_at", sa.DateTime(), nullable=True))
    op.create_table(
        "recognitions",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(12), nullable=False),
        sa.Column("subject", sa.String(160), nullable=False),
        sa.Column("name", sa.String(160), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=True),
        sa.Column("volunteer_id", BigId, sa.ForeignKey("volunteers.id", name="fk_recognitions_volunteer_id_volunteers"), nullable=True),
        sa.Column("team_id", BigId, sa.ForeignKey("teams.id", name="fk_recognitions_team_id_teams"), nullable=True),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("note", sa.String(255), nullable=True),
        sa.Column("shortlisted_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("notified_at", sa.DateTime(), nullable=True),
        sa.UniqueConstraint("year", "kind", "subject", name="uq_recognitions_year"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_recognitions_year", "recognitions", ["year"])


def downgrade() -> None:
    op.drop_index("ix_recognitions_year", table_name="recognitions")
    op.drop_table("recognitions")
    op.drop_column("volunteers", "imported_at")
