"""reports: volunteers imported by an operator are marked until they claim their record

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


def upgrade() -> None:
    op.add_column("volunteers", sa.Column("imported_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("volunteers", "imported_at")
