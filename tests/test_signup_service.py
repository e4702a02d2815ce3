"""The sign-up model and service: places, the waiting list, promotion, one live sign-up per
volunteer (held by the database), and the quota under a storm of simultaneous sign-ups."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError

from domain.clock import utcnow
from infra.db import Database
from models.activity import FULL, RECRUITING, SIGNED_UP, WAITLISTED, Activity, Signup
from models.volunteer import Volunteer
from services import signups
from tests.test_console_support import add_activity, add_team, add_volunteers


def volunteer_ids(db: Database, openids: list[str]) -> list[int]:
    with db.Session() as session:
        by_openid = dict(
            session.execute(
                select(Volunteer.openid, Volunteer.id).where(Volunteer.openid.in_(openids))
            ).all()
        )
    return [by_openid[openid] for openid in openids]


def set_capacity(db: Database, activity_id: int, capacity: int | None) -> None:
    with db.Session.begin() as session:
        activity = session.get(Activity, activity_id)
        assert activity is not None
        activity.capacity = capacity


def sign_up(db: Database, activity_id: int, volunteer_id: int, *, waitlist: bool = False) -> str:
    try:
        with db.Session.begin() as session:
            result = signups.sign_up(session, activity_id, volunteer_id, waitlist=waitlist)
            return result.signup.status
    except signups.SignupRefused as refused:
        return refused.hint


def cancel(db: Database, activity_id: int, volunteer_id: int) -> int | None:
    with db.Session.begin() as session:
        result = signups.cancel(session, activity_id, volunteer_id)
        return result.promoted.volunteer_id if result.promoted else None


def activity_status(db: Database, activity_id: int) -> str:
    with db.Session() as session:
        activity = session.get(Activity, activity_id)
        assert activity is not None
        return activity.status


def test_places_then_waiting_list_then_promotion(db: Database) -> None:
    activity = add_activity(db, add_team(db, "甘肃省科普作家协会科技志愿服务队"))
    set_capacity(db, activity, 2)
    a, b, c, d = volunteer_ids(db, add_volunteers(db, 4))

    assert sign_up(db, activity, a) == SIGNED_UP
    assert sign_up(db, activity, a) == SIGNED_UP  # asking twice changes nothing
    assert sign_up(db, activity, b) == SIGNED_UP
    assert activity_status(db, activity) == FULL
    assert "已报满" in sign_up(db, activity, c)
    assert sign_up(db, activity, c, waitlist=True) == WAITLISTED
    assert sign_up(db, activity, d, waitlist=True) == WAITLISTED

    assert cancel(db, activity, a) == c  # the first on the waiting list gets the place
    assert activity_status(db, activity) == FULL
    with db.Session() as session:
        live = signups.of_activity(session, activity)
        assert [(s.volunteer_id, s.status) for s in live] == [
            (b, SIGNED_UP),
            (c, SIGNED_UP),
            (d, WAITLISTED),
        ]
        assert signups.waiting_rank(session, live[2]) == 1

    assert cancel(db, activity, d) is None  # leaving the waiting list frees no place
    assert cancel(db, activity, b) is None  # nobody waits any more
    assert activity_status(db, activity) == RECRUITING
    assert sign_up(db, activity, a) == SIGNED_UP  # a second, new sign-up after cancelling


def test_one_live_signup_per_volunteer_is_a_database_rule(db: Database) -> None:
    activity = add_activity(db, add_team(db, "甘肃省科普作家协会科技志愿服务队"))
    (volunteer,) = volunteer_ids(db, add_volunteers(db, 1))
    assert sign_up(db, activity, volunteer) == SIGNED_UP
    with pytest.raises(IntegrityError), db.Session.begin() as session:
        session.add(Signup(activity_id=activity, volunteer_id=volunteer, status=WAITLISTED))
    cancel(db, activity, volunteer)
    with db.Session.begin() as session:  # cancelled rows do not count
        session.add(Signup(activity_id=activity, volunteer_id=volunteer, status=SIGNED_UP))


def test_refusals_say_why(db: Database) -> None:
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    activity = add_activity(db, team)
    (volunteer,) = volunteer_ids(db, add_volunteers(db, 1, skills=("农业技术",)))
    with db.Session.begin() as session:
        found = session.get(Activity, activity)
        assert found is not None
        found.required_skills = ["医疗卫生", "科学普及"]
    assert "医疗卫生、科学普及" in sign_up(db, activity, volunteer)
    with db.Session.begin() as session:
        found = session.get(Activity, activity)
        assert found is not None
        found.required_skills = None
        found.required_region_code = "620500"
    assert "天水市" in sign_up(db, activity, volunteer)
    with db.Session.begin() as session:
        found = session.get(Activity, activity)
        assert found is not None
        found.required_region_code = None
        found.signup_deadline = utcnow() - timedelta(minutes=1)
    assert "报名已于" in sign_up(db, activity, volunteer)
    draft = add_activity(db, team, status="draft")
    assert "已开始或已结束" in sign_up(db, draft, volunteer)


def test_storm_keeps_the_quota_and_the_arrival_order(db: Database) -> None:
    """100 volunteers at once for 10 places: exactly 10 signed up, 90 waiting, numbered 1-90
    in the order they got the activity's lock."""
    if db.engine.dialect.name != "mysql":
        pytest.skip("needs MariaDB: SQLite serialises writers for us")
    activity = add_activity(db, add_team(db, "甘肃省科普作家协会科技志愿服务队"))
    set_capacity(db, activity, 10)
    ids = volunteer_ids(db, add_volunteers(db, 100))
    start = threading.Barrier(len(ids))
    outcomes: dict[int, str] = {}

    def run(volunteer_id: int) -> None:
        start.wait(10)
        outcomes[volunteer_id] = sign_up(db, activity, volunteer_id, waitlist=True)

    threads = [threading.Thread(target=run, args=(v,)) for v in ids]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    assert sorted(outcomes.values()).count(SIGNED_UP) == 10
    assert sorted(outcomes.values()).count(WAITLISTED) == 90
    with db.Session() as session:
        rows = session.scalars(select(Signup).where(Signup.activity_id == activity)).all()
        waiting = sorted((s for s in rows if s.status == WAITLISTED), key=lambda s: s.id)
        # Rows are inserted under the lock, so insertion order is arrival order.
        assert [s.waitlist_position for s in waiting] == list(range(1, 91))
        assert max(s.id for s in rows if s.status == SIGNED_UP) < waiting[0].id
    assert activity_status(db, activity) == FULL


def test_storms_on_neighbouring_activities_do_not_deadlock(db: Database) -> None:
    """Sign-ups for several activities at once: each holds only its activity's row lock, and the
    reads under it take no gap locks that would reach into the neighbour's index range (those
    deadlocked two activities' inserts on each other before)."""
    if db.engine.dialect.name != "mysql":
        pytest.skip("needs MariaDB: SQLite serialises writers for us")
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    activities = [add_activity(db, team, title=f"活动{n}") for n in range(6)]
    for activity in activities:
        set_capacity(db, activity, 5)
    ids = volunteer_ids(db, add_volunteers(db, 60))
    start = threading.Barrier(len(ids))
    outcomes: list[str] = []

    def run(n: int, volunteer_id: int) -> None:
        start.wait(10)
        outcomes.append(sign_up(db, activities[n % 6], volunteer_id, waitlist=True))

    threads = [threading.Thread(target=run, args=(n, v)) for n, v in enumerate(ids)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(outcomes) == sorted([SIGNED_UP] * 30 + [WAITLISTED] * 30)
    with db.Session() as session:
        for activity in activities:
            live = signups.of_activity(session, activity)
            assert [s.status for s in live] == [SIGNED_UP] * 5 + [WAITLISTED] * 5
            assert [s.waitlist_position for s in live[5:]] == [1, 2, 3, 4, 5]
