"""需求大厅: published needs, the volunteer's own region and skills first, newest next."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case, select
from sqlalchemy.orm import Session

from models.need import PUBLISHED, Need
from models.volunteer import Volunteer

__all__ = ["Viewer", "hall_page", "viewer_of"]

PAGE_SIZE = 5


@dataclass(frozen=True)
class Viewer:
    """Whose hall it is: where they live and what they can do (all empty for a non-volunteer)."""

    prefecture_code: str | None = None
    county_code: str | None = None
    skills: tuple[str, ...] = ()


def viewer_of(volunteer: Volunteer | None) -> Viewer:
    if volunteer is None:
        return Viewer()
    return Viewer(volunteer.prefecture_code, volunteer.county_code, tuple(volunteer.skills or ()))


def hall_page(session: Session, viewer: Viewer, page: int, size: int = PAGE_SIZE) -> list[Need]:
    """Page `page` (from 1) of published needs; one extra row tells whether more follow."""
    place = case(
        (Need.county_code == (viewer.county_code or ""), 0),
        (Need.prefecture_code == (viewer.prefecture_code or ""), 1),
        else_=2,
    )
    skill = case((Need.field.in_(viewer.skills or ("",)), 0), else_=1)
    rows: Sequence[Need] = session.scalars(
        select(Need)
        .where(Need.status == PUBLISHED)
        .order_by(place, skill, Need.published_at.desc(), Need.id.desc())
        .offset((page - 1) * size)
        .limit(size + 1)
    ).all()
    return list(rows)
