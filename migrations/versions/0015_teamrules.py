"""teams: a rename to a special name waits for the province (requested_name, who and when)

Revision ID: 0015_teamrules
Revises: 0014_needs_match
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0015_teamrules"
down_revision: str | None = "0014_needs_match"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("teams", sa.Column("requested_name", sa.String(120), nullable=True))
    op.add_column("teams", sa.Column("requested_name_by", sa.String(64), nullable=True))
    op.add_column("teams", sa.Column("name_requested_at", sa.DateTime(), nullable=True))


def downgrade() -> None:
    op.drop_column("teams", "name_requested_at")
    op.drop_column("teams", "requested_name_by")
    op.drop_column("teams", "requested_name")
