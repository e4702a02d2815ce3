"""teamjoins: report_team_joins (models.team_report), the team 统计's member figures as a
rollup: every team's members (of the team and the teams below it, each once) by the Beijing
day they first joined, by education and by skill, at the day/month/year/all-time grains.
Filled from the base tables here and kept by models.report's flush hooks afterwards. Also a
covering index of service records by activity, status and date (the team 统计's hours list).

Revision ID: 0025_teamjoins
Revises: 0024_prefedu
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0025_teamjoins"
down_revision: str | None = "0024_prefedu"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "report_team_joins",
        sa.Column("team_id", BigId, primary_key=True, autoincrement=False),
        sa.Column("facet", sa.String(12), primary_key=True),
        sa.Column("grain", sa.String(1), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        sa.Column("value", sa.String(20), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_service_records_activity_status",
        "service_records",
        ["activity_id", "status", "service_date", "hours"],
    )
    from models.report import rebuild_team_joins

    rebuild_team_joins(op.get_bind())


def downgrade() -> None:
    op.drop_index("ix_service_records_activity_status", table_name="service_records")
    op.drop_table("report_team_joins")
