"""Recognition (表彰) shortlists: candidates an operator picked for a year, with a note, and
when the 公示 was published."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from models.base import Base, BigId, Created, IntPk


class Recognition(Base):
    """One shortlisted candidate: a volunteer, team, project or service point of a year.

    `subject` identifies the candidate within its kind (a volunteer or team id, "team:title"
    for a project, "county:place" for a service point); `figures` keeps the year's numbers as
    they were when shortlisted, so the 公示 shows what was decided on."""

    __tablename__ = "recognitions"
    __table_args__ = (UniqueConstraint("year", "kind", "subject"),)

    id: Mapped[IntPk]
    year: Mapped[int] = mapped_column(Integer, index=True)
    kind: Mapped[str] = mapped_column(String(12))
    subject: Mapped[str] = mapped_column(String(160))
    name: Mapped[str] = mapped_column(String(160))
    region_code: Mapped[str | None] = mapped_column(String(12))
    volunteer_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("volunteers.id"))
    team_id: Mapped[int | None] = mapped_column(BigId, ForeignKey("teams.id"))
    figures: Mapped[dict[str, Any]] = mapped_column(JSON)
    note: Mapped[str | None] = mapped_column(String(255))
    shortlisted_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[Created]
    published_at: Mapped[datetime | None] = mapped_column(DateTime)
    notified_at: Mapped[datetime | None] = mapped_column(DateTime)
