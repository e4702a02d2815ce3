"""优秀科技志愿服务点 candidates: communities and villages served through 供需对接, by the
activities held for them and their feedback.

A service point is a requester of kind 社区 or 乡村 (Need.requester_kind), one per requester name
and 县区 (the same name in two 县区 is two places). Its year counts the activities linked to its
needs (Need.activity_id) that were held that year (published, not cancelled), the confirmed
hours served at them, and the requester's feedback on those needs (Need.satisfaction 1–5,
written after the activity): how many gave one, and the average. Thresholds are settings
(RECOGNITION_POINT_*; domain.recognition.Thresholds).
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import distinct, func, select
from sqlalchemy.orm import Session

from domain.recognition import POINT, Thresholds
from models.activity import Activity
from models.need import MERGED, Need
from models.service import ServiceRecord
from services.operators import Scope
from services.recognition import LIMIT, Candidate, held_in, hours, records_in

# The requester kinds that are places: 社区 (communities) and 乡村 (villages).
POINT_KINDS: tuple[str, ...] = ("社区", "乡村")


def _point_needs(year: int, scope: Scope) -> list[Any]:
    """Needs of communities and villages in the scope whose linked activity was held in the year."""
    return [
        Need.requester_kind.in_(POINT_KINDS),
        Need.status != MERGED,
        scope.where(Need.prefecture_code, Need.county_code),
        *held_in(year),
    ]


def _key(name: str, county: str | None, prefecture: str) -> tuple[str, str]:
    return name, county or prefecture


def point_candidates(
    session: Session, year: int, scope: Scope, rules: Thresholds
) -> list[Candidate]:
    """Service points meeting the thresholds, most activities (then best rated) first."""
    activities = func.count(distinct(Activity.id))
    feedbacks = func.count(Need.satisfaction)
    found = session.execute(
        select(
            Need.requester_name,
            Need.county_code,
            Need.prefecture_code,
            func.max(Need.requester_kind),
            activities,
            feedbacks,
            func.avg(Need.satisfaction),
        )
        .join(Activity, Activity.id == Need.activity_id)
        .where(*_point_needs(year, scope))
        .group_by(Need.requester_name, Need.county_code, Need.prefecture_code)
        .having(activities >= rules.point_min_activities, feedbacks >= rules.point_min_feedback)
        .order_by(activities.desc())
        .limit(LIMIT)
    ).all()
    served = _hours(session, year, scope)
    result = []
    for name, county, pref, kind, n, given, average in found:
        rating = round(float(average or 0), 1)
        if not rules.point_qualifies(int(n), int(given), rating):
            continue
        result.append(
            Candidate(
                POINT,
                f"{county or pref}:{name}"[:160],
                f"{name}（{kind}）",
                county or pref,
                {
                    "activities": int(n),
                    "hours": served.get(_key(name, county, pref), 0.0),
                    "feedbacks": int(given),
                    "satisfaction": rating,
                },
            )
        )
    return sorted(result, key=lambda c: (-c.figures["activities"], -c.figures["satisfaction"]))


def _hours(session: Session, year: int, scope: Scope) -> dict[tuple[str, str], float]:
    """Confirmed hours served at each point's activities in the year (an activity linked to two
    of a point's needs counts once)."""
    linked = (
        select(
            Need.requester_name.label("name"),
            Need.county_code.label("county"),
            Need.prefecture_code.label("prefecture"),
            Need.activity_id.label("activity_id"),
        )
        .join(Activity, Activity.id == Need.activity_id)
        .where(*_point_needs(year, scope))
        .distinct()
        .subquery()
    )
    rows = session.execute(
        select(linked.c.name, linked.c.county, linked.c.prefecture, func.sum(ServiceRecord.hours))
        .join(ServiceRecord, ServiceRecord.activity_id == linked.c.activity_id)
        .join(Activity, Activity.id == ServiceRecord.activity_id)
        .where(*records_in(year, Scope()))
        .group_by(linked.c.name, linked.c.county, linked.c.prefecture)
    ).all()
    return {_key(name, county, pref): hours(total) for name, county, pref, total in rows}
