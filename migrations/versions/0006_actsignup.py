"""actsignup: activity organiser, service field, map point, requirements, cover and the new
statuses; volunteers' sign-ups with the waiting list

Revision ID: 0006_actsignup
Revises: 0005_console_times
Create Date: 2026-11-30
"""

from collections.abc import Sequence
import sqlalchemy as sa
from alembic import op

revision: str = "0006_actsignup"
down_revision: str | None = "0005_console_times"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}
OLD_TYPES = {"科普讲座": "科学普及", "科技培训": "其他"}

activities = sa.table(
    "activities",
    sa.column("id", BigId),
    sa.column("type", sa.String),
    sa.column("status", sa.String),
    sa.column("published_at", sa.DateTime),
    sa.column("updated_at", sa.DateTime),
)


def upgrade() -> None:
    with op.batch_alter_table("activities") as batch:
        batch.alter_column("team_id", existing_type=BigId, nullable=True)
        batch.add_column(sa.Column("service_field", sa.String(20), nullable=True))
        batch.add_column(sa.Column("organiser_region_code", sa.String(12), nullable=True))
        batch.add_column(sa.Column("latitude", sa.Numeric(9, 6), nullable=True))
        batch.add_column(sa.Column("longitude", sa.Numeric(9, 6), nullable=True))
        batch.add_column(sa.Column("required_skills", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("required_region_code", sa.String(12), nullable=True))
        batch.add_column(sa.Column("cover", sa.String(255), nullable=True))
        batch.add_column(sa.Column("cancel_reason", sa.String(200), nullable=True))
        batch.add_column(sa.Column("created_by_openid", sa.String(64), nullable=True))
        batch.add_column(sa.Column("published_at", sa.DateTime(), nullable=True))
        batch.add_column(sa.Column("cancelled_at", sa.DateTime(), nullable=True))
    convert_existing_activities()

    op.create_table(
        "signups",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("activity_id", BigId, nullable=False),
        sa.Column("volunteer_id", BigId, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column(
            "live_volunteer_id",
            BigId,
            sa.Computed(
                "CASE WHEN status <> 'cancelled' THEN volunteer_id END", persisted=True
            ),
            nullable=True,
        ),
        sa.Column("waitlist_position", sa.Integer(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("promoted_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_at", sa.DateTime(), nullable=True),
        sa.Column("cancelled_by", sa.String(12), nullable=True),
        sa.Column("reminded_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_signups")),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name=op.f("fk_signups_activity_id_activities")
        ),
        sa.ForeignKeyConstraint(
            ["volunteer_id"], ["volunteers.id"], name=op.f("fk_signups_volunteer_id_volunteers")
        ),
        sa.UniqueConstraint(
            "activity_id", "live_volunteer_id", name=op.f("uq_signups_activity_id")
        ),
        sa.UniqueConstraint(
            "activity_id", "waitlist_position", name="uq_signups_activity_id_waitlist_position"
        ),
        **TABLE_OPTIONS,
    )
    op.create_index("ix_signups_activity_id_status", "signups", ["activity_id", "status"])
    op.create_index(op.f("ix_signups_volunteer_id"), "signups", ["volunteer_id"])


def convert_existing_activities() -> None:
    """已发布 becomes 招募中; retired types are mapped."""
    connection = op.get_bind()
    rows = connection.execute(
        sa.select(activities.c.id, activities.c.type, activities.c.status, activities.c.updated_at)
    ).all()
    for row in rows:
        status = "recruiting" if row.status == "published" else row.status
        connection.execute(
            activities.update()
            .where(activities.c.id == row.id)
            .values(
                type=OLD_TYPES.get(row.type, row.type),
                status=status,
                published_at=row.updated_at if status == "recruiting" else None,
            )
        )


def downgrade() -> None:
    op.drop_table("signups")
    connection = op.get_bind()
    connection.execute(
        activities.update()
        .where(activities.c.status.in_(("recruiting", "full", "ongoing")))
        .values(status="published")
    )
    with op.batch_alter_table("activities") as batch:
        for column in (
            "service_field",
            "organiser_region_code",
            "latitude",
            "longitude",
            "required_skills",
            "required_region_code",
            "cover",
            "cancel_reason",
            "created_by_openid",
            "published_at",
            "cancelled_at",
        ):
            batch.drop_column(column)
