"""volunteers

Revision ID: 0002_volunteers
Revises: 0001_followers
Create Date: 2026-11-28
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002_volunteers"
down_revision: str | None = "0001_followers"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "volunteers",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("volunteer_no", sa.String(16), nullable=False),
        sa.Column("openid", sa.String(64), nullable=True),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("name", sa.String(40), nullable=True),
        sa.Column("id_number_cipher", sa.String(255), nullable=True),
        sa.Column("id_number_hash", sa.String(64), nullable=True),
        sa.Column("id_number_masked", sa.String(24), nullable=True),
        sa.Column("gender", sa.String(2), nullable=True),
        sa.Column("birth_date", sa.Date(), nullable=True),
        sa.Column("phone", sa.String(20), nullable=True),
        sa.Column("education", sa.String(20), nullable=True),
        sa.Column("prefecture_code", sa.String(12), nullable=True),
        sa.Column("county_code", sa.String(12), nullable=True),
        sa.Column("employer", sa.String(100), nullable=True),
        sa.Column("occupation", sa.String(20), nullable=True),
        sa.Column("skills", sa.JSON(), nullable=True),
        sa.Column("specialty", sa.Text(), nullable=True),
        sa.Column("service_times", sa.JSON(), nullable=True),
        sa.Column("consent_version", sa.String(16), nullable=True),
        sa.Column("consented_at", sa.DateTime(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("deregistered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_volunteers")),
        sa.UniqueConstraint("volunteer_no", name=op.f("uq_volunteers_volunteer_no")),
        sa.UniqueConstraint("openid", name=op.f("uq_volunteers_openid")),
        sa.UniqueConstraint("id_number_hash", name=op.f("uq_volunteers_id_number_hash")),
        mysql_charset="utf8mb4",
        mysql_collate="utf8mb4_unicode_ci",
    )
    for column in ("status", "education", "prefecture_code", "county_code"):
        op.create_index(op.f(f"ix_volunteers_{column}"), "volunteers", [column])


def downgrade() -> None:
    op.drop_table("volunteers")
