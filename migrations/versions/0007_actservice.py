"""actservice: check-in codes, attendance, service records, corrections, certificates

Revision ID: 0007_actservice
Revises: 0006_actsignup
Create Date: 2026-11-30
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import mysql

revision: str = "0007_actservice"
down_revision: str | None = "0006_actsignup"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

BigId = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
Hours = sa.Numeric(7, 1)
PdfBlob = sa.LargeBinary().with_variant(mysql.MEDIUMBLOB(), "mysql", "mariadb")
TABLE_OPTIONS = {"mysql_charset": "utf8mb4", "mysql_collate": "utf8mb4_unicode_ci"}


def _fk(table: str, column: str, target: str) -> sa.ForeignKeyConstraint:
    return sa.ForeignKeyConstraint(
        [column], [f"{target}.id"], name=op.f(f"fk_{table}_{column}_{target}")
    )


def upgrade() -> None:
    op.create_table(
        "checkin_codes",
        sa.Column("activity_id", BigId, autoincrement=False, nullable=False),
        sa.Column("token", sa.String(24), nullable=False),
        sa.Column("code", sa.String(6), nullable=False),
        sa.Column("in_ticket", sa.String(255), nullable=True),
        sa.Column("in_url", sa.String(255), nullable=True),
        sa.Column("out_ticket", sa.String(255), nullable=True),
        sa.Column("out_url", sa.String(255), nullable=True),
        sa.Column("qr_expires_at", sa.DateTime(), nullable=True),
        sa.Column("walk_ins_allowed", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_checkin_codes")),
        sa.UniqueConstraint("token", name=op.f("uq_checkin_codes_token")),
        _fk("checkin_codes", "activity_id", "activities"),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_checkin_codes_code"), "checkin_codes", ["code"])

    op.create_table(
        "attendances",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("activity_id", BigId, nullable=False),
        sa.Column("volunteer_id", BigId, nullable=False),
        sa.Column("walk_in", sa.Boolean(), nullable=False),
        sa.Column("checked_in_at", sa.DateTime(), nullable=False),
        sa.Column("check_in_method", sa.String(8), nullable=False),
        sa.Column("checked_out_at", sa.DateTime(), nullable=True),
        sa.Column("check_out_method", sa.String(8), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_attendances")),
        sa.UniqueConstraint(
            "activity_id", "volunteer_id", name=op.f("uq_attendances_activity_id")
        ),
        _fk("attendances", "activity_id", "activities"),
        _fk("attendances", "volunteer_id", "volunteers"),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_attendances_activity_id"), "attendances", ["activity_id"])
    op.create_index(op.f("ix_attendances_volunteer_id"), "attendances", ["volunteer_id"])

    op.create_table(
        "service_records",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("activity_id", BigId, nullable=False),
        sa.Column("volunteer_id", BigId, nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("hours", Hours, nullable=False),
        sa.Column("measured_hours", Hours, nullable=True),
        sa.Column("adjustment_reason", sa.String(200), nullable=True),
        sa.Column("activity_title", sa.String(60), nullable=False),
        sa.Column("service_date", sa.Date(), nullable=False),
        sa.Column("place", sa.String(100), nullable=False),
        sa.Column("content", sa.String(200), nullable=False),
        sa.Column("organiser", sa.String(100), nullable=False),
        sa.Column("recorder", sa.String(60), nullable=False),
        sa.Column("evaluation", sa.String(100), nullable=True),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_service_records")),
        sa.UniqueConstraint(
            "activity_id", "volunteer_id", name=op.f("uq_service_records_activity_id")
        ),
        _fk("service_records", "activity_id", "activities"),
        _fk("service_records", "volunteer_id", "volunteers"),
        **TABLE_OPTIONS,
    )
    for column in ("activity_id", "volunteer_id", "service_date"):
        op.create_index(op.f(f"ix_service_records_{column}"), "service_records", [column])

    op.create_table(
        "record_corrections",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("record_id", BigId, nullable=False),
        sa.Column("volunteer_id", BigId, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("status", sa.String(12), nullable=False),
        sa.Column("hours_before", Hours, nullable=False),
        sa.Column("hours_after", Hours, nullable=True),
        sa.Column("decided_by", sa.String(60), nullable=True),
        sa.Column("decision_reason", sa.Text(), nullable=True),
        sa.Column("decided_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_record_corrections")),
        _fk("record_corrections", "record_id", "service_records"),
        _fk("record_corrections", "volunteer_id", "volunteers"),
        **TABLE_OPTIONS,
    )
    for column in ("record_id", "volunteer_id", "status"):
        op.create_index(op.f(f"ix_record_corrections_{column}"), "record_corrections", [column])

    op.create_table(
        "certificates",
        sa.Column("id", BigId, autoincrement=True, nullable=False),
        sa.Column("code", sa.String(20), nullable=False),
        sa.Column("volunteer_id", BigId, nullable=False),
        sa.Column("period_from", sa.Date(), nullable=True),
        sa.Column("period_to", sa.Date(), nullable=True),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("content_sha256", sa.String(64), nullable=False),
        sa.Column("pdf", PdfBlob, nullable=True),
        sa.Column("issued_at", sa.DateTime(), nullable=False),
        sa.Column("superseded_by_id", BigId, nullable=True),
        sa.Column("superseded_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("code", name=op.f("uq_certificates_code")),
        _fk("certificates", "volunteer_id", "volunteers"),
        sa.ForeignKeyConstraint(
            ["superseded_by_id"],
            ["certificates.id"],
            name=op.f("fk_certificates_superseded_by_id_certificates"),
        ),
        **TABLE_OPTIONS,
    )
    op.create_index(op.f("ix_certificates_volunteer_id"), "certificates", ["volunteer_id"])


def downgrade() -> None:
    op.drop_table("certificates")
    op.drop_table("record_corrections")
    op.drop_table("service_records")
    op.drop_table("attendances")
    op.drop_table("checkin_codes")
