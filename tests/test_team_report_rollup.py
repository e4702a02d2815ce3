"""The team 统计's rollup (models.team_report, `report_team_joins`) equals the live aggregation
of the memberships after each kind of write: joining (directly, by request and approval, in
two teams of one tree), leaving, a profile edit (education, skills), de-registration, a team
moved under another parent, ORM bulk INSERT/UPDATE/DELETE of memberships; and the team page's
activity and hour figures equal the base tables after activities are held, cancelled and
hours confirmed and changed. Each team's figures count only that team and the teams below it."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from domain import team_names
from infra.db import Database
from models.activity import CANCELLED, Activity
from models.service import RECORD_CONFIRMED, ServiceRecord
from models.team import MEMBERSHIP_JOINED, MEMBERSHIP_PENDING, Membership, Team
from models.volunteer import ACTIVE, Volunteer
from services import attendance_records, reports, reports_team, team_console, teams, volunteers
from services import reports_rollups as rollups
from services.reports import Filters, beijing_month
from tests.test_console_support import add_activity
from tests.test_reports_rollups import assert_exact, new_volunteer
from tests.test_team_support import add_team

RANGES = (("", ""), ("2026-02-01", ""), ("", "2026-01-31"), ("2025-03-15", "2026-02-10"))


def live(session: Session, team_id: int, since: str, until: str) -> tuple[Any, ...]:
    """The figures by their definition: the memberships of the team and the teams below it,
    each member once at their first join, active volunteers, education and skill rows."""
    team_ids = team_console.team_and_below(session, team_id)
    filters = Filters.for_teams(team_ids, since, until)
    joins = reports.team_joins(team_ids)
    month = beijing_month(session, joins.c.joined_at)
    months: dict[str, int] = defaultdict(int)
    education: dict[str, int] = defaultdict(int)
    for m, level, n in session.execute(
        select(month, Volunteer.education, func.count())
        .select_from(joins)
        .join(Volunteer, Volunteer.id == joins.c.volunteer_id)
        .where(Volunteer.status == ACTIVE, *filters.dates(joins.c.joined_at))
        .group_by(month, Volunteer.education)
    ).all():
        months[m] += n
        education[level or ""] += n
    skills = rollups.member_counts(session, filters, "skill")
    return dict(months), dict(education), skills


def kept(session: Session, team_id: int, since: str, until: str) -> tuple[Any, ...]:
    filters = Filters.for_teams(frozenset({team_id}), since, until)
    months, education = rollups.team_members(session, team_id, filters)
    return months, education, rollups.team_skills(session, team_id, filters)


def assert_figures(db: Database) -> None:
    """For every team and several date ranges, the rollup's figures equal the live ones; the
    rollup equals a rebuild from the base tables."""
    assert_exact(db)
    with db.Session() as session:
        for team_id in session.scalars(select(Team.id)):
            below = team_console.team_and_below(session, team_id)
            for since, until in RANGES:
                assert kept(session, team_id, since, until) == live(
                    session, team_id, since, until
                ), (team_id, since, until)
                # The member list behind the figures: counted from the rollup, as from rows.
                for extra in ({}, {"education": "大专"}, {"skill": "农业技术"}):
                    wanted = reports_team.ListFilters(since=since, until=until, **extra)
                    counted = reports_team.member_page(session, below, wanted, root=team_id)
                    rows = reports_team.member_page(session, below, wanted)
                    assert counted.total == rows.total, (team_id, since, until, extra)


def under(db: Database, team_id: int, parent_id: int) -> None:
    """Put a team under another (as teams.approve and 属地管理 re-parent teams)."""
    with db.Session.begin() as session:
        team = session.get(Team, team_id)
        assert team is not None
        team.parent_id = parent_id


def joined(db: Database, team_id: int, volunteer_id: int, at: datetime) -> None:
    with db.Session.begin() as session:
        session.add(
            Membership(
                team_id=team_id, volunteer_id=volunteer_id, status=MEMBERSHIP_JOINED,
                created_at=at - timedelta(days=2), decided_at=at,
            )
        )  # fmt: skip


def test_member_writes_keep_the_team_rollup_equal_to_the_memberships(
    app: Flask, db: Database
) -> None:
    city = add_team(
        db, "兰州市科技志愿服务队", kind=team_names.PREFECTURE, prefecture_code="620100"
    )
    sub = add_team(db, "兰州市农学会科技志愿服务队", prefecture_code="620100")
    small = add_team(db, "兰州市农学会科技志愿服务队一分队", prefecture_code="620100")
    other = add_team(
        db, "天水市科技志愿服务队", kind=team_names.PREFECTURE, prefecture_code="620500"
    )
    with db.Session.begin() as session:
        people = [
            new_volunteer("620102", education=e, skills=s)
            for e, s in (("本科", ["科学普及"]), ("大专", ["农业技术", "信息技术"]), (None, []))
        ] + [new_volunteer("620502") for _ in range(3)]
        session.add_all(people)
    ids = [p.id for p in people]
    under(db, sub.id, city.id)
    under(db, small.id, sub.id)
    assert_figures(db)

    # Joined: 17:00 UTC on 31 January is 1 February in Beijing.
    joined(db, sub.id, ids[0], datetime(2026, 1, 31, 17, 0))
    joined(db, small.id, ids[1], datetime(2025, 6, 1, 3, 0))
    joined(db, city.id, ids[1], datetime(2026, 1, 5, 3, 0))  # the second team in the same tree
    joined(db, other.id, ids[1], datetime(2026, 1, 6, 3, 0))
    assert_figures(db)
    with db.Session() as session:
        months, _e, _s = kept(session, city.id, "", "")
        assert months == {"2026-02": 1, "2025-06": 1}  # ids[1] once, at the first join
        assert kept(session, other.id, "", "")[0] == {"2026-01": 1}

    # A request, approved; a request turned into a membership by an admin; auto-approval.
    with db.Session.begin() as session:
        team = session.get(Team, small.id)
        volunteer = session.get(Volunteer, ids[2])
        assert team is not None and volunteer is not None
        request = teams.join(session, team, volunteer)
        assert request.status == MEMBERSHIP_PENDING
    with db.Session.begin() as session:
        teams.approve_member(session, request.id)
        teams.make_member(session, other.id, ids[3])
    assert_figures(db)

    # Leaving the first team of the tree: the member now counts from the later join.
    with db.Session.begin() as session:
        teams.leave(session, small.id, ids[1])
    assert_figures(db)
    with db.Session() as session:
        assert kept(session, city.id, "", "")[0]["2026-01"] >= 1

    # A profile edit (education, skills) and a de-registration.
    with db.Session.begin() as session:
        volunteer = session.get(Volunteer, ids[0])
        assert volunteer is not None
        volunteers.update(session, volunteer, {"education": "博士研究生", "skills": ["医疗卫生"]})
    assert_figures(db)
    with db.Session.begin() as session:
        volunteer = session.get(Volunteer, ids[2])
        assert volunteer is not None
        volunteers.deregister(session, volunteer)
    assert_figures(db)

    # A team moved under another parent takes its members (and its sub-team's) with it.
    under(db, sub.id, other.id)
    assert_figures(db)
    with db.Session() as session:
        assert not kept(session, city.id, "", "")[0].get("2026-02")

    # ORM bulk statements: INSERT, UPDATE of the join dates and status, DELETE.
    with db.Session.begin() as session:
        session.execute(
            insert(Membership),
            [
                {"team_id": t, "volunteer_id": ids[4], "status": MEMBERSHIP_JOINED,
                 "created_at": datetime(2025, 3, 1), "decided_at": datetime(2025, 3, 14, 16, 30)}
                for t in (city.id, small.id)
            ],
        )  # fmt: skip
    assert_figures(db)
    with db.Session.begin() as session:
        session.execute(
            update(Membership)
            .where(Membership.volunteer_id.in_([ids[4], ids[0]]))
            .values(decided_at=datetime(2026, 2, 9, 16, 0))
        )
        session.execute(
            update(Membership)
            .where(Membership.volunteer_id == ids[3])
            .values(status=MEMBERSHIP_PENDING)
        )
        session.execute(update(Volunteer).where(Volunteer.id == ids[1]).values(education="中专"))
    assert_figures(db)
    with db.Session.begin() as session:
        session.execute(delete(Membership).where(Membership.volunteer_id == ids[4]))
        session.execute(update(Team).where(Team.id == sub.id).values(parent_id=city.id))
    assert_figures(db)
    with db.Session() as session:
        assert kept(session, city.id, "", "")[0].get("2026-02") == 1


def live_service(session: Session, team_ids: frozenset[int]) -> tuple[Any, ...]:
    activities: dict[str, int] = defaultdict(int)
    month = beijing_month(session, Activity.starts_at)
    for m, n in session.execute(
        select(month, func.count())
        .where(Activity.team_id.in_(team_ids), Activity.status.not_in(("draft", CANCELLED)))
        .group_by(month)
    ).all():
        activities[m] += n
    hours: dict[str, float] = defaultdict(float)
    for day, h in session.execute(
        select(ServiceRecord.service_date, ServiceRecord.hours)
        .join(Activity, Activity.id == ServiceRecord.activity_id)
        .where(Activity.team_id.in_(team_ids), ServiceRecord.status == RECORD_CONFIRMED)
    ).all():
        hours[day.strftime("%Y-%m")] += float(h)
    return dict(activities), {m: h for m, h in hours.items() if h}


def page_service(session: Session, team: Team) -> tuple[Any, ...]:
    team_ids = team_console.team_and_below(session, team.id)
    figures = {
        f.key: f
        for f in reports_team.team_figures(
            session, Filters.for_teams(team_ids), team, len(team_ids) > 1
        )
    }
    activities = {r.label: r.value for r in figures["activities_month"].rows}
    hours = {r.label: r.value for r in figures["hours_month"].rows}
    return activities, hours


def assert_service(db: Database, team_ids: list[int]) -> None:
    assert_exact(db)
    with db.Session() as session:
        for team_id in team_ids:
            team = session.get(Team, team_id)
            assert team is not None
            below = team_console.team_and_below(session, team_id)
            assert page_service(session, team) == live_service(session, below), team.name


def assert_hours_pages(db: Database, team_id: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """The hours list, a record a page, gives the rows of its export's query in order, with
    their count and sum."""
    monkeypatch.setattr(reports_team, "PAGE_SIZE", 1)
    with db.Session() as session:
        below = team_console.team_and_below(session, team_id)
        wanted = reports_team.ListFilters()
        every = session.execute(reports_team.hours_query(below, wanted)).all()
        first = reports_team.hours_page(session, below, wanted, 1)
        assert first.total == len(every) >= 2
        assert first.sum == float(sum(row[-1] for row in every))
        paged = [
            reports_team.hours_page(session, below, wanted, n) for n in range(1, 1 + len(every))
        ]
        assert [p.rows[0][1] for p in paged] == [row[2] for row in every]  # volunteer numbers
        assert [p.activity_ids[0] for p in paged] == [row[0] for row in every]


def test_activity_and_hours_writes_keep_the_team_figures_exact(
    app: Flask, db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    city = add_team(
        db, "兰州市科技志愿服务队", kind=team_names.PREFECTURE, prefecture_code="620100"
    )
    sub = add_team(db, "兰州市农学会科技志愿服务队", prefecture_code="620100")
    other = add_team(
        db, "天水市科技志愿服务队", kind=team_names.PREFECTURE, prefecture_code="620500"
    )
    every = [city.id, sub.id, other.id]
    under(db, sub.id, city.id)
    with db.Session.begin() as session:
        people = [new_volunteer("620102") for _ in range(3)]
        session.add_all(people)
    ids = [p.id for p in people]

    # Activities held by the sub-team and the other team; a draft does not count.
    held = add_activity(db, sub.id, starts_in=timedelta(days=-3))
    add_activity(db, other.id, starts_in=timedelta(days=-40))
    add_activity(db, city.id, starts_in=timedelta(days=2), status="draft")
    assert_service(db, every)

    # Hours confirmed, changed, taken away (absent).
    with db.Session.begin() as session:
        activity = session.get(Activity, held)
        assert activity is not None
        attendance_records.adjust(session, activity, ids[0], Decimal("2.5"), "提前离开", "组织者")
        attendance_records.adjust(session, activity, ids[1], Decimal("3.0"), "按实际", "组织者")
        attendance_records.adjust(session, activity, ids[2], Decimal("1.5"), "按实际", "组织者")
    assert_service(db, every)
    assert_hours_pages(db, city.id, monkeypatch)
    with db.Session.begin() as session:
        activity = session.get(Activity, held)
        assert activity is not None
        attendance_records.adjust(session, activity, ids[0], Decimal("4.0"), "补记", "组织者")
        attendance_records.mark_absent(session, activity, ids[1], "组织者")
    assert_service(db, every)
    with db.Session() as session:
        assert page_service(session, session.get(Team, city.id))[1]  # type: ignore[arg-type]
        assert not page_service(session, session.get(Team, other.id))[1]  # type: ignore[arg-type]

    # Cancelled: no longer held by the team (its confirmed hours still count).
    with db.Session.begin() as session:
        activity = session.get(Activity, held)
        assert activity is not None
        activity.status = CANCELLED
    assert_service(db, every)
