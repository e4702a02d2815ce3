"""needs: 供需对接 — needs posted in chat, reviewed by the region's operators, claimed by teams

Revision ID: 0013_needs
Revises: 0012_notice
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013_needs"
down_revision: str | None = "0012_notice"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def upgrade() -> None:
    op.create_table(
        "needs",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column("need_no", sa.String(16), nullable=False),
        sa.Column("poster_openid", sa.String(64), nullable=False),
        sa.Column("requester_name", sa.String(100), nullable=False),
        sa.Column("requester_kind", sa.String(8), nullable=False),
        sa.Column("prefecture_code", sa.String(12), nullable=False),
        sa.Column("county_code", sa.String(12), nullable=True),
        sa.Column("field", sa.String(20), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("starts_on", sa.Date(), nullable=True),
        sa.Column("ends_on", sa.Date(), nullable=True),
        sa.Column("people_needed", sa.Integer(), nullable=False),
        sa.Column("contact_name", sa.String(40), nullable=False),
        sa.Column("contact_phone", sa.String(20), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("reject_reason", sa.String(200), nullable=True),
        sa.Column(
            "merged_into_id",
            BigId,
            sa.ForeignKey("needs.id", name="fk_needs_merged_into_id_needs"),
            nullable=True,
        ),
        sa.Column(
            "claimed_team_id",
            BigId,
            sa.ForeignKey("teams.id", name="fk_needs_claimed_team_id_teams"),
            nullable=True,
        ),
        sa.Column(
            "activity_id",
            BigId,
            sa.ForeignKey("activities.id", name="fk_needs_activity_id_activities"),
            nullable=True,
        ),
        sa.Column("reviewed_by", sa.String(64), nullable=True),
        sa.Column("satisfaction", sa.Integer(), nullable=True),
        sa.Column("feedback", sa.Text(), nullable=True),
        sa.Column("reviewed_at", sa.DateTime(), nullable=True),
        sa.Column("published_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("done_at", sa.DateTime(), nullable=True),
        sa.Column("feedback_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("need_no", name="uq_needs_need_no"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_needs_poster_openid", "needs", ["poster_openid"])
    op.create_index("ix_needs_status_region", "needs", ["status", "prefecture_code", "county_code"])


def downgrade() -> None:
    op.drop_index("ix_needs_status_region", table_name="needs")
    op.drop_index("ix_needs_poster_openid", table_name="needs")
    op.drop_table("needs")
