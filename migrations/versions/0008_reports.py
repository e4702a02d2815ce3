"""reports: volunteers imported by an operator are marked until they claim their record

Revision ID: 0008_reports
Revises: 0007_actservice
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_reports"
down_revision: str | None = "0007_actservice"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("volunteers", sa.Column("imported_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("volunteers", "imported_at")
