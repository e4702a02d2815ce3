"""teams, team admins and memberships

Revision ID: 0003_teams
Revises: 0002_volunteers
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003_teams"
down_revision: str | None = "0002_volunteers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def upgrade() -> None:
    op.create_table(
        "teams",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("team_no", sa.String(16), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("name_key", sa.String(120), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("level", sa.String(8), nullable=False),
        sa.Column("parent_id", BigId, nullable=True),
        sa.Column("prefecture_code", sa.String(12), nullable=True),
        sa.Column("county_code", sa.String(12), nullable=True),
        sa.Column("host_org", sa.String(100), nullable=True),
        sa.Column("captain_name", sa.String(40), nullable=True),
        sa.Column("captain_phone", sa.String(20), nullable=True),
        sa.Column("contact_phone", sa.String(24), nullable=True),
        sa.Column("description", sa.Text(), nullable=True),
        sa.Column("service_areas", sa.JSON(), nullable=True),
        sa.Column("invite_code", sa.String(12), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reject_reason", sa.String(200), nullable=True),
        sa.Column("needs_guidance", sa.Boolean(), nullable=False),
        sa.Column("auto_approve", sa.Boolean(), nullable=False),
        sa.Column("registrant_openid", sa.String(64), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("approved_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_teams")),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["teams.id"], name=op.f("fk_teams_parent_id_teams")
        ),
        sa.UniqueConstraint("team_no", name=op.f("uq_teams_team_no")),
        sa.UniqueConstraint("name", name=op.f("uq_teams_name")),
        sa.UniqueConstraint("name_key", name=op.f("uq_teams_name_key")),
        sa.UniqueConstraint("invite_code", name=op.f("uq_teams_invite_code")),
        **TABLE_OPTIONS,
    )
    for column in ("level", "parent_id", "prefecture_code", "county_code", "status"):
        op.create_index(op.f(f"ix_teams_{column}"), "teams", [column])
    op.create_index(op.f("ix_teams_registrant_openid"), "teams", ["registrant_openid"])

    op.create_table(
        "team_admins",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("team_id", BigId, nullable=False),
        sa.Column("openid", sa.String(64), nullable=False),
        sa.Column("volunteer_id", BigId, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_admins")),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_admins_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_team_admins_volunteer_id_volunteers"),
        ),
        sa.UniqueConstraint("team_id", "openid", name=op.f("uq_team_admins_team_id")),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_team_admins_openid"), "team_admins", ["openid"])

    op.create_table(
        "team_memberships",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("team_id", BigId, nullable=False),
        sa.Column("volunteer_id", BigId, nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_memberships")),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_memberships_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"],
            ["volunteers.id"],
            name=op.f("fk_team_memberships_volunteer_id_volunteers"),
        ),
        sa.UniqueConstraint("team_id", "volunteer_id", name=op.f("uq_team_memberships_team_id")),
        **TABLE_OPTIONS,
    )
    for column in ("volunteer_id", "status"):
        op.create_index(op.f(f"ix_team_memberships_{column}"), "team_memberships", [column])


def downgrade() -> None:
    op.drop_table("team_memberships")
    op.drop_table("team_admins")
    op.drop_table("teams")
