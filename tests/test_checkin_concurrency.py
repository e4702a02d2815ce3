"""Walk-ins at the same moment: the activity's row lock keeps them within the places left."""

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
    activity_id = add_activity(mariadb, organiser_team(mariadb), capacity=3)
    signed, *walkers = add_volunteers(mariadb, 9)
    sign_up(app, signed, activity_id)  # 1 of 3 places taken: 2 left for 8 walk-ins
    codes = checkin_codes(app, activity_id, walk_ins=True)
    start = threading.Barrier(len(walkers))
    outcomes: list[str] = []
    lock = threading.Lock()

    def walk_in(openid: str) -> None:
        start.wait(5)
        try:
            with mariadb.Session.begin() as session:
                volunteer = volunteers.find_by_openid(session, openid)
                assert volunteer is not None
                attendance.check_in(
                    session, session.merge(codes), volunteer, METHOD_QR, clock.utcnow()
                )
            outcome = "in"
        except attendance.CheckinRefused as refused:
            outcome = refused.hint
        with lock:
            outcomes.append(outcome)

    threads = [threading.Thread(target=walk_in, args=(openid,)) for openid in walkers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert outcomes.count("in") == 2
    assert sum("名额已满" in outcome for outcome in outcomes) == 6
    with mariadb.Session() as session:
        count = session.scalar(
            select(func.count()).select_from(Attendance).where(Attendance.walk_in.is_(True))
        )
    assert count == 2
