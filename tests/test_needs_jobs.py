"""The needs sweep as an RQ job, run by a real worker with RQ's scheduler (`flask worker --burst
--with-scheduler`): a claim schedules a sweep at its activity's end; a worker started with the
scheduler sweeps at once and schedules the next hourly sweep; a second run tells nobody again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from rq import Queue
from sqlalchemy import update

from config import Settings
from domain import clock
from extensions import services_of
from infra.db import Database
from models.activity import Activity
from models.need import DONE, Need
from sandbox.fake_wechat import TEMPLATE_NEED_PROGRESS, FakeWeChatState
from tests.activity_support import templates
from tests.conftest import base_settings
from tests.needs_claim_support import (
    POSTER,
    User,
    admin_of_team,
    claim_in_chat,
    need_row,
    published_need,
)
from tests.test_activity_changes import scheduling_worker
from tests.test_console_support import add_operator
from tests.test_notices_worker import finish, worker_env
from worker.needs_jobs import next_slot


@pytest.fixture
def settings(migrated: str, fake_wechat_url: str) -> Settings:
    return base_settings(
        migrated,
        wechat_api_base_url=fake_wechat_url,
        need_progress_template_id=TEMPLATE_NEED_PROGRESS,
    )


@pytest.fixture(autouse=True)
def real_servers(settings: Settings) -> None:
    if settings.redis_url is None or settings.database_is_embedded:
        pytest.skip("worker processes need a Redis server and MariaDB (none reachable)")


def test_the_worker_completes_ended_claims_and_flags_stale_needs_once(
    app: Flask, db: Database, make_user: User, settings: Settings, fake_wechat: FakeWeChatState
) -> None:
    need_no = published_need(db)
    stale_no = published_need(db, requester_name="榆中县某村", field="农业技术")
    admin, _team = admin_of_team(app, make_user, "甘肃省农学会科技志愿服务队")
    claim_in_chat(admin, need_no)
    assert "已为" in admin.say("确认")
    need = need_row(db, need_no)

    services = services_of(app)
    scheduled = Queue(
        services.keys.notice_queue(), connection=services.redis
    ).scheduled_job_registry
    with db.Session() as session:
        activity = session.get(Activity, need.activity_id)
        assert activity is not None
        ends_at = activity.ends_at
    at_end = [job for job in scheduled.get_job_ids() if job.startswith("needs-sweep-activity-")]
    assert at_end == [
        f"needs-sweep-activity-{activity.id}-{int(ends_at.replace(tzinfo=UTC).timestamp())}"
    ]
    assert scheduled.get_scheduled_time(at_end[0]) == ends_at.replace(tzinfo=UTC)

    # The activity is over and the other need has waited 15 days.
    now = clock.utcnow()
    with db.Session.begin() as session:
        session.execute(
            update(Activity)
            .where(Activity.id == need.activity_id)
            .values(starts_at=now - timedelta(hours=3), ends_at=now - timedelta(hours=1))
        )
        session.execute(
            update(Need)
            .where(Need.need_no == stale_no)
            .values(published_at=now - timedelta(days=15))
        )
    operator = "oOpLanzhou00000000000000001"
    add_operator(db, "oplanzhou", "region:620100", openid=operator)

    env = {**worker_env(settings), "NEED_PROGRESS_TEMPLATE_ID": TEMPLATE_NEED_PROGRESS}
    with scheduling_worker(env) as run:
        output = finish(run)
    assert "needs sweep" in output
    assert need_row(db, need_no).status == DONE
    asked = [t for t in templates(fake_wechat, POSTER) if t["data"]["phrase3"] == "已完成"]
    assert len(asked) == 1 and asked[0]["data"]["character_string2"] == need_no
    (flag,) = templates(fake_wechat, operator)
    assert flag["data"]["character_string2"] == stale_no
    # The next hourly sweep waits in RQ's scheduler, at the start of the coming hour.
    hourly = [job for job in scheduled.get_job_ids() if job.removeprefix("needs-sweep-").isdigit()]
    assert len(hourly) == 1
    when = scheduled.get_scheduled_time(hourly[0])
    assert when == next_slot(when.replace(tzinfo=None) - timedelta(seconds=1)).replace(tzinfo=UTC)
    assert when <= datetime.now(UTC) + timedelta(hours=1)

    with scheduling_worker(env) as run:
        finish(run)
    assert len(templates(fake_wechat, operator)) == 1
    assert len([t for t in templates(fake_wechat, POSTER) if t["data"]["phrase3"] == "已完成"]) == 1
