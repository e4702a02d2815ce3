"""Suggestions for a published need: teams and volunteers ranked by facts that can be checked,
each suggestion carrying the facts that matched (its explanation), never a bare score.

Volunteers: skill (the need's field among their skills) outweighs place (same 县区, then same
市州, then the province, then 省外); then availability (可服务时间 against the need's dates),
then confirmed service hours of the last year. Only volunteers who agreed to show their skills
to teams (`Volunteer.skills_visible`) are named; the others who match are only counted.

Teams: a team paired (结对) with the need's 县区 first; then members with the skill, place, and
activities held in the last half year.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, false, func, or_, select, true
from sqlalchemy.orm import Session

from domain import clock, regions
from models.activity import CANCELLED, DRAFT, Activity
from models.need import Need, Pairing
from models.service import RECORD_CONFIRMED, ServiceRecord
from models.team import MEMBERSHIP_JOINED, STATUS_APPROVED, Membership, Team
from models.volunteer import Volunteer, VolunteerSkill

__all__ = ["Suggestion", "Suggestions", "matched_volunteer_ids", "needed_times", "suggest"]

SKILL_POINTS = 4
PLACE_POINTS = {"county": 3, "prefecture": 2, "province": 1, "outside": 0}
PLACE_LABELS = {"county": "同县区", "prefecture": "同市州", "province": "省内", "outside": "省外"}
TIME_POINTS = 1
ACTIVE_POINTS = 1
PAIRED_POINTS = 10
CANDIDATES = 200
SHOWN = 20
# Teams of a big group counted in the first query (then twice as many each time).
CHUNK = 2 * SHOWN
HOURS_WINDOW_DAYS = 365
ACTIVITY_WINDOW_DAYS = 182
ANY_TIME = "不定期"


@dataclass
class Suggestion:
    kind: str  # "volunteer" or "team"
    id: int
    name: str
    score: int
    reasons: list[str] = field(default_factory=list)
    hours: Decimal = Decimal(0)


@dataclass
class Suggestions:
    volunteers: list[Suggestion]
    teams: list[Suggestion]
    # Volunteers who match but did not agree to be named.
    unnamed: int


def needed_times(need: Need) -> set[str]:
    """The 可服务时间 options that fit the need's dates (every option for 长期)."""
    if need.starts_on is None or need.ends_on is None:
        return {"工作日白天", "工作日晚上", "周末", "节假日"}
    wanted: set[str] = set()
    day: date = need.starts_on
    while day <= need.ends_on and len(wanted) < 3:
        wanted |= {"周末"} if day.weekday() >= 5 else {"工作日白天", "工作日晚上"}
        day += timedelta(days=1)
    return wanted


def _place(need: Need, prefecture: str | None, county: str | None) -> str:
    if county and county == need.county_code:
        return "county"
    if prefecture and prefecture == need.prefecture_code:
        return "prefecture"
    if prefecture and prefecture != regions.OUTSIDE_GANSU:
        return "province"
    return "outside"


def _tiers(need: Need) -> list[ColumnElement[bool]]:
    """Conditions on a volunteer's mirrored region (VolunteerSkill), one per place from the
    nearest (same 县区, same 市州, the province, 省外 or unknown), each excluding the ones before:
    the candidates are read tier by tier in id order, each tier from the (skill, region) index."""
    rows = VolunteerSkill
    county = need.county_code or ""
    not_county = or_(rows.county_code.is_(None), rows.county_code != county)
    not_prefecture = or_(
        rows.prefecture_code.is_(None), rows.prefecture_code != need.prefecture_code
    )
    return [
        rows.county_code == county,
        and_(rows.prefecture_code == need.prefecture_code, not_county),
        and_(
            rows.prefecture_code.is_not(None),
            rows.prefecture_code != regions.OUTSIDE_GANSU,
            not_county,
            not_prefecture,
        ),
        and_(
            or_(rows.prefecture_code.is_(None), rows.prefecture_code == regions.OUTSIDE_GANSU),
            not_county,
            not_prefecture,
        ),
    ]


def _matching(need: Need, *, named: bool) -> list[ColumnElement[bool]]:
    """Skill rows of matchable volunteers (active, registered in chat) with the need's field,
    named (`visible`) or not: equalities on the leading columns of the skill rows' indexes
    (`= true`, not `IS true`, which MariaDB cannot look up)."""
    return [
        VolunteerSkill.skill == need.field,
        VolunteerSkill.matchable == true(),
        VolunteerSkill.visible == (true() if named else false()),
    ]


def _candidates(session: Session, need: Need) -> list[Any]:
    """The first CANDIDATES named volunteers by place, then by id."""
    columns = (
        Volunteer.id,
        Volunteer.name,
        Volunteer.prefecture_code,
        Volunteer.county_code,
        Volunteer.service_times,
    )
    found: list[Any] = []
    for tier in _tiers(need):
        if len(found) >= CANDIDATES:
            break
        found += session.execute(
            select(*columns)
            .select_from(VolunteerSkill)
            .join(Volunteer, Volunteer.id == VolunteerSkill.volunteer_id)
            .where(*_matching(need, named=True), tier)
            .order_by(VolunteerSkill.volunteer_id)
            .limit(CANDIDATES - len(found))
        ).all()
    return found


def _hours_by_volunteer(session: Session, ids: list[int], since: date) -> dict[int, Decimal]:
    if not ids:
        return {}
    rows = session.execute(
        select(ServiceRecord.volunteer_id, func.sum(ServiceRecord.hours))
        .where(
            ServiceRecord.volunteer_id.in_(ids),
            ServiceRecord.status == RECORD_CONFIRMED,
            ServiceRecord.service_date >= since,
        )
        .group_by(ServiceRecord.volunteer_id)
    ).all()
    return {int(vid): Decimal(total or 0) for vid, total in rows}


def suggest_volunteers(session: Session, need: Need, now: datetime) -> tuple[list[Suggestion], int]:
    rows = _candidates(session, need)
    unnamed = int(
        session.scalar(
            select(func.count()).select_from(VolunteerSkill).where(*_matching(need, named=False))
        )
        or 0
    )
    since = clock.beijing_date(now) - timedelta(days=HOURS_WINDOW_DAYS)
    hours = _hours_by_volunteer(session, [row.id for row in rows], since)
    wanted = needed_times(need)
    found: list[Suggestion] = []
    for row in rows:
        where = _place(need, row.prefecture_code, row.county_code)
        suggestion = Suggestion(
            "volunteer",
            row.id,
            row.name or "",
            SKILL_POINTS + PLACE_POINTS[where],
            [f"技能相符：{need.field}", f"地区：{PLACE_LABELS[where]}"],
        )
        times = set(row.service_times or ())
        fitting = sorted(times & wanted) or ([ANY_TIME] if ANY_TIME in times else [])
        if fitting:
            suggestion.score += TIME_POINTS
            suggestion.reasons.append("可服务时间：" + "、".join(fitting))
        served = hours.get(row.id, Decimal(0))
        if served > 0:
            suggestion.score += ACTIVE_POINTS
            suggestion.hours = served
            suggestion.reasons.append(f"近一年服务 {served.normalize():f} 小时")
        found.append(suggestion)
    found.sort(key=lambda s: (-s.score, -s.hours, s.id))
    return found[:SHOWN], unnamed


def paired_team_ids(session: Session, county_code: str | None) -> set[int]:
    if not county_code:
        return set()
    return set(
        session.scalars(select(Pairing.team_id).where(Pairing.county_code == county_code)).all()
    )


def _members(session: Session, team_ids: list[int], field: str | None = None) -> dict[int, int]:
    """Joined members of these teams, by team; with `field`, only those with that skill (each
    member probed in the skill rows' primary key)."""
    query = select(Membership.team_id, func.count()).where(
        Membership.team_id.in_(team_ids), Membership.status == MEMBERSHIP_JOINED
    )
    if field is not None:
        query = query.join(
            VolunteerSkill,
            and_(
                VolunteerSkill.volunteer_id == Membership.volunteer_id,
                VolunteerSkill.skill == field,
            ),
        )
    rows = session.execute(query.group_by(Membership.team_id)).all()
    return {int(team_id): int(count) for team_id, count in rows}


def _sort_key(suggestion: Suggestion) -> tuple[Any, ...]:
    return (-suggestion.score, -suggestion.hours, suggestion.id)


def _shown_key(found: list[Suggestion]) -> tuple[Any, ...]:
    """The sort key of the last of the SHOWN best found so far (none yet: after every key)."""
    if len(found) < SHOWN:
        return (math.inf,)
    return sorted(map(_sort_key, found))[SHOWN - 1]


def _recent_activities(session: Session, now: datetime) -> dict[int, int]:
    """Activities held in the last half year, by team."""
    rows = session.execute(
        select(Activity.team_id, func.count())
        .where(
            Activity.starts_at >= now - timedelta(days=ACTIVITY_WINDOW_DAYS),
            Activity.status.not_in((DRAFT, CANCELLED)),
            Activity.team_id.is_not(None),
        )
        .group_by(Activity.team_id)
    ).all()
    return {team_id: int(count) for team_id, count in rows if team_id is not None}


def _team_suggestion(
    need: Need, row: Any, paired: bool, members: int, activities: int
) -> Suggestion:
    where = _place(need, row.prefecture_code, row.county_code)
    suggestion = Suggestion("team", row.id, row.name, PLACE_POINTS[where], [])
    if paired:
        suggestion.score += PAIRED_POINTS
        suggestion.reasons.append("与需求所在县区结对")
    if members:
        suggestion.score += SKILL_POINTS
        suggestion.reasons.append(f"{members} 名队员具备「{need.field}」技能")
    suggestion.reasons.append(f"地区：{PLACE_LABELS[where]}")
    if activities:
        suggestion.score += ACTIVE_POINTS
        suggestion.reasons.append(f"近半年组织活动 {activities} 次")
    suggestion.hours = Decimal(members)
    return suggestion


def suggest_teams(session: Session, need: Need, now: datetime) -> list[Suggestion]:
    """Approved teams with members who have the skill, or paired with the need's 县区.

    Counting every team's skilled members would probe the skill rows once per membership of
    the province; instead the teams are taken in groups of equal best possible score (as if
    they had such members), the best group first, and counted group by group until no later
    group can reach the SHOWN best found (ties included: members break them). A group of more
    than CHUNK teams is taken by joined members, the most first (skilled members are no more
    than that), in chunks of CHUNK teams, each twice the last (few round trips when nothing can
    be skipped), while its next team could still reach the SHOWN best."""
    paired = paired_team_ids(session, need.county_code)
    recent = _recent_activities(session, now)
    teams = session.execute(
        select(Team.id, Team.name, Team.prefecture_code, Team.county_code).where(
            Team.status == STATUS_APPROVED
        )
    ).all()
    groups: dict[int, list[Any]] = {}
    for row in teams:
        best = (
            SKILL_POINTS
            + PLACE_POINTS[_place(need, row.prefecture_code, row.county_code)]
            + (PAIRED_POINTS if row.id in paired else 0)
            + (ACTIVE_POINTS if recent.get(row.id) else 0)
        )
        groups.setdefault(best, []).append(row)
    found: list[Suggestion] = []
    for best in sorted(groups, reverse=True):
        if _shown_key(found) < (-best,):
            break
        group, totals = groups[best], None
        if len(group) > CHUNK:
            # A big group: its teams by joined members (skilled ones are no more), the most
            # first, counted a chunk at a time (each twice the last) while the next of them
            # can still make the twenty.
            totals = _members(session, [row.id for row in group])
            group = sorted(
                (row for row in group if totals.get(row.id) or row.id in paired),
                key=lambda row: (-totals.get(row.id, 0), row.id),  # type: ignore[union-attr]
            )
        start, size = 0, CHUNK
        while start < len(group):
            first = group[start]
            if totals is not None and _shown_key(found) < (
                -best,
                -totals.get(first.id, 0),
                first.id,
            ):
                break
            chunk = group[start : start + size]
            start, size = start + size, size * 2
            members = _members(session, [row.id for row in chunk], need.field)
            for row in chunk:
                if members.get(row.id) or row.id in paired:
                    found.append(
                        _team_suggestion(
                            need,
                            row,
                            row.id in paired,
                            members.get(row.id, 0),
                            recent.get(row.id, 0),
                        )
                    )
    found.sort(key=_sort_key)
    return found[:SHOWN]


def suggest(session: Session, need: Need, now: datetime | None = None) -> Suggestions:
    now = now or clock.utcnow()
    volunteers, unnamed = suggest_volunteers(session, need, now)
    return Suggestions(volunteers, suggest_teams(session, need, now), unnamed)


def matched_volunteer_ids(session: Session, need: Need) -> Select[int]:
    """The ids of the volunteers a notice about the need goes to (「通知这些志愿者」): those who
    match it and agreed to show their skills to teams, the ones the suggestions name. A query,
    not a list: the notice pipeline counts it and inserts its recipient rows from it in the
    database (services.notices.audience), so no row is loaded into memory."""
    return select(VolunteerSkill.volunteer_id).where(*_matching(need, named=True))
