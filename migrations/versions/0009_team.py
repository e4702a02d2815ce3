"""teams: a rejected or withdrawn registration frees its name (name_key NULL, no unique name);
the names a team had; which team an admin of several is managing

Revision ID: 0009_team
Revises: 0008_console_users
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009_team"
down_revision: str | None = "0008_console_users"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def upgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.drop_constraint("uq_teams_name", type_="unique")
        batch.alter_column("name_key", existing_type=sa.String(120), nullable=True)
    with op.batch_alter_table("team_admins") as batch:
        batch.add_column(sa.Column("selected_at", sa.DateTime(), nullable=True))
    op.create_table(
        "team_former_names",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("team_id", BigId, nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("renamed_at", sa.DateTime(), nullable=False),
        sa.Column("renamed_by", sa.String(64), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_team_former_names")),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_team_former_names_team_id_teams")
        ),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_team_former_names_team_id"), "team_former_names", ["team_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_team_former_names_team_id"), table_name="team_former_names")
    op.drop_table("team_former_names")
    with op.batch_alter_table("team_admins") as batch:
        batch.drop_column("selected_at")
    with op.batch_alter_table("teams") as batch:
        batch.alter_column("name_key", existing_type=sa.String(120), nullable=False)
        batch.create_unique_constraint("uq_teams_name", ["name"])
