"""Service certificates (志愿服务证明): issued from confirmed records, frozen, verifiable.

A certificate's content (masked personal data only), its SHA-256 digest and the PDF are stored
when it is issued and never changed; a newer certificate of the same volunteer supersedes the
older ones (the verify page then says so).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
from dataclasses import dataclass
from datetime import date
from typing import Any

from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from domain import clock
from domain.hours import format_hours
from models.certificate import Certificate
from models.volunteer import Volunteer
from services import attendance_records, certificates_pdf

__all__ = [
    "CODE_ALPHABET",
    "Verification",
    "by_code",
    "forget_holder",
    "issue",
    "mask_name",
    "normalise_code",
    "pdf_of",
    "pdf_url",
    "verify",
    "verify_url",
]

# Crockford's base32 without I, L, O, U: 16 characters are 80 random bits.
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
CODE_LENGTH = 16
ALL_RECORDS = "全部记录"


def new_code() -> str:
    return "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))


def normalise_code(text: str) -> str | None:
    """A code as typed or scanned (dashes, spaces, lower case) or None if it cannot be one."""
    code = re.sub(r"[\s\-]", "", text).upper()
    if len(code) != CODE_LENGTH or any(ch not in CODE_ALPHABET for ch in code):
        return None
    return code


def verify_url(base_url: str, code: str) -> str:
    return f"{base_url}/verify/{code}"


def pdf_url(base_url: str, code: str) -> str:
    return f"{base_url}/verify/{code}.pdf"


def digest(content: dict[str, Any]) -> str:
    canonical = json.dumps(content, ensure_ascii=False, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def mask_name(name: str) -> str:
    """「张*」, 「欧阳**」 keeps the first character; public pages show names only this way."""
    return name[:1] + "*" * max(len(name) - 1, 1)


def period_text(period_from: date | None, period_to: date | None) -> str:
    if period_from is None and period_to is None:
        return ALL_RECORDS
    start = period_from.isoformat() if period_from else "最早记录"
    end = period_to.isoformat() if period_to else clock.beijing_date().isoformat()
    return f"{start} 至 {end}"


def build_content(
    session: Session,
    volunteer: Volunteer,
    *,
    code: str,
    issuer: str,
    period_from: date | None,
    period_to: date | None,
) -> dict[str, Any]:
    records = attendance_records.confirmed_records(
        session, volunteer.id, period_from=period_from, period_to=period_to
    )
    total = sum((record.hours for record in records), start=attendance_records.ZERO)
    return {
        "version": 1,
        "code": code,
        "name": volunteer.name or "",
        "id_number_masked": volunteer.id_number_masked or "",
        "volunteer_no": volunteer.volunteer_no,
        "period": period_text(period_from, period_to),
        "records": [
            {
                "date": record.service_date.isoformat(),
                "title": record.activity_title,
                "place": record.place,
                "content": record.content,
                "organiser": record.organiser,
                "recorder": record.recorder,
                "evaluation": record.evaluation or "",
                "hours": format_hours(record.hours),
            }
            for record in records
        ],
        "activity_count": len(records),
        "total_hours": format_hours(total),
        "issuer": issuer,
        "issued_on": clock.beijing_date().isoformat(),
    }


def issue(
    session: Session,
    volunteer: Volunteer,
    *,
    issuer: str,
    base_url: str,
    period_from: date | None = None,
    period_to: date | None = None,
) -> Certificate:
    """Issue a certificate for the volunteer's confirmed records (all, or within the dates)
    and supersede their earlier ones."""
    code = new_code()
    content = build_content(
        session,
        volunteer,
        code=code,
        issuer=issuer,
        period_from=period_from,
        period_to=period_to,
    )
    now = clock.utcnow()
    certificate = Certificate(
        code=code,
        volunteer_id=volunteer.id,
        period_from=period_from,
        period_to=period_to,
        content=content,
        content_sha256=digest(content),
        issued_at=now,
    )
    session.add(certificate)
    session.flush()
    session.execute(
        update(Certificate)
        .where(
            Certificate.volunteer_id == volunteer.id,
            Certificate.id != certificate.id,
            Certificate.superseded_by_id.is_(None),
        )
        .values(superseded_by_id=certificate.id, superseded_at=now)
    )
    return certificate


def pdf_of(session: Session, code: str, *, base_url: str, font_path: str) -> bytes | None:
    """The certificate's PDF, drawn from its frozen content on first request and kept; None
    for an unknown code or a certificate whose content no longer matches its digest."""
    certificate = by_code(session, code)
    if certificate is None or digest(certificate.content) != certificate.content_sha256:
        return None
    if certificate.pdf is None:
        pdf = certificates_pdf.render(
            certificate.content, verify_url(base_url, certificate.code), font_path
        )
        # Two first downloads at once draw the same PDF; the first one written is kept.
        session.execute(
            update(Certificate)
            .where(Certificate.id == certificate.id, Certificate.pdf.is_(None))
            .values(pdf=pdf)
        )
        session.refresh(certificate, ["pdf"])
    return certificate.pdf


def forget_holder(session: Session, volunteer_id: int) -> int:
    """Delete a de-registered volunteer's certificates (they carry the name; PIPL art. 47).
    Their verify pages then say 未找到. Returns how many were deleted."""
    ids = list(
        session.scalars(select(Certificate.id).where(Certificate.volunteer_id == volunteer_id))
    )
    if not ids:
        return 0
    # A certificate points at the one that superseded it: unlink before deleting.
    session.execute(
        update(Certificate).where(Certificate.id.in_(ids)).values(superseded_by_id=None)
    )
    session.execute(delete(Certificate).where(Certificate.id.in_(ids)))
    return len(ids)


def by_code(session: Session, code: str) -> Certificate | None:
    normalised = normalise_code(code)
    if normalised is None:
        return None
    return session.scalar(select(Certificate).where(Certificate.code == normalised))


GENUINE = "genuine"
SUPERSEDED = "superseded"
TAMPERED = "tampered"
UNKNOWN = "unknown"


@dataclass(frozen=True)
class Verification:
    state: str
    content: dict[str, Any] | None = None
    issued_at: str = ""
    superseded_at: str = ""

    @property
    def genuine(self) -> bool:
        return self.state in (GENUINE, SUPERSEDED)

    @property
    def public_content(self) -> dict[str, Any] | None:
        """What the public page shows: the name masked as well."""
        if self.content is None:
            return None
        return {**self.content, "name": mask_name(str(self.content.get("name") or ""))}


def verify(session: Session, code: str) -> Verification:
    certificate = by_code(session, code)
    if certificate is None:
        return Verification(UNKNOWN)
    if digest(certificate.content) != certificate.content_sha256:
        return Verification(TAMPERED)
    state = SUPERSEDED if certificate.superseded_by_id else GENUINE
    return Verification(
        state,
        certificate.content,
        issued_at=clock.show(certificate.issued_at),
        superseded_at=clock.show(certificate.superseded_at),
    )
