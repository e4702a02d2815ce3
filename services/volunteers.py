"""Volunteers: registration, profile, edit and de-registration."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from typing import Any

from sqlalchemy import and_, bindparam, literal, select, union_all
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from domain import regions
from domain.idcard import IdCard, mask_id_number
from domain.pii import PiiCipher
from models.base import utcnow
from models.volunteer import ACTIVE, DEREGISTERED, Volunteer
from services import certificates, teams

ID_CONTEXT = "volunteer.id_number"
CONSENT_VERSION = "2026-11"


class AlreadyRegistered(Exception):
    pass


class DuplicateIdNumber(Exception):
    """Another account registered this ID number. Deliberately carries nothing about it."""


def find_by_openid(session: Session, openid: str) -> Volunteer | None:
    return session.scalar(
        select(Volunteer).where(Volunteer.openid == openid, Volunteer.status == ACTIVE)
    )


def find_by_number(session: Session, volunteer_no: str) -> Volunteer | None:
    return session.scalar(
        select(Volunteer).where(Volunteer.volunteer_no == volunteer_no.strip().upper())
    )


# Registration's two checks in one statement (each an index probe): the active volunteer with
# this openid (kind 1), the volunteer with this ID number (kind 2); the full row is loaded only
# for a claim.
_FOUND = (
    Volunteer.id,
    Volunteer.openid,
    # Volunteer.awaiting_claim
    and_(Volunteer.imported_at.is_not(None), Volunteer.consented_at.is_(None)).label(
        "awaiting_claim"
    ),
)
_REGISTERED = union_all(
    select(literal(1).label("kind"), *_FOUND).where(
        Volunteer.openid == bindparam("openid"), Volunteer.status == ACTIVE
    ),
    select(literal(2).label("kind"), *_FOUND).where(
        Volunteer.id_number_hash == bindparam("id_hash")
    ),
)


def is_registered(session: Session, openid: str) -> bool:
    """Whether an active volunteer has this openid (reads one index, loads nothing)."""
    return session.scalar(_IS_REGISTERED, {"openid": openid}) is not None


_IS_REGISTERED = select(Volunteer.id).where(
    Volunteer.openid == bindparam("openid"), Volunteer.status == ACTIVE
)


def new_volunteer_no() -> str:
    # Public, random, and unrelated to the ID number: KJ + 10 digits.
    return "KJ" + "".join(secrets.choice("0123456789") for _ in range(10))


def _form_only(form: Mapping[str, Any]) -> Mapping[str, Any]:
    unknown = set(form) - Volunteer.form_columns()
    if unknown:
        raise ValueError(f"not form columns: {sorted(unknown)}")
    return form


def register(
    session: Session, *, openid: str, card: IdCard, form: Mapping[str, Any], pii: PiiCipher
) -> Volunteer:
    """Insert a volunteer with the form's answers (column → value); raises AlreadyRegistered or
    DuplicateIdNumber (after which the session must be rolled back). Flushes, no commit."""
    form = _form_only(form)
    id_hash = pii.blind_index(card.number, context=ID_CONTEXT)
    found = session.execute(_REGISTERED, {"openid": openid, "id_hash": id_hash}).all()
    if any(row.kind == 1 for row in found):
        raise AlreadyRegistered
    if found:
        row = found[0]
        if row.awaiting_claim and row.openid is None:
            existing = session.get(Volunteer, row.id)
            if existing is not None:
                return claim(session, existing, openid=openid, form=form)
        raise DuplicateIdNumber
    now = utcnow()
    volunteer = Volunteer(
        volunteer_no=new_volunteer_no(),
        openid=openid,
        status=ACTIVE,
        id_number_cipher=pii.encrypt(card.number, context=ID_CONTEXT),
        id_number_hash=id_hash,
        id_number_masked=mask_id_number(card.number),
        gender=card.gender,
        birth_date=card.birth_date,
        consent_version=CONSENT_VERSION,
        consented_at=now,
        **form,
    )
    session.add(volunteer)
    try:
        # No savepoint: a failed INSERT leaves the caller only a rollback (registration ends).
        session.flush()
    except IntegrityError as exc:
        # Lost a race: the same ID number (or, very rarely, the same random number) at once.
        if "id_number_hash" in str(exc.orig):
            raise DuplicateIdNumber from None
        if "openid" in str(exc.orig):
            raise AlreadyRegistered from None
        raise
    return volunteer


def claim(
    session: Session, volunteer: Volunteer, *, openid: str, form: Mapping[str, Any]
) -> Volunteer:
    """An imported volunteer registers in chat with the same ID number: the record becomes
    theirs, with the consent they just gave and the answers they just confirmed."""
    now = utcnow()
    volunteer.openid = openid
    volunteer.consent_version = CONSENT_VERSION
    volunteer.consented_at = now
    volunteer.updated_at = now
    for column, value in form.items():
        setattr(volunteer, column, value)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise AlreadyRegistered from None
    return volunteer


def update(session: Session, volunteer: Volunteer, changes: Mapping[str, Any]) -> None:
    for column, value in _form_only(changes).items():
        setattr(volunteer, column, value)
    if "prefecture_code" in changes and "county_code" not in changes:
        volunteer.county_code = None
    volunteer.updated_at = utcnow()


def change_settings(session: Session, volunteer: Volunteer, changes: Mapping[str, bool]) -> None:
    """The volunteer's own settings (Volunteer.SETTING_COLUMNS), such as skills_visible."""
    unknown = set(changes) - Volunteer.SETTING_COLUMNS
    if unknown:
        raise ValueError(f"not setting columns: {sorted(unknown)}")
    for column, value in changes.items():
        setattr(volunteer, column, bool(value))
    if changes:
        volunteer.updated_at = utcnow()


def deregister(session: Session, volunteer: Volunteer) -> None:
    """Delete personal data (PIPL art. 47); keep the row's number and dates for records."""
    teams.leave_all(session, volunteer.id)
    certificates.forget_holder(session, volunteer.id)
    for column in Volunteer.personal_columns():
        setattr(volunteer, column, None)
    volunteer.status = DEREGISTERED
    volunteer.deregistered_at = utcnow()


def region_text(prefecture_code: str | None, county_code: str | None) -> str:
    if county_code:
        return regions.label(county_code)
    if prefecture_code:
        return regions.label(prefecture_code)
    return "（未填写）"
