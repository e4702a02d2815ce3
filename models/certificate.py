"""Service certificates (志愿服务证明): frozen at issue, verifiable at /verify/<code>."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Date, DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.dialects.mysql import MEDIUMBLOB
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, IntPk

__all__ = ["Certificate", "PdfBlob"]

PdfBlob = LargeBinary().with_variant(MEDIUMBLOB(), "mysql", "mariadb")


class Certificate(Base):
    """An issued certificate. `content` is what it says (masked personal data only) and
    `content_sha256` its digest: the verify page recomputes the digest, so an edited row shows
    as not genuine. The PDF is drawn from the frozen content when it is first downloaded (so a
    chat request answers at once) and kept from then on. A newer certificate of the same
    volunteer supersedes this one."""

    __tablename__ = "certificates"

    id: Mapped[IntPk]
    code: Mapped[str] = mapped_column(String(20), unique=True)
    volunteer_id: Mapped[int] = mapped_column(BigId, ForeignKey("volunteers.id"), index=True)
    period_from: Mapped[date | None] = mapped_column(Date)
    period_to: Mapped[date | None] = mapped_column(Date)
    content: Mapped[dict[str, Any]] = mapped_column(JSON)
    content_sha256: Mapped[str] = mapped_column(String(64))
    pdf: Mapped[bytes | None] = mapped_column(PdfBlob, deferred=True)
    issued_at: Mapped[datetime] = mapped_column(DateTime)
    superseded_by_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("certificates.id"))
    superseded_at: Mapped[datetime | None] = mapped_column(DateTime)
