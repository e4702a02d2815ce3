"""rollups: pre-aggregated, exact figures for 统计 and 表彰 (models.report): volunteers by
registration day, region and facet; activities and confirmed hours by day, region and team; a
volunteer's records and hours by year and region; each team's members. Filled from the base tables here (timed at
1M volunteers in bench/README.md) and kept by models.report's flush listener afterwards. Also
covering indexes for 表彰's projects (a year's held activities by team and title) for a
team's members with the day they joined (the team 统计), and for teams by kind and level.

Revision ID: 0021_rollups
Revises: 0020_captain
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0021_rollups"
down_revision: str | None = "0020_captain"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def _code(name: str) -> sa.Column:  # type: ignore[type-arg]
    return sa.Column(name, sa.String(12), primary_key=True)


def upgrade() -> None:
    op.create_table(
        "report_volunteer_counts",
        sa.Column("grain", sa.String(1), primary_key=True),
        sa.Column("facet", sa.String(12), primary_key=True),
        sa.Column("day", sa.Date, primary_key=True),
        _code("prefecture_code"),
        _code("county_code"),
        sa.Column("value", sa.String(20), primary_key=True),
        sa.Column("n", sa.Integer, nullable=False),
    )
    op.create_table(
        "report_service_counts",
        sa.Column("grain", sa.String(1), primary_key=True),
        sa.Column("team_id", BigId, primary_key=True, autoincrement=False),
        sa.Column("day", sa.Date, primary_key=True),
        _code("prefecture_code"),
        _code("county_code"),
        sa.Column("activities", sa.Integer, nullable=False),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("hours", sa.Numeric(14, 1), nullable=False),
    )
    op.create_table(
        "report_volunteer_years",
        sa.Column("year", sa.SmallInteger, primary_key=True, autoincrement=False),
        sa.Column("volunteer_id", BigId, primary_key=True, autoincrement=False),
        _code("prefecture_code"),
        _code("county_code"),
        sa.Column("records", sa.Integer, nullable=False),
        sa.Column("hours", sa.Numeric(12, 1), nullable=False),
    )
    op.create_table(
        "report_team_members",
        sa.Column("team_id", BigId, primary_key=True, autoincrement=False),
        sa.Column("members", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_report_volunteer_years_total",
        "report_volunteer_years",
        ["year", "prefecture_code", "hours", "records"],
    )
    op.create_index(
        "ix_activities_held",
        "activities",
        ["starts_at", "status", "team_id", "title", "prefecture_code", "county_code"],
    )
    op.create_index(
        "ix_team_memberships_joins",
        "team_memberships",
        ["status", "team_id", "volunteer_id", "decided_at", "created_at"],
    )
    op.create_index(
        "ix_teams_report",
        "teams",
        ["status", "kind", "level", "prefecture_code", "county_code", "created_at"],
    )
    from models.report import rebuild

    rebuild(op.get_bind(), team_joins=False)  # 0025_teamjoins fills report_team_joins


def downgrade() -> None:
    op.drop_index("ix_teams_report", table_name="teams")
    op.drop_index("ix_team_memberships_joins", table_name="team_memberships")
    op.drop_index("ix_activities_held", table_name="activities")
    op.drop_index("ix_report_volunteer_years_total", table_name="report_volunteer_years")
    for table in (
        "report_team_members",
        "report_volunteer_years",
        "report_service_counts",
        "report_volunteer_counts",
    ):
        op.drop_table(table)
