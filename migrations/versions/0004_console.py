"""console: operators, audit log, activities, templates, notices and their recipients

Revision ID: 0004_console
Revises: 0003_teams
Create Date: 2026-11-29
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004_console"
down_revision: str | None = "0003_teams"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def upgrade() -> None:
    op.create_table(
        "operators",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("username", sa.String(40), nullable=False),
        sa.Column("password_hash", sa.String(255), nullable=False),
        sa.Column("role", sa.String(16), nullable=False),
        sa.Column("region_code", sa.String(12), nullable=True),
        sa.Column("openid", sa.String(64), nullable=True),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("last_login_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operators")),
        sa.UniqueConstraint("username", name=op.f("uq_operators_username")),
        **TABLE_OPTIONS,
    )

    op.create_table(
        "audit_log",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("operator_id", BigId, nullable=True),
        sa.Column("actor", sa.String(64), nullable=False),
        sa.Column("action", sa.String(40), nullable=False),
        sa.Column("target_type", sa.String(32), nullable=True),
        sa.Column("target_id", sa.String(40), nullable=True),
        sa.Column("summary", sa.String(255), nullable=False),
        sa.Column("detail", sa.JSON(), nullable=True),
        sa.Column("ip", sa.String(45), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_log")),
        sa.ForeignKeyConstraint(
            ["operator_id"], ["operators.id"], name=op.f("fk_audit_log_operator_id_operators")
        ),
        **TABLE_OPTIONS,
    )
    for column in ("created_at", "operator_id", "action"):
        op.create_index(op.f(f"ix_audit_log_{column}"), "audit_log", [column])

    op.create_table(
        "activities",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("title", sa.String(60), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("key_date", sa.String(20), nullable=True),
        sa.Column("team_id", BigId, nullable=False),
        sa.Column("prefecture_code", sa.String(12), nullable=True),
        sa.Column("county_code", sa.String(12), nullable=True),
        sa.Column("place", sa.String(100), nullable=False),
        sa.Column("starts_at", sa.DateTime(), nullable=False),
        sa.Column("ends_at", sa.DateTime(), nullable=False),
        sa.Column("capacity", sa.Integer(), nullable=True),
        sa.Column("signup_deadline", sa.DateTime(), nullable=True),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("contact", sa.String(60), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_activities")),
        sa.ForeignKeyConstraint(
            ["team_id"], ["teams.id"], name=op.f("fk_activities_team_id_teams")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["operators.id"], name=op.f("fk_activities_created_by_operators")
        ),
        **TABLE_OPTIONS,
    )
    for column in ("team_id", "prefecture_code", "county_code", "starts_at", "status"):
        op.create_index(op.f(f"ix_activities_{column}"), "activities", [column])

    op.create_table(
        "notice_templates",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("template_id", sa.String(64), nullable=False),
        sa.Column("title", sa.String(60), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_templates")),
        sa.UniqueConstraint("template_id", name=op.f("uq_notice_templates_template_id")),
        **TABLE_OPTIONS,
    )

    op.create_table(
        "notices",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("template_id", BigId, nullable=False),
        sa.Column("activity_id", BigId, nullable=True),
        sa.Column("data", sa.JSON(), nullable=False),
        sa.Column("url", sa.String(1024), nullable=True),
        sa.Column("audience", sa.JSON(), nullable=False),
        sa.Column("audience_text", sa.String(255), nullable=False),
        sa.Column("prefecture_code", sa.String(12), nullable=True),
        sa.Column("county_code", sa.String(12), nullable=True),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("stop_reason", sa.String(255), nullable=True),
        sa.Column("created_by", BigId, nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.Column("queued_at", sa.DateTime(), nullable=True),
        sa.Column("started_at", sa.DateTime(), nullable=True),
        sa.Column("finished_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notices")),
        sa.ForeignKeyConstraint(
            ["template_id"],
            ["notice_templates.id"],
            name=op.f("fk_notices_template_id_notice_templates"),
        ),
        sa.ForeignKeyConstraint(
            ["activity_id"], ["activities.id"], name=op.f("fk_notices_activity_id_activities")
        ),
        sa.ForeignKeyConstraint(
            ["created_by"], ["operators.id"], name=op.f("fk_notices_created_by_operators")
        ),
        **TABLE_OPTIONS,
    )
    for column in ("prefecture_code", "county_code", "status"):
        op.create_index(op.f(f"ix_notices_{column}"), "notices", [column])

    op.create_table(
        "notice_recipients",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("notice_id", BigId, nullable=False),
        sa.Column("openid", sa.String(64), nullable=False),
        sa.Column("volunteer_id", BigId, nullable=True),
        sa.Column("status", sa.String(10), nullable=False),
        sa.Column("attempts", sa.SmallInteger(), nullable=False),
        sa.Column("next_attempt_at", sa.DateTime(), nullable=True),
        sa.Column("claimed_by", sa.String(40), nullable=True),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.Column("msgid", sa.BigInteger(), nullable=True),
        sa.Column("errcode", sa.Integer(), nullable=True),
        sa.Column("delivery", sa.String(16), nullable=True),
        sa.Column("sent_at", sa.DateTime(), nullable=True),
        sa.Column("delivered_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notice_recipients")),
        sa.ForeignKeyConstraint(
            ["notice_id"],
            ["notices.id"],
            name=op.f("fk_notice_recipients_notice_id_notices"),
            ondelete="CASCADE",
        ),
        sa.UniqueConstraint("notice_id", "openid", name=op.f("uq_notice_recipients_notice_id")),
        **TABLE_OPTIONS,
    )
    op.create_index(
        "ix_notice_recipients_notice_id_status",
        "notice_recipients",
        ["notice_id", "status", "id"],
    )
    op.create_index(op.f("ix_notice_recipients_msgid"), "notice_recipients", ["msgid"])


def downgrade() -> None:
    op.drop_table("notice_recipients")
    op.drop_table("notices")
    op.drop_table("notice_templates")
    op.drop_table("activities")
    op.drop_table("audit_log")
    op.drop_table("operators")
