from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    ColumnElement,
    Date,
    DateTime,
    ForeignKey,
    Index,
    Result,
    String,
    Text,
    delete,
    event,
    false,
    func,
    insert,
    select,
    true,
)
from sqlalchemy.orm import (
    Mapped,
    ORMExecuteState,
    Session,
    mapped_column,
    relationship,
    validates,
)

from models.base import Base, BigId, Created, IntPk, Updated

ACTIVE = "active"
DEREGISTERED = "deregistered"

# The volunteer's columns VolunteerSkill mirrors (with its id).
MIRRORED = ("skills", "prefecture_code", "county_code", "status", "openid", "skills_visible")


def matchable(status: str | None, openid: str | None) -> bool:
    """Suggested for needs: active (the column's default) and registered in chat (imported
    volunteers have no openid until they claim their record)."""
    return (status or ACTIVE) == ACTIVE and openid is not None


class VolunteerSkill(Base):
    """One of a volunteer's skills, with the volunteer's region, whether they can be matched
    (`matchable()`) and named (`skills_visible`): `Volunteer.skills` (a JSON list) as rows, so
    that skill filters (matching a need, a notice's audience) read an index instead of every
    volunteer's JSON.

    Written only here, by `Volunteer`: its validator for every ORM object write (registration,
    claim, profile edit, import, de-registration, the consent), and `_mirror_bulk_writes` for
    ORM-enabled bulk INSERT/UPDATE statements on volunteers. Plain SQL that writes volunteers
    must write these rows too (`VolunteerSkill.rows_for`, or `FILL_SKILL_ROWS_MARIADB` after a
    bulk load)."""

    __tablename__ = "volunteer_skills"
    __table_args__ = (
        Index("ix_volunteer_skills_county", "skill", "matchable", "visible", "county_code"),
        Index("ix_volunteer_skills_prefecture", "skill", "matchable", "visible", "prefecture_code"),
    )

    volunteer_id: Mapped[int] = mapped_column(
        BigId,
        ForeignKey("volunteers.id", ondelete="CASCADE"),
        primary_key=True,
        autoincrement=False,
    )
    skill: Mapped[str] = mapped_column(String(20), primary_key=True)
    prefecture_code: Mapped[str | None] = mapped_column(String(12))
    county_code: Mapped[str | None] = mapped_column(String(12))
    matchable: Mapped[bool] = mapped_column(Boolean)
    visible: Mapped[bool] = mapped_column(Boolean)

    @staticmethod
    def values_for(volunteer: Mapping[str, Any]) -> dict[str, Any]:
        """The columns every row of this volunteer carries, from its mirrored columns."""
        return {
            "prefecture_code": volunteer.get("prefecture_code"),
            "county_code": volunteer.get("county_code"),
            "matchable": matchable(volunteer.get("status"), volunteer.get("openid")),
            "visible": bool(volunteer.get("skills_visible")),
        }

    @staticmethod
    def rows_for(volunteers: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
        """The rows of volunteers (mappings with `id` and the mirrored columns), for a bulk
        INSERT."""
        return [
            {"volunteer_id": v["id"], "skill": skill, **VolunteerSkill.values_for(v)}
            for v in volunteers
            for skill in dict.fromkeys(v.get("skills") or ())
        ]


class Volunteer(Base):
    """A registered 科技志愿者.

    Personal data columns are nullable: de-registration (PIPL art. 47) clears them and keeps
    only the public number and dates, so records that must stay (service hours) still resolve.
    The ID number is stored only encrypted (`id_number_cipher`), with a keyed hash for
    uniqueness (`id_number_hash`) and its masked form for display.
    """

    __tablename__ = "volunteers"
    # The console's list, filters and counts (migration 0017_scale): the status first, then
    # the filter; InnoDB appends the id, which is the list's order. (They replace the
    # single-column indexes on prefecture_code, county_code and education.)
    __table_args__ = (
        Index("ix_volunteers_status_prefecture", "status", "prefecture_code"),
        Index("ix_volunteers_status_county", "status", "county_code"),
        Index("ix_volunteers_status_created", "status", "created_at"),
        Index("ix_volunteers_status_education", "status", "education"),
        Index("ix_volunteers_status_occupation", "status", "occupation"),
        Index("ix_volunteers_phone", "phone"),
        Index("ix_volunteers_status_name", "status", "name"),
        # 0019_scale2: a 市州 operator's list with a second filter, and the notice audience's
        # (status, region, openid) read from the index alone.
        Index("ix_volunteers_status_pref_created", "status", "prefecture_code", "created_at"),
        # 0024_prefedu: with registration dates after the education (a list filtered by both).
        Index(
            "ix_volunteers_status_pref_edu_created",
            "status",
            "prefecture_code",
            "education",
            "created_at",
        ),
        Index("ix_volunteers_status_pref_occupation", "status", "prefecture_code", "occupation"),
        Index("ix_volunteers_status_pref_openid", "status", "prefecture_code", "openid"),
        Index("ix_volunteers_status_county_openid", "status", "county_code", "openid"),
        # 0022_namesearch (helper "search"): a 市州 or 县区 operator's search for a name's beginning.
        Index("ix_volunteers_status_pref_name", "status", "prefecture_code", "name"),
        Index("ix_volunteers_status_county_name", "status", "county_code", "name"),
        # 0023_audience: a notice's recipients (models.audience keeps receives_notices true),
        # counted from the index alone and, for a region, in id order (the keyset batches).
        Index("ix_volunteers_receives_pref", "status", "receives_notices", "prefecture_code"),
        Index("ix_volunteers_receives_county", "status", "receives_notices", "county_code"),
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
    education: Mapped[str | None] = mapped_column(String(20))
    prefecture_code: Mapped[str | None] = mapped_column(String(12))
    county_code: Mapped[str | None] = mapped_column(String(12))
    employer: Mapped[str | None] = mapped_column(String(100))
    occupation: Mapped[str | None] = mapped_column(String(20))
    skills: Mapped[list[str] | None] = mapped_column(JSON)
    specialty: Mapped[str | None] = mapped_column(Text)
    service_times: Mapped[list[str] | None] = mapped_column(JSON)

    # Consent (我的信息, off by default): teams may see this volunteer's name and skills among
    # the suggestions for a need (services.needs_matching); otherwise they are only counted.
    skills_visible: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    # Has an openid whose follower row is subscribed and does not refuse notices: derived,
    # written only by models.audience after every write of volunteers or followers.
    receives_notices: Mapped[bool] = mapped_column(
        Boolean, default=False, server_default=false(), nullable=False
    )
    consent_version: Mapped[str | None] = mapped_column(String(16))
    consented_at: Mapped[datetime | None] = mapped_column(DateTime)
    # Set for volunteers imported by an operator (services.imports): they have no openid and
    # no consent until they register in chat with the same ID number and claim the record.
    imported_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[Created]
    updated_at: Mapped[Updated]
    deregistered_at: Mapped[datetime | None] = mapped_column(DateTime)

    skill_rows: Mapped[list[VolunteerSkill]] = relationship(
        cascade="all, delete-orphan", passive_deletes=True
    )

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
    # Derived from other rows (models.audience), never written by a form or a setting.
    DERIVED_COLUMNS: ClassVar[frozenset[str]] = frozenset({"receives_notices"})

    @classmethod
    def form_columns(cls) -> frozenset[str]:
        """Every other column: the registration form's steps write them by name (the steps
        in handlers/volunteer_steps.py and these columns must agree; tests/test_volunteer_form.py)."""
        columns = {column.key for column in cls.__table__.columns}
        return frozenset(
            columns
            - cls.IDENTITY_COLUMNS
            - cls.RECORD_COLUMNS
            - cls.SETTING_COLUMNS
            - cls.DERIVED_COLUMNS
        )

    @classmethod
    def personal_columns(cls) -> frozenset[str]:
        """What de-registration clears (PIPL art. 47)."""
        return cls.form_columns() | cls.IDENTITY_COLUMNS

    @validates(*MIRRORED)
    def _mirror_skills(self, key: str, value: Any) -> Any:
        """Keep `skill_rows` equal to `skills` with the current region and flags, whichever
        mirrored column is set (the constructor sets them one by one; edits, the consent and
        de-registration set them again)."""
        current = {column: getattr(self, column) for column in MIRRORED}
        current[key] = value
        existing = {row.skill: row for row in self.skill_rows}
        rows = [
            existing.get(skill) or VolunteerSkill(skill=skill)
            for skill in dict.fromkeys(current["skills"] or ())
        ]
        values = VolunteerSkill.values_for(current)
        for row in rows:
            for column, mirrored in values.items():
                if getattr(row, column) != mirrored:
                    setattr(row, column, mirrored)
        if rows != self.skill_rows:
            self.skill_rows = rows
        return value

    @property
    def awaiting_claim(self) -> bool:
        """Imported by an operator and not yet claimed (with consent) by its owner in chat."""
        return self.imported_at is not None and self.consented_at is None


BATCH = 1000

# For loaders that write volunteers without the ORM in MariaDB (LOAD DATA: bench/seed_data.py):
# every volunteer's rows in one statement, by the same definition as `VolunteerSkill.rows_for`.
FILL_SKILL_ROWS_MARIADB = """
INSERT IGNORE INTO volunteer_skills
    (volunteer_id, skill, prefecture_code, county_code, matchable, visible)
SELECT v.id, j.skill, v.prefecture_code, v.county_code,
       v.status = 'active' AND v.openid IS NOT NULL, v.skills_visible
FROM volunteers v,
     JSON_TABLE(v.skills, '$[*]' COLUMNS (skill VARCHAR(20) CHARACTER SET utf8mb4 PATH '$')) j
WHERE v.skills IS NOT NULL AND j.skill IS NOT NULL
"""


def resync_skill_rows(session: Session, condition: ColumnElement[bool]) -> None:
    """Rewrite the skill rows of the volunteers matching `condition` from their own columns."""
    columns = [Volunteer.id, *(getattr(Volunteer, column) for column in MIRRORED)]
    found = [row._asdict() for row in session.execute(select(*columns).where(condition))]
    for start in range(0, len(found), BATCH):
        batch = found[start : start + BATCH]
        session.execute(
            delete(VolunteerSkill).where(VolunteerSkill.volunteer_id.in_([v["id"] for v in batch]))
        )
        rows = VolunteerSkill.rows_for(batch)
        if rows:
            session.execute(insert(VolunteerSkill), rows)


@event.listens_for(Session, "do_orm_execute")
def _mirror_bulk_writes(state: ORMExecuteState) -> Result[Any] | None:
    """ORM-enabled bulk INSERT and UPDATE statements on volunteers (no objects, so no validator)
    rewrite the skill rows of the volunteers they wrote."""
    if not (state.is_insert or state.is_update) or state.bind_mapper is not Volunteer.__mapper__:
        return None
    session = state.session
    if state.is_insert:
        before = session.scalar(select(func.max(Volunteer.id))) or 0
        result = state.invoke_statement()
        resync_skill_rows(session, Volunteer.id > before)
        return result
    where = state.statement.whereclause  # type: ignore[attr-defined]
    ids = list(session.scalars(select(Volunteer.id).where(true() if where is None else where)))
    result = state.invoke_statement()
    for start in range(0, len(ids), BATCH):
        resync_skill_rows(session, Volunteer.id.in_(ids[start : start + BATCH]))
    return result
