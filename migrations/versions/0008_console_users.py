"""operator usernames in their one normalised form (NFKC + casefold), as the console now
creates and looks them up

Revision ID: 0008_console_users
Revises: 0007_actservice
Create Date: 2026-11-30
"""

import unicodedata
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008_console_users"
down_revision: str | None = "0007_actservice"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

operators = sa.table("operators", sa.column("id", sa.BigInteger()), sa.column("username"))


def _normalised(name: str) -> str:
    # services.operators.normalise_username, frozen here as of this revision.
    folded = unicodedata.normalize("NFKC", name).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def upgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(sa.select(operators.c.id, operators.c.username)).all()
    taken = {_normalised(name) for _, name in rows if _normalised(name) == name}
    for operator_id, name in rows:
        wanted = _normalised(name)
        if wanted == name:
            continue
        if wanted in taken:
            raise RuntimeError(
                f"operator {name!r} becomes {wanted!r}, which another account already has: "
                "rename one of them (flask --app app operator ...) and upgrade again"
            )
        taken.add(wanted)
        connection.execute(
            sa.update(operators).where(operators.c.id == operator_id).values(username=wanted)
        )


def downgrade() -> None:
    pass  # the normalised names are valid names of the earlier revision too
