"""teams: whether the team's admins may send notices to their members from the team console
(a province operator switches it off per team; on by default)

Revision ID: 0011_teamconsole
Revises: 0010_reports
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011_teamconsole"
down_revision: str | None = "0010_reports"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.add_column(
            sa.Column("notices_allowed", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.drop_column("notices_allowed")
