from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar

from sqlalchemy import JSON, Boolean, Date, DateTime, Index, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, Created, IntPk, Updated

ACTIVE = "active"
DEREGISTERED = "deregistered"


class Volunteer(Base):
    """A registered 科技志愿者.

    Personal data columns are nullable: de-registration (PIPL art. 47) clears them and keeps
    only the public number and dates, so records that must stay (service hours) still resolve.
    The ID number is stored only encrypted (`id_number_cipher`), with a keyed hash for
    uniqueness (`id_number_hash`) and its masked form for display.
    """

    __tablename__ = "volunteers"
    # The console's list, filters and counts (migration 0017_scale): the status first, then
    # the filter; InnoDB appends the id, which is the list's order.
    __table_args__ = (
        Index("ix_volunteers_status_prefecture", "status", "prefecture_code"),
        Index("ix_volunteers_status_county", "status", "county_code"),
        Index("ix_volunteers_status_created", "status", "created_at"),
        Index("ix_volunteers_status_education", "status", "education"),
        Index("ix_volunteers_status_occupation", "status", "occupation"),
    )

    id: Mapped[IntPk]
    volunteer_no: Mapped[str] = mapped_column(String(16), unique=True)
    openid: Mapped[str | None] = mapped_column(String(64), unique=True)
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE, index=True)

    name: Mapped[str | None] = mapped_column(String(40))
    id_number_cipher: Mapped[str | None] = mapped_column(String(255))
    id_number_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    id_number_masked: Mapped[str | None] = mapped_column(String(24))
    gender: Mapped[str | None] = mapped_column(String(2))
    birth_date: Mapped[date | None] = mapped_column(Date)
    phone: Mapped[str | None] = mapped_column(String(20))
    education: Mapped[str | None] = mapped_column(String(20), index=True)
    prefecture_code: Mapped[str | None] = mapped_column(String(12), index=True)
    county_code: Mapped[str | None] = mapped_column(String(12), index=True)
    employer: Mapped[str | None] = mapped_column(String(100))
    occupation: Mapped[str | None] = mapped_column(String(20))
    skills: Mapped[list[str] | None] = mapped_column(JSON)
    specialty: Mapped[str | None] = mapped_column(Text)
    service_times: Mapped[list[str] | None] = mapped_column(JSON)

    # Consent (我的信息, off by default): teams may see this volunteer's name and skills among
    # the suggestions for a need (services.needs_matching); otherwise they are only counted.
    skills_visible: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    consent_version: Mapped[str | None] = mapped_column(String(16))
    consented_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set for volunteers imported by an operator (services.imports): they have no openid and
    # no consent until they register in chat with the same ID number and claim the record.
    imported_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[Created]
    updated_at: Mapped[Updated]
    deregistered_at: Mapped[datetime | None] = mapped_column(DateTime)

    # Written from the ID card at registration, never by a form step.
    IDENTITY_COLUMNS: ClassVar[frozenset[str]] = frozenset(
        {"openid", "id_number_cipher", "id_number_hash", "id_number_masked", "gender", "birth_date"}
    )
    # Kept after de-registration, for records that must stay.
    RECORD_COLUMNS: ClassVar[frozenset[str]] = frozenset(
        {
            "id",
            "volunteer_no",
            "status",
            "consent_version",
            "consented_at",
            "imported_at",
            "created_at",
            "updated_at",
            "deregistered_at",
        }
    )

    # Settings the volunteer changes on their own (not registration form steps).
    SETTING_COLUMNS: ClassVar[frozenset[str]] = frozenset({"skills_visible"})

    @classmethod
    def form_columns(cls) -> frozenset[str]:
        """Every other column: the registration form's steps write them by name (the steps
        in handlers/volunteer.py and these columns must agree; tests/test_volunteer_form.py)."""
        columns = {column.key for column in cls.__table__.columns}
        return frozenset(columns - cls.IDENTITY_COLUMNS - cls.RECORD_COLUMNS - cls.SETTING_COLUMNS)

    @classmethod
    def personal_columns(cls) -> frozenset[str]:
        """What de-registration clears (PIPL art. 47)."""
        return cls.form_columns() | cls.IDENTITY_COLUMNS

    @property
    def awaiting_claim(self) -> bool:
        """Imported by an operator and not yet claimed (with consent) by its owner in chat."""
        return self.imported_at is not None and self.consented_at is None
