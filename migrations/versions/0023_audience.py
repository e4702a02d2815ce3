"""audience: volunteers.receives_notices (the follower probe of every notice audience as one
indexed column), service times as rows (volunteer_service_times) and exact audience counters
per region, skill and service time (audience_counts), all backfilled; models.audience keeps
them true after every write

Revision ID: 0023_audience
Revises: 0022_namesearch
Create Date: 2026-12-01
"""

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0023_audience"
down_revision: str | None = "0022_namesearch"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}
BATCH = 5000

# The same definitions as models.audience (receives_notices, counted_keys): one statement each.
RECEIVES_MARIADB = (
    "UPDATE volunteers v JOIN followers f ON f.openid = v.openid"
    " SET v.receives_notices = true"
    " WHERE f.subscribed = true AND f.refuses_notices = false"
)
RECEIVES_OTHER = (
    "UPDATE volunteers SET receives_notices = true WHERE openid IS NOT NULL AND EXISTS"
    " (SELECT 1 FROM followers f WHERE f.openid = volunteers.openid"
    " AND f.subscribed = true AND f.refuses_notices = false)"
)
TIMES_MARIADB = (
    "INSERT IGNORE INTO volunteer_service_times (volunteer_id, service_time)"
    " SELECT v.id, j.t FROM volunteers v, JSON_TABLE(v.service_times, '$[*]'"
    " COLUMNS (t VARCHAR(10) CHARACTER SET utf8mb4 PATH '$')) j"
    " WHERE v.service_times IS NOT NULL AND j.t IS NOT NULL"
)
COUNTS = (
    "INSERT INTO audience_counts (kind, value, prefecture_code, county_code, volunteers)"
    " SELECT 'all', '', COALESCE(prefecture_code, ''), COALESCE(county_code, ''), COUNT(*)"
    " FROM volunteers WHERE status = 'active' AND receives_notices = true"
    " GROUP BY COALESCE(prefecture_code, ''), COALESCE(county_code, '')",
    "INSERT INTO audience_counts (kind, value, prefecture_code, county_code, volunteers)"
    " SELECT 'skill', s.skill, COALESCE(v.prefecture_code, ''), COALESCE(v.county_code, ''),"
    " COUNT(*) FROM volunteer_skills s JOIN volunteers v ON v.id = s.volunteer_id"
    " WHERE v.status = 'active' AND v.receives_notices = true"
    " GROUP BY s.skill, COALESCE(v.prefecture_code, ''), COALESCE(v.county_code, '')",
    "INSERT INTO audience_counts (kind, value, prefecture_code, county_code, volunteers)"
    " SELECT 'time', t.service_time, COALESCE(v.prefecture_code, ''),"
    " COALESCE(v.county_code, ''), COUNT(*)"
    " FROM volunteer_service_times t JOIN volunteers v ON v.id = t.volunteer_id"
    " WHERE v.status = 'active' AND v.receives_notices = true"
    " GROUP BY t.service_time, COALESCE(v.prefecture_code, ''), COALESCE(v.county_code, '')",
)


def _times(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str | bytes):
        value = json.loads(value)
    return [t for t in dict.fromkeys(value) if isinstance(t, str)] if isinstance(value, list) else []


def upgrade() -> None:
    op.add_column(
        "volunteers",
        sa.Column("receives_notices", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    times = op.create_table(
        "volunteer_service_times",
        sa.Column(
            "volunteer_id",
            BigId,
            sa.ForeignKey(
                "volunteers.id",
                name="fk_volunteer_service_times_volunteer_id_volunteers",
                ondelete="CASCADE",
            ),
            nullable=False,
        ),
        sa.Column("service_time", sa.String(10), nullable=False),
        sa.PrimaryKeyConstraint("volunteer_id", "service_time", name="pk_volunteer_service_times"),
        **TABLE_OPTIONS,
    )
    op.create_table(
        "audience_counts",
        sa.Column("kind", sa.String(8), nullable=False),
        sa.Column("value", sa.String(20), nullable=False),
        sa.Column("prefecture_code", sa.String(12), nullable=False),
        sa.Column("county_code", sa.String(12), nullable=False),
        sa.Column("volunteers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint(
            "kind", "value", "prefecture_code", "county_code", name="pk_audience_counts"
        ),
        **TABLE_OPTIONS,
    )
    conn = op.get_bind()
    mariadb = conn.dialect.name == "mysql"
    conn.execute(sa.text(RECEIVES_MARIADB if mariadb else RECEIVES_OTHER))
    if mariadb:
        conn.execute(sa.text(TIMES_MARIADB))
    else:
        read = sa.text(
            "SELECT id, service_times FROM volunteers"
            " WHERE id > :after AND service_times IS NOT NULL ORDER BY id LIMIT :batch"
        )
        after = 0
        while True:
            found = conn.execute(read, {"after": after, "batch": BATCH}).all()
            if not found:
                break
            rows = [
                {"volunteer_id": vid, "service_time": t}
                for vid, value in found
                for t in _times(value)
            ]
            if rows:
                conn.execute(times.insert(), rows)
            after = found[-1][0]
    for statement in COUNTS:
        conn.execute(sa.text(statement))
    # A notice's recipients: counted from the index alone and, for a region, read in id order
    # (InnoDB appends the id), which the keyset batches of services.notices.recipients want.
    for name, region in (("pref", "prefecture_code"), ("county", "county_code")):
        op.create_index(
            f"ix_volunteers_receives_{name}", "volunteers", ["status", "receives_notices", region]
        )


def downgrade() -> None:
    op.drop_index("ix_volunteers_receives_county", table_name="volunteers")
    op.drop_index("ix_volunteers_receives_pref", table_name="volunteers")
    op.drop_table("audience_counts")
    op.drop_table("volunteer_service_times")
    op.drop_column("volunteers", "receives_notices")
