"""needs matching: volunteers' consent to show their skills to teams (off by default), and
pairings (结对) of a 学会 team with a 县区

Revision ID: 0014_needs_match
Revises: 0013_needs
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014_needs_match"
down_revision: str | None = "0013_needs"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def upgrade() -> None:
    op.add_column(
        "volunteers",
        sa.Column("skills_visible", sa.Boolean(), nullable=False, server_default=sa.false()),
    )
    op.create_table(
        "need_pairings",
        sa.Column("id", BigId, primary_key=True, autoincrement=True),
        sa.Column(
            "team_id",
            BigId,
            sa.ForeignKey("teams.id", name="fk_need_pairings_team_id_teams"),
            nullable=False,
        ),
        sa.Column("county_code", sa.String(12), nullable=False),
        sa.Column("created_by", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.UniqueConstraint("team_id", "county_code", name="uq_need_pairings_team_id"),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_need_pairings_county_code", "need_pairings", ["county_code"])


def downgrade() -> None:
    op.drop_index("ix_need_pairings_county_code", table_name="need_pairings")
    op.drop_table("need_pairings")
    op.drop_column("volunteers", "skills_visible")
