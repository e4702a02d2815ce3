"""volunteer_skills: each volunteer's skills as rows with the volunteer's region, so that
matching a need and a notice's skill filter use an index (JSON_SEARCH cannot); backfilled

Revision ID: 0018_skillrows
Revises: 0017_scale
Create Date: 2026-12-01
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0018_skillrows"
down_revision: str | None = "0017_scale"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}
BATCH = 5000


def _skills(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return [s for s in dict.fromkeys(value) if isinstance(s, str)] if isinstance(value, list) else []


def upgrade() -> None:
    skills = op.create_table(
        "volunteer_skills",
        sa.Column(
            "volunteer_id",
            BigId,
            sa.ForeignKey(
                "volunteers.id", name="fk_volunteer_skills_volunteer_id_volunteers", ondelete="CASCADE"
            ),
            nullable=False,
        ),
        sa.Column("skill", sa.String(20), nullable=False),
        sa.Column("prefecture_code", sa.String(12), nullable=True),
        sa.Column("county_code", sa.String(12), nullable=True),
        sa.Column("matchable", sa.Boolean(), nullable=False),
        sa.Column("visible", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("volunteer_id", "skill", name="pk_volunteer_skills"),
        **TABLE_OPTIONS,
    )
    for name, region in (("county", "county_code"), ("prefecture", "prefecture_code")):
        op.create_index(
            f"ix_volunteer_skills_{name}",
            "volunteer_skills",
            ["skill", "matchable", "visible", region],
        )
    # Backfill in batches by id, reading the JSON in Python (the same on MariaDB and SQLite).
    conn = op.get_bind()
    read = sa.text(
        "SELECT id, skills, prefecture_code, county_code, status, openid, skills_visible"
        " FROM volunteers"
        " WHERE id > :after AND skills IS NOT NULL ORDER BY id LIMIT :batch"
    )
    after = 0
    while True:
        found = conn.execute(read, {"after": after, "batch": BATCH}).all()
        if not found:
            break
        rows = [
            {
                "volunteer_id": vid,
                "skill": skill,
                "prefecture_code": pref,
                "county_code": county,
                "matchable": status == "active" and openid is not None,
                "visible": bool(visible),
            }
            for vid, value, pref, county, status, openid, visible in found
            for skill in _skills(value)
        ]
        if rows:
            conn.execute(skills.insert(), rows)
        after = found[-1][0]


def downgrade() -> None:
    op.drop_index("ix_volunteer_skills_prefecture", table_name="volunteer_skills")
    op.drop_index("ix_volunteer_skills_county", table_name="volunteer_skills")
    op.drop_table("volunteer_skills")
