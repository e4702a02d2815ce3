"""Recognition candidates (表彰候选) of a year by the 中国科协 criteria (domain.recognition),
the operators' shortlist with notes, and its 公示.

Figures count the year's confirmed service records (service_date in the year) and the
activities held that year (published, not cancelled), within an operator's scope.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, object_session

from domain import clock, regions
from domain.errors import ValidationError
from domain.recognition import KIND_LABELS, POINT, PROJECT, TEAM, VOLUNTEER, Thresholds
from models.activity import CANCELLED, DRAFT, Activity
from models.base import utcnow
from models.need import Need
from models.recognition import Recognition
from models.report import ALL_TEAMS, TOTAL, ServiceCount, TeamMembers, VolunteerYear
from models.service import RECORD_CONFIRMED, ServiceRecord
from models.team import STATUS_APPROVED, Team
from models.volunteer import ACTIVE, Volunteer
from services.operators import Scope

LIMIT = 200


@dataclass(frozen=True)
class Candidate:
    kind: str
    subject: str
    name: str
    region_code: str | None
    figures: dict[str, Any]
    volunteer_id: int | None = None
    team_id: int | None = None

    @property
    def region(self) -> str:
        if not self.region_code:
            return "全省"
        try:
            return regions.label(self.region_code).removeprefix("甘肃省") or "全省"
        except KeyError:
            return self.region_code


def year_bounds(year: int) -> tuple[date, date]:
    if not 2000 <= year <= 2100:
        raise ValidationError("年份不正确。")
    return date(year, 1, 1), date(year, 12, 31)


def records_in(year: int, scope: Scope) -> list[ColumnElement[bool]]:
    first, last = year_bounds(year)
    return [
        ServiceRecord.status == RECORD_CONFIRMED,
        ServiceRecord.service_date >= first,
        ServiceRecord.service_date <= last,
        scope.where(Activity.prefecture_code, Activity.county_code),
    ]


def held_in(year: int) -> list[ColumnElement[bool]]:

    return [
        Activity.status.not_in((DRAFT, CANCELLED)),
        Activity.starts_at >= clock.from_beijing(datetime(year, 1, 1)),
        Activity.starts_at < clock.from_beijing(datetime(year + 1, 1, 1)),
    ]


def hours(value: Any) -> float:
    return round(float(value or 0), 1)


def volunteer_candidates(
    session: Session, year: int, scope: Scope, rules: Thresholds
) -> list[Candidate]:
    """From the rollup of each volunteer's year (models.report.VolunteerYear): those whose
    records in every region meet the thresholds (its TOTAL rows, an index range), then their
    records at activities in the scope. One record per activity and volunteer, so records are
    activities."""
    year_bounds(year)
    qualified = session.scalars(
        select(VolunteerYear.volunteer_id).where(
            VolunteerYear.year == year,
            VolunteerYear.prefecture_code == TOTAL,
            VolunteerYear.hours >= rules.volunteer_min_hours,
            VolunteerYear.records >= rules.volunteer_min_activities,
        )
    ).all()
    if not qualified:
        return []
    total = func.sum(VolunteerYear.hours)
    count = func.sum(VolunteerYear.records)
    found = session.execute(
        select(
            Volunteer.id,
            Volunteer.name,
            Volunteer.volunteer_no,
            Volunteer.county_code,
            Volunteer.prefecture_code,
            count,
            total,
        )
        .join(Volunteer, Volunteer.id == VolunteerYear.volunteer_id)
        .where(
            VolunteerYear.year == year,
            VolunteerYear.volunteer_id.in_(qualified),
            VolunteerYear.prefecture_code != TOTAL,
            scope.where(VolunteerYear.prefecture_code, VolunteerYear.county_code),
            Volunteer.status == ACTIVE,
        )
        .group_by(
            Volunteer.id,
            Volunteer.name,
            Volunteer.volunteer_no,
            Volunteer.county_code,
            Volunteer.prefecture_code,
        )
        .having(count >= rules.volunteer_min_activities, total >= rules.volunteer_min_hours)
        .order_by(total.desc(), Volunteer.id)
        .limit(LIMIT)
    ).all()
    return [
        Candidate(
            VOLUNTEER,
            str(vid),
            f"{name}（{no}）",
            county or pref,
            {"activities": int(n), "hours": hours(h)},
            volunteer_id=vid,
        )
        for vid, name, no, county, pref, n, h in found
        if rules.volunteer_qualifies(int(n), hours(h))
    ]


def team_candidates(
    session: Session, year: int, scope: Scope, rules: Thresholds
) -> list[Candidate]:
    """Activities held and hours served in the year from the rollup (models.report:
    ServiceCount's year rows of each team, every region); members counted only for the teams
    that already meet the activity and hour thresholds (TeamMembers)."""
    year_bounds(year)
    sums = session.execute(
        select(
            ServiceCount.team_id,
            func.sum(ServiceCount.activities),
            func.sum(ServiceCount.hours),
        )
        .where(
            ServiceCount.grain == "y",
            ServiceCount.day == date(year, 1, 1),
            ServiceCount.team_id != ALL_TEAMS,
        )
        .group_by(ServiceCount.team_id)
    ).all()
    held = {team: int(n) for team, n, _h in sums if n}
    served = {team: h for team, _n, h in sums}
    likely = [
        team
        for team, n in held.items()
        if n >= rules.team_min_activities and hours(served.get(team)) >= rules.team_min_hours
    ]
    teams = session.scalars(
        select(Team).where(
            Team.status == STATUS_APPROVED,
            Team.id.in_(likely),
            scope.where(Team.prefecture_code, Team.county_code),
        )
    ).all()
    members = dict(
        session.execute(
            select(TeamMembers.team_id, TeamMembers.members).where(
                TeamMembers.team_id.in_([team.id for team in teams])
            )
        ).all()
    )
    found = []
    for team in teams:
        people, count, total = (
            int(members.get(team.id, 0)),
            int(held[team.id]),
            hours(served.get(team.id)),
        )
        if rules.team_qualifies(people, count, total):
            found.append(
                Candidate(
                    TEAM,
                    str(team.id),
                    team.name,
                    team.county_code or team.prefecture_code,
                    {
                        "volunteers": people,
                        "activities": count,
                        "hours": total,
                        "average": round(total / people, 1),
                    },
                    team_id=team.id,
                )
            )
    return sorted(found, key=lambda c: -c.figures["hours"])


def project_candidates(
    session: Session, year: int, scope: Scope, rules: Thresholds
) -> list[Candidate]:
    """One team's recurring activity (the same title), by activities held and people served,
    with the feedback of the needs it served (Need.satisfaction of needs linked to them)."""
    # Grouped from the activities alone (ix_activities_held, index-only), then the few groups
    # that qualify joined to their teams.
    count = func.count(Activity.id)
    projects = (
        select(Activity.team_id, Activity.title, count.label("n"))
        .where(
            *held_in(year),
            scope.where(Activity.prefecture_code, Activity.county_code),
            Activity.team_id.is_not(None),
        )
        .group_by(Activity.team_id, Activity.title)
        .having(count >= rules.project_min_activities)
        .subquery("projects")
    )
    found = session.execute(
        select(Team.id, Team.name, projects.c.title, Team.prefecture_code, projects.c.n)
        .join(Team, Team.id == projects.c.team_id)
        .order_by(projects.c.n.desc())
        .limit(LIMIT)
    ).all()
    result = []
    for team_id, team_name, title, pref, n in found:
        served = session.execute(
            select(func.count(ServiceRecord.id), func.sum(ServiceRecord.hours))
            .join(Activity, Activity.id == ServiceRecord.activity_id)
            .where(*records_in(year, scope), Activity.team_id == team_id, Activity.title == title)
        ).one()
        rated = session.execute(
            select(func.count(Need.satisfaction), func.avg(Need.satisfaction))
            .join(Activity, Activity.id == Need.activity_id)
            .where(*held_in(year), Activity.team_id == team_id, Activity.title == title)
        ).one()
        feedback: dict[str, Any] = {"feedbacks": int(rated[0])}
        if rated[0]:
            feedback["satisfaction"] = round(float(rated[1]), 1)
        result.append(
            Candidate(
                PROJECT,
                f"{team_id}:{title}"[:160],
                f"{team_name}「{title}」",
                pref,
                {
                    "activities": int(n),
                    "people": int(served[0]),
                    "hours": hours(served[1]),
                    **feedback,
                },
                team_id=team_id,
            )
        )
    return sorted(result, key=lambda c: (-c.figures["activities"], -c.figures["people"]))


def candidates(
    session: Session, year: int, scope: Scope, rules: Thresholds
) -> dict[str, list[Candidate]]:
    # Service points (communities, villages) come from needs and their feedback: their own module.
    from services.recognition_points import point_candidates

    return {
        VOLUNTEER: volunteer_candidates(session, year, scope, rules),
        TEAM: team_candidates(session, year, scope, rules),
        PROJECT: project_candidates(session, year, scope, rules),
        POINT: point_candidates(session, year, scope, rules),
    }


# -- the shortlist ---------------------------------------------------------------------------


def shortlist(
    session: Session, year: int, candidate: Candidate, note: str, actor: str
) -> Recognition:
    """Add a candidate to the year's shortlist (ValidationError when already there)."""
    entry = Recognition(
        year=year, kind=candidate.kind, subject=candidate.subject, name=candidate.name[:160],
        region_code=candidate.region_code, volunteer_id=candidate.volunteer_id,
        team_id=candidate.team_id, figures=candidate.figures, note=note.strip()[:255] or None,
        shortlisted_by=actor[:64],
    )  # fmt: skip
    session.add(entry)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        raise ValidationError("该候选已在入选名单中。") from None
    return entry


def shortlisted(session: Session, year: int, scope: Scope | None = None) -> Sequence[Recognition]:
    query = select(Recognition).where(Recognition.year == year)
    entries = session.scalars(query.order_by(Recognition.kind, Recognition.id)).all()
    if scope is None or scope.is_province:
        return entries
    return [e for e in entries if _in_scope(scope, e.region_code)]


def _in_scope(scope: Scope, code: str | None) -> bool:
    division = regions.get(code or "")
    if division is None:
        return False
    if division.level == "county":
        return scope.allows(division.parent_code, division.code)
    return scope.allows(division.code, None)


def remove(session: Session, year: int, entry_id: int, scope: Scope) -> Recognition:
    entry = session.get(Recognition, entry_id)
    if (
        entry is None
        or entry.year != year
        or not (scope.is_province or _in_scope(scope, entry.region_code))
    ):
        raise ValidationError("没有找到该入选记录。")
    if entry.published_at is not None:
        raise ValidationError("已公示的名单不能再修改。")
    session.delete(entry)
    return entry


def publish(session: Session, year: int) -> list[Recognition]:
    """Publish the year's shortlist (the 公示 page shows it from now on); returns what was
    newly published."""
    now = utcnow()
    entries = [e for e in shortlisted(session, year) if e.published_at is None]
    for entry in entries:
        entry.published_at = now
    return entries


def published(session: Session, year: int) -> list[Recognition]:
    return [e for e in shortlisted(session, year) if e.published_at is not None]


def honour_lines(volunteer: Volunteer) -> list[str]:
    """我的信息: the volunteer's published recognitions, one line each."""
    session = object_session(volunteer)
    if session is None:
        return []
    years = session.scalars(
        select(Recognition.year)
        .where(Recognition.volunteer_id == volunteer.id, Recognition.published_at.is_not(None))
        .order_by(Recognition.year.desc())
    ).all()
    return [f"荣誉：{year}年度{KIND_LABELS[VOLUNTEER]}（公示）" for year in years]


def announcement(year: int, public_url: str) -> str:
    return (
        f"恭喜！您已入选{year}年度{KIND_LABELS[VOLUNTEER]}公示名单。"
        f"公示页面：{public_url}\n感谢您的志愿付出！回复「我的信息」可查看。"
    )


def volunteers_to_tell(session: Session, entry_ids: list[int]) -> list[tuple[int, str]]:
    """(entry id, openid) of recognised volunteers who follow the account."""
    return [
        (entry_id, openid)
        for entry_id, openid in session.execute(
            select(Recognition.id, Volunteer.openid)
            .join(Volunteer, Volunteer.id == Recognition.volunteer_id)
            .where(Recognition.id.in_(entry_ids), Volunteer.openid.is_not(None))
        ).all()
        if openid
    ]


def mark_told(session: Session, entry_id: int) -> None:
    entry = session.get(Recognition, entry_id)
    if entry is not None:
        entry.notified_at = utcnow()


FIGURE_LABELS = (
    ("volunteers", "队员{}人"),
    ("activities", "活动{}场"),
    ("people", "参与{}人次"),
    ("hours", "服务时长{}小时"),
    ("average", "人均{}小时"),
    ("feedback", "反馈：{}"),
    ("feedbacks", "评价{}条"),
    ("satisfaction", "平均满意度{}分"),
)


def describe(figures: dict[str, Any]) -> str:
    """The year's figures in one line: 活动12场，服务时长30.5小时."""
    return "，".join(text.format(figures[key]) for key, text in FIGURE_LABELS if key in figures)
