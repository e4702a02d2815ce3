"""The quota under a storm, through the webhook: 100 volunteers send 「候补 N」 (a place if one is
left, else the waiting list) at the same moment for 10 places, each on their own thread and
connection; exactly 10 are signed up and 90 wait, numbered 1-90 in the order the activity's
row lock let them in."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

import pytest
from sqlalchemy import func, select

from infra.db import Database
from models.activity import FULL, SIGNED_UP, WAITLISTED, Activity, Signup
from tests.activity_support import change_activity
from tests.test_console_support import add_activity, add_team, add_volunteers
from tests.wechat_user import WeChatUser

USERS = 100
PLACES = 10


def signup_count(db: Database, activity_id: int) -> int:
    with db.Session() as session:
        return int(
            session.scalar(
                select(func.count()).select_from(Signup).where(Signup.activity_id == activity_id)
            )
            or 0
        )


def test_a_storm_of_signups_through_the_webhook_keeps_the_quota(
    make_user: Callable[..., WeChatUser], db: Database
) -> None:
    if db.engine.dialect.name != "mysql":
        pytest.skip("needs MariaDB: SQLite serialises writers for us")
    activity = add_activity(db, add_team(db, "甘肃省科普作家协会科技志愿服务队"))
    change_activity(db, activity, capacity=PLACES)
    users = [make_user(openid) for openid in add_volunteers(db, USERS)]
    start = threading.Barrier(USERS)
    statuses: list[int] = []

    def send(user: WeChatUser) -> None:
        start.wait(30)
        statuses.append(user.send_text(f"候补 {activity}").status)

    threads = [threading.Thread(target=send, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)

    assert statuses == [200] * USERS
    # A handler past the reply budget (4 s) goes on after the webhook answered; wait for all.
    deadline = time.monotonic() + 60
    while signup_count(db, activity) < USERS and time.monotonic() < deadline:
        time.sleep(0.2)
    with db.Session() as session:
        rows = session.scalars(
            select(Signup).where(Signup.activity_id == activity).order_by(Signup.id)
        ).all()
        found = session.get(Activity, activity)
        assert found is not None and found.status == FULL
    assert len(rows) == USERS  # everyone was answered once, nobody twice
    assert sum(s.status == SIGNED_UP for s in rows) == PLACES
    waiting = [s for s in rows if s.status == WAITLISTED]
    assert [s.waitlist_position for s in waiting] == list(range(1, USERS - PLACES + 1))
    assert max(s.id for s in rows if s.status == SIGNED_UP) < waiting[0].id
