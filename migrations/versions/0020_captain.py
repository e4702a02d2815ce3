"""teams: the 队长's volunteer record once the captain confirms, and the code that confirms it

A registrant who registers a team for another captain gets a code to pass on; the captain
replies 「确认队长 <code>」 in chat and becomes the team's 队长 (an admin not counted among the
管理员). A registrant who is the captain is recorded at once.

Revision ID: 0020_captain
Revises: 0019_scale2
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0020_captain"
down_revision: str | None = "0019_scale2"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    # Batch mode: SQLite (the embedded defaults) alters constraints by copying the table.
    with op.batch_alter_table("teams") as batch:
        batch.add_column(sa.Column("captain_volunteer_id", BigId, nullable=True))
        batch.add_column(sa.Column("captain_code", sa.String(12), nullable=True))
        batch.create_foreign_key(
            "fk_teams_captain_volunteer_id_volunteers",
            "volunteers",
            ["captain_volunteer_id"],
            ["id"],
        )
        batch.create_unique_constraint("uq_teams_captain_code", ["captain_code"])


def downgrade() -> None:
    with op.batch_alter_table("teams") as batch:
        batch.drop_constraint("uq_teams_captain_code", type_="unique")
        batch.drop_constraint("fk_teams_captain_volunteer_id_volunteers", type_="foreignkey")
        batch.drop_column("captain_code")
        batch.drop_column("captain_volunteer_id")
