"""The volunteer list's count and page order at a million volunteers.

- Filtered by a skill alone (within the operator's region): counted from the skill rows
  (`VolunteerSkill`, which mirror each volunteer's region and whether they are `matchable`:
  active and registered in chat) instead of a skill probe and a volunteer row per volunteer.
  The rows of matchable volunteers are counted in the (skill, matchable, visible, region)
  index alone; only the others (imported volunteers without an openid, de-registered ones)
  are joined to their volunteer for the status.
- Filtered by registration dates: the page is ordered by (registration time, id), which the
  (status, created_at) and (status, prefecture_code, created_at) indexes give for the range.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import fields
from typing import Any

from sqlalchemy import ColumnElement, false, func, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from models.volunteer import ACTIVE, Volunteer, VolunteerSkill
from services import paging
from services.operators import Scope
from services.reports_lists import VolunteerFilters

# Filters the skill-row count can take along with the skill.
_WITH_SKILL = frozenset({"skill", "region"})


def count(
    session: Session,
    scope: Scope,
    filters: VolunteerFilters,
    conditions: Sequence[ColumnElement[bool]],
) -> int:
    """The number of volunteers matching `conditions` (volunteer_conditions(scope, filters))."""
    used = {f.name for f in fields(filters) if getattr(filters, f.name)}
    if filters.skill and used <= _WITH_SKILL:
        return skill_count(session, scope.narrow(filters.region or None), filters.skill)
    return paging.count(session, Volunteer.id, conditions)


def skill_count(session: Session, region: Scope, skill: str) -> int:
    """Active volunteers in `region` with `skill`, from the skill rows: a row is `matchable`
    only for an active volunteer, so those rows need no volunteer; the rest are checked.
    `visible IN (true, false)` names the index's third column so that MariaDB reads only the
    region's entries of (skill, matchable, visible, region), not the whole province's."""
    rows = VolunteerSkill
    in_region = (
        rows.visible.in_((True, False)),
        region.where(rows.prefecture_code, rows.county_code),
    )
    matchable = session.scalar(
        select(func.count())
        .select_from(rows)
        .where(rows.skill == skill, rows.matchable == true(), *in_region)
    )
    others = session.scalar(
        select(func.count())
        .select_from(rows)
        .join(Volunteer, Volunteer.id == rows.volunteer_id)
        .where(
            rows.skill == skill,
            rows.matchable == false(),
            *in_region,  # the rows mirror their volunteer's region
            Volunteer.status == ACTIVE,
            region.where(Volunteer.prefecture_code, Volunteer.county_code),
        )
    )
    return int(matchable or 0) + int(others or 0)


def first_by(filters: VolunteerFilters) -> InstrumentedAttribute[Any] | None:
    """The page's leading sort column besides the id: registration time for a date range."""
    return Volunteer.created_at if filters.since or filters.until else None
