"""What signed-up volunteers are told: a change of time or place and a cancellation from the
console (customer-service message within 48 hours, else the template), and the day-before
reminder run by a real RQ worker with RQ's scheduler (`flask worker --burst`)."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from rq import Queue
from sqlalchemy import select

from config import Settings
from domain import clock
from extensions import services_of
from infra.db import Database
from models.activity import Signup
from sandbox.fake_wechat import (
    TEMPLATE_ACTIVITY_CHANGE,
    TEMPLATE_ACTIVITY_REMINDER,
    FakeWeChatState,
)
from tests.activity_support import (
    PUBLIC,
    activity_settings,
    change_activity,
    last_seen_long_ago,
    soon,
    templates,
    texts,
)
from tests.test_activity_console import form
from tests.test_console_support import (
    add_activity,
    add_team,
    add_volunteers,
    csrf_token,
    province_client,  # noqa: F401  (fixture)
)
from tests.test_notices_worker import ROOT, finish, worker_env
from tests.wechat_user import WeChatUser
from worker.reminders import reminder_time

User = Callable[..., WeChatUser]


@pytest.fixture
def settings(migrated: str, fake_wechat_url: str) -> Settings:
    return activity_settings(migrated, fake_wechat_url)


def edit(client: FlaskClient, activity_id: int, team_id: int, **changes: Any) -> str:
    path = f"/console/activities/{activity_id}/edit"
    token = csrf_token(client, path)
    answer = client.post(
        path, data={"csrf_token": token, **form(team_id, **changes)}, follow_redirects=True
    )
    return str(answer.get_data(as_text=True))


def post_status(client: FlaskClient, activity_id: int, status: str, **extra: str) -> str:
    token = csrf_token(client, f"/console/activities/{activity_id}")
    answer = client.post(
        f"/console/activities/{activity_id}/status/{status}",
        data={"csrf_token": token, **extra},
        follow_redirects=True,
    )
    return str(answer.get_data(as_text=True))


def create_and_publish(client: FlaskClient, db: Database, team_id: int, **changes: Any) -> int:
    token = csrf_token(client, "/console/activities/new")
    answer = client.post(
        "/console/activities/new", data={"csrf_token": token, **form(team_id, **changes)}
    )
    assert answer.status_code == 302, answer.get_data(as_text=True)
    activity_id = int(answer.headers["Location"].rstrip("/").rsplit("/", 1)[-1])
    assert "活动已发布" in post_status(client, activity_id, "recruiting")
    return activity_id


def typed(hours_from_now: float) -> str:
    """A console form time (Beijing wall clock) `hours_from_now` ahead."""
    return f"{clock.to_beijing(soon(hours_from_now)):%Y-%m-%dT%H:%M}"


def test_time_and_place_changes_are_told_to_everyone_signed_up(
    province_client: FlaskClient,  # noqa: F811
    make_user: User,
    db: Database,
    fake_wechat: FakeWeChatState,
) -> None:
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    activity = create_and_publish(
        province_client, db, team, starts_at=typed(72), ends_at=typed(74), signup_deadline=""
    )
    recent, away, other = (make_user(o) for o in add_volunteers(db, 3))
    assert "报名成功" in recent.say(f"报名{activity}")
    assert "报名成功" in away.say(f"报名{activity}")
    last_seen_long_ago(db, away.openid)

    page = edit(
        province_client, activity, team, starts_at=typed(96), ends_at=typed(98), signup_deadline=""
    )
    assert "已通知报名的志愿者" in page
    (told,) = texts(fake_wechat, recent.openid)
    assert "有变动" in told and "时间改为" in told and f"取消报名{activity}" in told
    (template,) = templates(fake_wechat, away.openid)
    assert template["template_id"] == TEMPLATE_ACTIVITY_CHANGE
    assert template["data"]["thing2"].startswith("时间改为")
    assert template["url"] == f"{PUBLIC}/a/{activity}"
    assert fake_wechat.messages(other.openid) == []

    page = edit(
        province_client,
        activity,
        team,
        starts_at=typed(96),
        ends_at=typed(98),
        signup_deadline="",
        place="兰州市科技馆二楼报告厅",
    )
    assert "地点改为兰州市科技馆二楼报告厅" in texts(fake_wechat, recent.openid)[-1]
    # Editing the description alone tells nobody.
    before = len(fake_wechat.messages(recent.openid))
    edit(
        province_client,
        activity,
        team,
        starts_at=typed(96),
        ends_at=typed(98),
        signup_deadline="",
        place="兰州市科技馆二楼报告厅",
        description="新的简介。",
    )
    assert len(fake_wechat.messages(recent.openid)) == before


def test_cancelling_tells_everyone_and_cancels_their_signups(
    province_client: FlaskClient,  # noqa: F811
    make_user: User,
    db: Database,
    fake_wechat: FakeWeChatState,
) -> None:
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    activity = add_activity(db, team, title="果树修剪培训")
    change_activity(db, activity, capacity=1)
    signed, waiting = (make_user(o) for o in add_volunteers(db, 2))
    signed.say(f"报名{activity}")
    waiting.say(f"候补{activity}")
    last_seen_long_ago(db, waiting.openid)

    page = post_status(province_client, activity, "cancelled", reason="天气原因")
    assert "活动已取消" in page and "已通知报名的志愿者" in page
    (told,) = texts(fake_wechat, signed.openid)
    assert "「果树修剪培训」" in told and "已取消" in told and "原因：天气原因" in told
    (template,) = templates(fake_wechat, waiting.openid)
    assert template["data"]["thing2"] == "活动已取消"
    assert "已取消报名（活动已取消）" in signed.click("ACTIVITY_MINE")
    assert "该活动已取消" in signed.say(f"报名{activity}")


def test_a_bigger_quota_moves_the_waiting_list_up(
    province_client: FlaskClient,  # noqa: F811
    make_user: User,
    db: Database,
    fake_wechat: FakeWeChatState,
) -> None:
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    activity = create_and_publish(
        province_client,
        db,
        team,
        starts_at=typed(72),
        ends_at=typed(74),
        capacity="1",
        signup_deadline="",
    )
    first, second = (make_user(o) for o in add_volunteers(db, 2))
    first.say(f"报名{activity}")
    second.say(f"候补{activity}")
    edit(
        province_client,
        activity,
        team,
        starts_at=typed(72),
        ends_at=typed(74),
        capacity="2",
        signup_deadline="",
    )
    assert "递补" in texts(fake_wechat, second.openid)[-1]
    assert "已报名" in second.click("ACTIVITY_MINE")


@pytest.fixture
def real_servers(settings: Settings) -> None:
    if settings.redis_url is None or settings.database_is_embedded:
        pytest.skip("worker processes need a Redis server and MariaDB (none reachable)")


@contextmanager
def scheduling_worker(env: dict[str, str]) -> Iterator[subprocess.Popen[bytes]]:
    """`flask worker --burst --with-scheduler`: due scheduled jobs are queued, then run."""
    args = [sys.executable, "-m", "flask", "--app", "app", "worker", "--burst", "--with-scheduler"]
    process = subprocess.Popen(
        args, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def reminder_env(settings: Settings) -> dict[str, str]:
    env = worker_env(settings)
    env.update(
        PUBLIC_BASE_URL=PUBLIC,
        ACTIVITY_REMINDER_TEMPLATE_ID=TEMPLATE_ACTIVITY_REMINDER,
    )
    return env


def test_day_before_reminders_run_in_the_rq_worker(
    real_servers: None,
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    make_user: User,
    db: Database,
    settings: Settings,
    fake_wechat: FakeWeChatState,
) -> None:
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    # Published less than a day before it starts: its reminder is due at once.
    tomorrow = create_and_publish(
        province_client, db, team, starts_at=typed(20), ends_at=typed(22), signup_deadline=""
    )
    later = create_and_publish(
        province_client, db, team, starts_at=typed(72), ends_at=typed(74), signup_deadline=""
    )
    going, cancelled, waiting, later_user = (make_user(o) for o in add_volunteers(db, 4))
    going.say(f"报名{tomorrow}")
    cancelled.say(f"报名{tomorrow}")
    cancelled.say(f"取消报名{tomorrow}")
    later_user.say(f"报名{later}")
    change_activity(db, tomorrow, capacity=1)
    waiting.say(f"候补{tomorrow}")

    services = services_of(app)
    queue = Queue(services.keys.notice_queue(), connection=services.redis)
    scheduled = queue.scheduled_job_registry
    later_jobs = [job for job in scheduled.get_job_ids() if f"-{later}-" in job]
    assert len(later_jobs) == 1
    with db.Session() as session:
        from models.activity import Activity

        later_start = session.get(Activity, later).starts_at  # type: ignore[union-attr]
    assert scheduled.get_scheduled_time(later_jobs[0]) == reminder_time(later_start)

    with scheduling_worker(reminder_env(settings)) as run:
        output = finish(run)
    assert "reminders for activity" in output
    (reminder,) = templates(fake_wechat, going.openid)
    assert reminder["template_id"] == TEMPLATE_ACTIVITY_REMINDER
    assert reminder["data"]["thing1"] == "全国科普日·科学家进校园"
    assert reminder["url"] == f"{PUBLIC}/a/{tomorrow}"
    assert templates(fake_wechat, cancelled.openid) == []  # no reminder for a cancelled sign-up
    assert templates(fake_wechat, waiting.openid) == []  # nor for the waiting list
    assert templates(fake_wechat, later_user.openid) == []  # not due yet
    assert later_jobs[0] in scheduled.get_job_ids()

    with db.Session() as session:
        reminded = session.scalars(select(Signup).where(Signup.reminded_at.is_not(None))).all()
        assert len(reminded) == 1

    # Moving the later activity to tomorrow reschedules its reminder; the old job does nothing.
    edit(province_client, later, team, starts_at=typed(20), ends_at=typed(22), signup_deadline="")
    with scheduling_worker(reminder_env(settings)) as run:
        finish(run)
    assert len(templates(fake_wechat, later_user.openid)) == 1
    assert len(templates(fake_wechat, going.openid)) == 1  # reminded once only
