"""scale: composite indexes for the console's lists, filters, counts and audiences at a million
volunteers (measured with bench/console_pages.py on bench/seed_data.py's data)

Revision ID: 0017_scale
Revises: 0016_needflag
Create Date: 2026-12-01
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0017_scale"
down_revision: str | None = "0016_needflag"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

# (name, table, columns). InnoDB appends the primary key to every secondary index, so an
# index on (status, prefecture_code) also gives the volunteer list its `ORDER BY id DESC`.
INDEXES: tuple[tuple[str, str, list[str]], ...] = (
    ("ix_volunteers_status_prefecture", "volunteers", ["status", "prefecture_code"]),
    ("ix_volunteers_status_county", "volunteers", ["status", "county_code"]),
    ("ix_volunteers_status_created", "volunteers", ["status", "created_at"]),
    ("ix_volunteers_status_education", "volunteers", ["status", "education"]),
    ("ix_volunteers_status_occupation", "volunteers", ["status", "occupation"]),
    # The search box: a full mobile number, or part of a name (scanned in the index, not the
    # table).
    ("ix_volunteers_phone", "volunteers", ["phone"]),
    ("ix_volunteers_status_name", "volunteers", ["status", "name"]),
    ("ix_followers_receives", "followers", ["openid", "subscribed", "refuses_notices"]),
    ("ix_team_memberships_team_status", "team_memberships", ["team_id", "status", "volunteer_id"]),
    ("ix_team_memberships_status_team", "team_memberships", ["status", "team_id"]),
    ("ix_audit_log_actor", "audit_log", ["actor"]),
    (
        "ix_service_records_status_date",
        "service_records",
        ["status", "service_date", "activity_id", "volunteer_id", "hours"],
    ),
    ("ix_activities_status_starts", "activities", ["status", "starts_at"]),
)


# Single-column indexes the composites above replace: with both, the optimizer intersected
# (prefecture_code) and (status) row ids (index_merge) instead of walking (status,
# prefecture_code), several times slower for a 市州 operator's filtered lists.
REPLACED: tuple[tuple[str, str, list[str]], ...] = (
    ("ix_volunteers_prefecture_code", "volunteers", ["prefecture_code"]),
    ("ix_volunteers_county_code", "volunteers", ["county_code"]),
    ("ix_volunteers_education", "volunteers", ["education"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    for name, table, _columns in REPLACED:
        op.drop_index(name, table_name=table)


def downgrade() -> None:
    for name, table, columns in REPLACED:
        op.create_index(name, table, columns)
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
