"""notice: a paused notice's automatic resume time; templates known to WeChat

Revision ID: 0012_notice
Revises: 0011_teamconsole
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0012_notice"
down_revision: str | None = "0011_teamconsole"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("notices", sa.Column("resume_at", sa.DateTime(), nullable=True))
    op.add_column(
        "notice_templates",
        sa.Column("verified", sa.Boolean(), nullable=False, server_default=sa.false()),
    )


def downgrade() -> None:
    op.drop_column("notice_templates", "verified")
    op.drop_column("notices", "resume_at")
