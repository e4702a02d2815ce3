"""Walk-ins at the same moment, at two activities: the activity's row lock keeps each within
the places left, and check-ins at different activities do not deadlock each other."""

from __future__ import annotations

import threading

import pytest
from flask import Flask
from sqlalchemy import func, select

from domain import clock
from infra.db import Database
from models.service import METHOD_QR, Attendance
from services import attendance, volunteers
from tests.service_steps import add_activity, checkin_codes, organiser_team, sign_up
from tests.test_console_support import add_volunteers


@pytest.fixture
def mariadb(db: Database) -> Database:
    if db.engine.dialect.name != "mysql":
        pytest.skip("needs MariaDB: SQLite serialises writers anyway")
    return db


def test_simultaneous_walk_ins_take_only_the_places_left(app: Flask, mariadb: Database) -> None:
    team_id = organiser_team(mariadb)
    activities = [add_activity(mariadb, team_id, title=f"活动{n}", capacity=3) for n in (1, 2)]
    people = add_volunteers(mariadb, 18)
    plan: list[tuple[int, str]] = []
    for activity_id, group in zip(activities, (people[:9], people[9:]), strict=True):
        sign_up(app, group[0], activity_id)  # 1 of 3 places taken: 2 left for 8 walk-ins
        checkin_codes(app, activity_id, walk_ins=True)
        plan += [(activity_id, openid) for openid in group[1:]]
    start = threading.Barrier(len(plan))
    outcomes: list[tuple[int, str]] = []
    lock = threading.Lock()

    def walk_in(activity_id: int, openid: str) -> None:
        codes = checkin_codes(app, activity_id)
        start.wait(10)
        try:
            with mariadb.Session.begin() as session:
                attendance.lock(session, activity_id)  # the first statement, as the handler
                volunteer = volunteers.find_by_openid(session, openid)
                assert volunteer is not None
                attendance.check_in(
                    session, session.merge(codes), volunteer, METHOD_QR, clock.utcnow()
                )
            outcome = "in"
        except attendance.CheckinRefused as refused:
            outcome = refused.hint
        except Exception as error:  # a deadlock (1213) would land here
            outcome = f"error: {error}"
        with lock:
            outcomes.append((activity_id, outcome))

    threads = [threading.Thread(target=walk_in, args=item) for item in plan]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not [o for _, o in outcomes if o.startswith("error")]
    for activity_id in activities:
        mine = [o for a, o in outcomes if a == activity_id]
        assert mine.count("in") == 2
        assert sum("名额已满" in o for o in mine) == 6
    with mariadb.Session() as session:
        count = session.scalar(
            select(func.count()).select_from(Attendance).where(Attendance.walk_in.is_(True))
        )
    assert count == 4
