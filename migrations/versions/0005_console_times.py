"""activity times in UTC: starts_at, ends_at and signup_deadline were stored as Beijing wall-clock
times; every other time is UTC, so these move 8 hours back (China has no daylight saving time)

Revision ID: 0005_console_times
Revises: 0004_console
Create Date: 2026-11-30
"""

from collections.abc import Sequence
from datetime import timedelta

import sqlalchemy as sa
from alembic import op

revision: str = "0005_console_times"
down_revision: str | None = "0004_console"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BEIJING_OFFSET = timedelta(hours=8)
COLUMNS = ("starts_at", "ends_at", "signup_deadline")
activities = sa.table(
    "activities",
    sa.column("id", sa.BigInteger()),
    *(sa.column(name, sa.DateTime()) for name in COLUMNS),
)


def _shift(delta: timedelta) -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(activities)).mappings().all()
    for row in rows:
        values = {name: row[name] + delta for name in COLUMNS if row[name] is not None}
        connection.execute(
            sa.update(activities).where(activities.c.id == row["id"]).values(**values)
        )


def upgrade() -> None:
    _shift(-BEIJING_OFFSET)


def downgrade() -> None:
    _shift(BEIJING_OFFSET)
