"""needs: when a need unclaimed for 14 days was flagged to its region's operators (once)

Revision ID: 0016_needflag
Revises: 0015_teamrules
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0016_needflag"
down_revision: str | None = "0015_teamrules"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("needs", sa.Column("stale_flagged_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("needs", "stale_flagged_at")
