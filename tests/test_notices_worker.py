"""Real worker processes (`flask --app app worker`) against MariaDB, Redis and the fake WeChat
API: a worker killed with SIGKILL mid-run and another started (no duplicate, no gap), and two
workers sharing one rate limit."""

from __future__ import annotations

import bisect
import contextlib
import os
import signal
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import func, select, update

from config import Settings
from domain.clock import utcnow
from infra.db import Database
from models.notice import Notice, NoticeRecipient
from sandbox.fake_wechat import FakeWeChatState
from tests.test_console_support import add_volunteers, notice_queue, queue_notice  # noqa: F401
from tests.test_notices_send import SEND

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def real_servers(settings: Settings) -> None:
    if settings.redis_url is None or settings.database_is_embedded:
        pytest.skip("worker processes need a Redis server and MariaDB (none reachable)")


def worker_env(settings: Settings, **notice: Any) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("NOTICE_", "FLASK_"))}
    env.update(
        DATABASE_URL=settings.database_url,
        REDIS_URL=settings.redis_url or "",
        REDIS_PREFIX=settings.redis_prefix,
        WECHAT_TOKEN=settings.wechat_token,
        WECHAT_APP_ID=settings.wechat_app_id,
        WECHAT_APP_SECRET=settings.wechat_app_secret,
        WECHAT_API_BASE_URL=settings.wechat_api_base_url,
        SECRET_KEY=settings.secret_key,
        PII_ENCRYPTION_KEY=settings.pii_encryption_key,
        LOG_LEVEL="INFO",
    )
    env.update({f"NOTICE_{key.upper()}": str(value) for key, value in notice.items()})
    return env


@contextmanager
def worker(env: dict[str, str], *, burst: bool = False) -> Iterator[subprocess.Popen[bytes]]:
    args = [sys.executable, "-m", "flask", "--app", "app", "worker"] + (
        ["--burst"] if burst else []
    )
    # Its own process group: a worker forks RQ's scheduler, which outlives a SIGKILL of the
    # worker alone (a crash), and is stopped with the group afterwards.
    process = subprocess.Popen(
        args,
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        yield process
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=10)
        if process.stdout is not None:
            process.stdout.close()


def finish(process: subprocess.Popen[bytes], timeout: float = 60) -> str:
    output, _ = process.communicate(timeout=timeout)
    assert process.returncode == 0, output.decode(errors="replace")[-3000:]
    return output.decode(errors="replace")


def status_counts(db: Database, notice_id: int) -> Counter[str]:
    with db.Session() as session:
        found = session.execute(
            select(NoticeRecipient.status, func.count())
            .where(NoticeRecipient.notice_id == notice_id)
            .group_by(NoticeRecipient.status)
        ).all()
    return Counter({status: int(n) for status, n in found})


def wait_for(condition: Any, timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting")
        time.sleep(0.01)


def test_a_killed_worker_is_resumed_without_duplicate_or_gap(
    app: Flask,
    db: Database,
    settings: Settings,
    fake_wechat: FakeWeChatState,
    notice_queue: Any,  # noqa: F811
) -> None:
    openids = add_volunteers(db, 240)
    fake_wechat.slow(SEND, 0.02)  # requests are in flight when the worker dies
    env = worker_env(settings, sends_per_second=150, lease_seconds=2, batch_size=40)
    notice_id = queue_notice(app)

    def delivered() -> int:
        return sum(len(fake_wechat.messages(openid)) for openid in openids)

    with worker(env) as first:
        notice_queue.enqueue(notice_id, copies=1)
        # Kill it while some messages are delivered but not yet recorded as sent.
        wait_for(lambda: status_counts(db, notice_id)["sent"] >= 60)
        wait_for(lambda: delivered() > status_counts(db, notice_id)["sent"], timeout=10)
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    left = status_counts(db, notice_id)
    assert left["sending"] > 0 and left["sent"] < 240

    with worker(env, burst=True) as second:
        finish(second)

    per_user = Counter({openid: len(fake_wechat.messages(openid)) for openid in openids})
    assert per_user == Counter(dict.fromkeys(openids, 1))  # no duplicate, no gap
    assert status_counts(db, notice_id) == Counter({"sent": 240})
    # The rows the dead worker had sent but not recorded were sent again with the same
    # client_msg_id, and the fake (like WeChat) did not deliver them twice.
    assert len(fake_wechat.duplicates) >= 1
    with db.Session() as session:
        assert session.scalar(select(Notice.status).where(Notice.id == notice_id)) == "finished"


def test_two_workers_share_one_rate_limit_spread_evenly(
    app: Flask,
    db: Database,
    settings: Settings,
    fake_wechat: FakeWeChatState,
    notice_queue: Any,  # noqa: F811
) -> None:
    openids = add_volunteers(db, 80)
    env = worker_env(settings, sends_per_second=20, batch_size=10, send_threads=4)
    notice_id = queue_notice(app)
    notice_queue.enqueue(notice_id, copies=2)
    with worker(env, burst=True) as one, worker(env, burst=True) as two:
        outputs = [finish(one), finish(two)]
    for output in outputs:  # each worker ran a job of this notice
        assert f"notice {notice_id}" in output
    received = sorted(c.received for c in fake_wechat.calls_to(SEND))
    assert len(received) == 80
    # As the API sees them: the slots put at most 20 sends in any 1-s window at 20/s (paced at
    # 1/1.03 of it, a slot given up after 30 ms), +1 for a stamp a few µs after its deadline;
    # the fake stamps arrival, after the client's write and its own scheduling, which may move
    # one send into the next window: at most 22. Two
    # unshared limits would put about 40 in a second. The 80 sends span about 79 intervals of
    # 1/20 s (two unshared limits: about 2 s).
    assert busiest_second(received) <= 22
    assert received[-1] - received[0] >= 3.7
    per_user = Counter({openid: len(fake_wechat.messages(openid)) for openid in openids})
    assert per_user == Counter(dict.fromkeys(openids, 1))


def busiest_second(times: list[float]) -> int:
    """The most events in any half-open 1-s window [t, t + 1)."""
    return max(bisect.bisect_left(times, start + 1.0) - n for n, start in enumerate(times))


ROUNDS = 6


def test_workers_started_together_never_deadlock(
    app: Flask,
    db: Database,
    settings: Settings,
    fake_wechat: FakeWeChatState,
    notice_queue: Any,  # noqa: F811
) -> None:
    """Three workers, started at the same moment, each with a job of the same notice, small
    batches (many claims at once), repeated: no job fails (MariaDB 1213 used to cost a failed
    job, a 15-s pause and an RQ retry), every recipient gets exactly one message."""
    openids = add_volunteers(db, 150)
    env = worker_env(settings, sends_per_second=1000, batch_size=5, send_threads=4)
    for round_number in range(ROUNDS):
        notice_id = queue_notice(app)
        notice_queue.enqueue(notice_id, copies=3)
        started = time.monotonic()
        with (
            worker(env, burst=True) as one,
            worker(env, burst=True) as two,
            worker(env, burst=True) as three,
        ):
            outputs = [finish(p, timeout=90) for p in (one, two, three)]
        for output in outputs:
            assert "Deadlock" not in output and "job failed" not in output, output[-3000:]
        assert time.monotonic() - started < 40, f"round {round_number} was slow"
        assert status_counts(db, notice_id) == Counter({"sent": 150})
        per_user = Counter({openid: len(fake_wechat.messages(openid)) for openid in openids})
        assert per_user == Counter(dict.fromkeys(openids, round_number + 1)), round_number


def test_a_crash_resends_only_the_sends_in_flight(
    app: Flask,
    db: Database,
    settings: Settings,
    fake_wechat: FakeWeChatState,
    notice_queue: Any,  # noqa: F811
) -> None:
    """Outcomes are recorded as they come in: a worker killed in the middle of a batch of 100
    leaves at most its send threads' worth sent but unrecorded, which is all a takeover sends
    twice (WeChat, like the fake, drops the repeats by client_msg_id)."""
    threads = 4
    openids = add_volunteers(db, 300)
    fake_wechat.slow(SEND, 0.02)
    env = worker_env(
        settings, sends_per_second=1000, lease_seconds=2, batch_size=100, send_threads=threads
    )
    notice_id = queue_notice(app)

    def delivered() -> int:
        return sum(len(fake_wechat.messages(openid)) for openid in openids)

    with worker(env) as first:
        notice_queue.enqueue(notice_id, copies=1)
        wait_for(lambda: delivered() >= 150)  # halfway through the second batch
        first.send_signal(signal.SIGKILL)
        first.wait(timeout=10)
    assert status_counts(db, notice_id)["sent"] < 300

    with worker(env, burst=True) as second:
        finish(second)
    per_user = Counter({openid: len(fake_wechat.messages(openid)) for openid in openids})
    assert per_user == Counter(dict.fromkeys(openids, 1))
    assert status_counts(db, notice_id) == Counter({"sent": 300})
    assert len(fake_wechat.duplicates) <= 2 * threads


def test_a_worker_resumes_a_notice_paused_for_the_quota_when_its_time_comes(
    app: Flask,
    db: Database,
    settings: Settings,
    fake_wechat: FakeWeChatState,
    notice_queue: Any,  # noqa: F811
) -> None:
    openids = add_volunteers(db, 30)
    env = worker_env(settings, sends_per_second=1000, resume_check_seconds=1)
    notice_id = queue_notice(app)
    fake_wechat.fail(SEND, 45009, times=1)

    def status() -> tuple[str, datetime | None]:
        with db.Session() as session:
            notice = session.get(Notice, notice_id)
            assert notice is not None
            return notice.status, notice.resume_at

    with worker(env) as running:
        notice_queue.enqueue(notice_id, copies=1)
        wait_for(lambda: status()[0] == "paused")
        time.sleep(1.5)  # checked at least once: not yet due, nothing moves
        assert status()[0] == "paused" and status()[1] is not None
        with db.Session.begin() as session:  # midnight in Beijing has come
            session.execute(update(Notice).where(Notice.id == notice_id).values(resume_at=utcnow()))
        wait_for(lambda: status()[0] == "finished", timeout=30)
        assert running.poll() is None
    assert status() == ("finished", None)
    per_user = Counter({openid: len(fake_wechat.messages(openid)) for openid in openids})
    assert per_user == Counter(dict.fromkeys(openids, 1))
