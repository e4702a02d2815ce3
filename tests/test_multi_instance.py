"""Several instances behind nginx (bench/multi_instance.py): 3 web instances and 2 notice
workers sharing one Redis and one MariaDB, nginx in front with the site from deploy/.

- a user's conversation continues whichever instance answers;
- killing a web instance under load loses no message: WeChat's retry reaches another instance
  and is answered once (dedup);
- killing a worker mid-notice leaves no gap and no duplicate;
- figures: messages/s through nginx with 3 instances vs 1 (wrk).

Needs nginx (and wrk for the figures): skipped when absent, except under CI=true.
"""

from __future__ import annotations

import os
import shutil
import threading
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import redis
import requests
from flask import Flask
from sqlalchemy import func, select, text

from bench import multi_instance as mi
from config import Settings
from domain.idcard import compute_check_digit
from extensions import close_extensions
from infra.db import Database
from models import Base
from models.notice import Notice, NoticeRecipient
from models.volunteer import Volunteer
from sandbox.fake_wechat import FakeWeChatServer
from tests import volunteer_steps as steps
from tests.conftest import REDIS_URL, base_settings
from tests.test_console_support import add_volunteers, queue_notice
from wechat.protocol import Protocol

METRICS_TOKEN = "multi-instance-metrics-token"
SEND = "/cgi-bin/message/template/send"
HELP_WORD = "帮助"


def required(tool: str, found: bool) -> None:
    if not found:
        if os.environ.get("CI") == "true":
            pytest.fail(f"CI=true: {tool} must be installed (.ci/apt-packages)")
        pytest.skip(f"{tool} is not installed")


@pytest.fixture(scope="module")
def service_settings(migrated: str, fake_wechat_server: FakeWeChatServer) -> Settings:
    if REDIS_URL is None or migrated.startswith("sqlite"):
        pytest.skip("several processes need a Redis server and MariaDB (none reachable)")
    required("nginx", mi.nginx_binary() is not None)
    return base_settings(migrated, wechat_api_base_url=fake_wechat_server.url)


def empty_tables(settings: Settings) -> None:
    """Leave the shared test database empty, as the `db` fixture does after each test."""
    database = Database(settings)
    with database.engine.begin() as conn:
        conn.execute(text("SET FOREIGN_KEY_CHECKS=0"))
        for table in reversed(Base.metadata.sorted_tables):
            conn.execute(table.delete())
        conn.execute(text("SET FOREIGN_KEY_CHECKS=1"))
    database.dispose()


@pytest.fixture(scope="module")
def running(service_settings: Settings) -> Iterator[mi.Deployment]:
    s = service_settings
    env = {
        "DATABASE_URL": s.database_url,
        "REDIS_URL": s.redis_url or "",
        "REDIS_PREFIX": s.redis_prefix,
        "WECHAT_TOKEN": s.wechat_token,
        "WECHAT_APP_ID": s.wechat_app_id,
        "WECHAT_APP_SECRET": s.wechat_app_secret,
        "WECHAT_API_BASE_URL": s.wechat_api_base_url,
        "SECRET_KEY": s.secret_key,
        "PII_ENCRYPTION_KEY": s.pii_encryption_key,
        "METRICS_ENABLED": "true",
        "METRICS_TOKEN": METRICS_TOKEN,
        "LOG_LEVEL": "WARNING",
        "NOTICE_SENDS_PER_SECOND": "200",
        "NOTICE_LEASE_SECONDS": "3",
        "NOTICE_BATCH_SIZE": "20",
    }
    with mi.deployment(env, webs=3, workers=2) as deployment:
        yield deployment
    empty_tables(s)
    client = redis.Redis.from_url(s.redis_url or "")
    keys = list(client.scan_iter(match=s.redis_prefix + "*", count=1000))
    if keys:
        client.delete(*keys)
    client.close()


@pytest.fixture
def local_app(service_settings: Settings, running: mi.Deployment) -> Iterator[Flask]:
    """The same deployment seen from the test: its database, Redis prefix and queue."""
    from app import create_app

    app = create_app(service_settings)
    yield app
    queue = getattr(app.extensions["notice_queue"], "queue", None)
    if queue is not None:
        queue.empty()
    close_extensions(app)


@pytest.fixture
def protocol(service_settings: Settings) -> Protocol:
    return Protocol(service_settings.wechat_token, service_settings.wechat_app_id, None)


@pytest.fixture
def fake(fake_wechat_server: FakeWeChatServer) -> Iterator[object]:
    fake_wechat_server.state.reset()
    yield fake_wechat_server.state
    fake_wechat_server.state.reset()


def figures_file() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path / "multi_instance.txt"


def report(capsys: pytest.CaptureFixture[str], line: str) -> None:
    with capsys.disabled():
        print(f"\n[multi-instance] {line}")
    with figures_file().open("a", encoding="utf-8") as out:
        out.write(line + "\n")


def say(
    session: requests.Session,
    base_url: str,
    protocol: Protocol,
    openid: str,
    text: str,
    cert: str,
) -> str:
    delivery = mi.send_like_wechat(
        session, base_url, mi.signed_text(protocol, openid, text), verify=cert
    )
    assert delivery.answered, delivery.errors
    return mi.reply_text(delivery.body) or ""


def registered(local_app: Flask, openids: list[str]) -> Counter[str]:
    with local_app.extensions["services"].db.Session() as session:
        rows = session.scalars(select(Volunteer.openid).where(Volunteer.openid.in_(openids)))
        return Counter(str(openid) for openid in rows)


def id_number(index: int) -> str:
    first17 = f"62010219800101{index % 1000:03d}"
    return first17 + compute_check_digit(first17)


def register_through(
    bases: list[str], protocol: Protocol, openid: str, number: str, cert: str
) -> str:
    """A whole registration; message i goes to bases[i % len(bases)]. Returns the last reply."""
    session = requests.Session()

    def base(index: int) -> str:
        return bases[index % len(bases)]

    click = mi.signed_click(protocol, openid, "VOLUNTEER_REGISTER")
    delivery = mi.send_like_wechat(session, base(0), click, verify=cert)
    assert delivery.answered, delivery.errors
    assert "同意" in (mi.reply_text(delivery.body) or "")
    for index, (name, answer, expect) in enumerate(steps.ANSWERS, start=1):
        text = number if name == "id_number" else answer
        reply = say(session, base(index), protocol, openid, text, cert)
        assert expect in reply, (openid, name, base(index), reply)
    return say(session, base(len(steps.ANSWERS) + 1), protocol, openid, "确认", cert)


def test_a_conversation_continues_across_instances(
    running: mi.Deployment, protocol: Protocol, local_app: Flask, fake: object
) -> None:
    openid = f"oMulti{uuid.uuid4().hex[:22]}"
    # Each message goes straight to the next instance: web1, web2, web3, web1, ...
    bases = [f"http://127.0.0.1:{web.port}" for web in running.webs]
    assert "注册成功" in register_through(bases, protocol, openid, id_number(1), "")
    assert registered(local_app, [openid]) == Counter({openid: 1})


def test_killing_a_web_instance_under_load_loses_no_message(
    running: mi.Deployment,
    protocol: Protocol,
    local_app: Flask,
    fake: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    cert = str(running.cert)
    messages = [
        mi.signed_text(protocol, f"oLoad{uuid.uuid4().hex[:23]}", HELP_WORD) for _ in range(400)
    ]
    talkers = [f"oTalk{uuid.uuid4().hex[:23]}" for _ in range(6)]
    victim = running.webs[0]
    sent = threading.Event()
    count = 0
    lock = threading.Lock()

    def one(message: mi.Signed) -> mi.Delivery:
        nonlocal count
        with lock:
            count += 1
            if count == len(messages) // 3:
                sent.set()
        session = requests.Session()
        return mi.send_like_wechat(session, running.url, message, verify=cert)

    def talk(index: int) -> str:
        """A whole registration through nginx while an instance is killed under it."""
        return register_through(
            [running.url], protocol, talkers[index], id_number(100 + index), cert
        )

    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=24) as pool:
        talks = [pool.submit(talk, index) for index in range(len(talkers))]
        futures = [pool.submit(one, message) for message in messages]
        assert sent.wait(60)
        victim.kill()  # SIGKILL: the instance dies with requests in flight
        deliveries = [f.result() for f in futures]
        conversations = [f.result() for f in talks]
    seconds = time.monotonic() - started
    # Bring the instance back (before any assertion) for the tests after this one.
    replacement = running.start_web()
    running.wait_ready([replacement])
    running.webs.remove(victim)
    running.use_upstreams(running.webs)

    def answered_later(openid: str) -> bool:
        return bool(fake.messages(openid))  # type: ignore[attr-defined]

    time.sleep(1.0)
    lost = [
        d
        for d in deliveries
        if not (d.answered and (mi.reply_text(d.body) or answered_later(d.message.openid)))
    ]
    retried = sum(1 for d in deliveries if d.attempts > 1)
    taken_over = sum(web.log_count("taking over a message") for web in running.webs)
    report(
        capsys,
        f"killed 1 of 3 web instances under load: {len(deliveries)} messages in {seconds:.1f} s, "
        f"{retried} sent again by 'WeChat', {taken_over} taken over from the dead instance by "
        f"another (nginx re-sent them), messages lost: {len(lost)}",
    )
    assert not lost, [(d.message.openid, d.attempts, d.status, d.errors) for d in lost[:5]]
    # Each registration saved once (a 确认 whose process died after saving may be answered
    # by the repeat with "already registered" rather than "注册成功").
    assert all("注册" in reply for reply in conversations), conversations
    assert registered(local_app, talkers) == Counter(dict.fromkeys(talkers, 1))


def notice_counts(local_app: Flask, notice_id: int) -> Counter[str]:
    with local_app.extensions["services"].db.Session() as session:
        found = session.execute(
            select(NoticeRecipient.status, func.count())
            .where(NoticeRecipient.notice_id == notice_id)
            .group_by(NoticeRecipient.status)
        ).all()
    return Counter({status: int(n) for status, n in found})


def notice_status(local_app: Flask, notice_id: int) -> str | None:
    with local_app.extensions["services"].db.Session() as session:
        return session.scalar(select(Notice.status).where(Notice.id == notice_id))


def wait_for(condition: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():  # type: ignore[operator]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def test_killing_a_worker_mid_notice_leaves_no_gap_and_no_duplicate(
    running: mi.Deployment, local_app: Flask, fake: object, capsys: pytest.CaptureFixture[str]
) -> None:
    db = local_app.extensions["services"].db
    openids = add_volunteers(db, 300)
    fake.slow(SEND, 0.02)  # type: ignore[attr-defined]  # sends are in flight when it dies
    notice_id = queue_notice(local_app)
    local_app.extensions["notice_queue"].enqueue(notice_id, copies=2)  # one job per worker

    def delivered() -> int:
        return sum(len(fake.messages(o)) for o in openids)  # type: ignore[attr-defined]

    started = time.monotonic()
    wait_for(lambda: notice_counts(local_app, notice_id)["sent"] >= 60, 60, "the first sends")
    victim = running.workers[0]
    victim.kill()  # SIGKILL mid-notice: its claimed rows stay claimed until the lease ends
    left = notice_counts(local_app, notice_id)
    try:
        # The audience is every volunteer: those of the tests before this one too.
        wait_for(lambda: notice_status(local_app, notice_id) == "finished", 90, "the end")
    except AssertionError:
        logs = "\n".join(f"--- {w.name}\n{w.tail()}" for w in running.workers)
        raise AssertionError(
            f"{notice_counts(local_app, notice_id)} after {left}\n{logs}"
        ) from None
    finally:
        running.workers.remove(victim)
        running.start_worker()
    seconds = time.monotonic() - started

    assert set(notice_counts(local_app, notice_id)) == {"sent"}
    per_user = Counter({o: len(fake.messages(o)) for o in openids})  # type: ignore[attr-defined]
    assert per_user == Counter(dict.fromkeys(openids, 1))  # no gap, no duplicate
    report(
        capsys,
        f"killed 1 of 2 workers mid-notice ({left['sent']} of 300 sent): the other finished in "
        f"{seconds:.1f} s; recipients with 0 messages: 0, with 2: 0 "
        f"({len(fake.duplicates)} resends stopped by client_msg_id)",  # type: ignore[attr-defined]
    )
    assert delivered() == 300


def test_messages_per_second_through_nginx_3_instances_vs_1(
    running: mi.Deployment,
    protocol: Protocol,
    fake: object,
    capsys: pytest.CaptureFixture[str],
) -> None:
    required("wrk", shutil.which("wrk") is not None)
    figures: dict[int, mi.WrkResult] = {}
    for count in (1, 3):
        running.use_upstreams(running.webs[:count])
        lines = [
            mi.signed_text(protocol, f"oWrk{uuid.uuid4().hex[:24]}", HELP_WORD).wrk_line()
            for _ in range(6000)
        ]
        figures[count] = mi.run_wrk(running.url, lines, workdir=running.workdir, seconds=5)
    running.use_upstreams(running.webs)
    one, three = figures[1], figures[3]
    report(
        capsys,
        f"messages/s through nginx: 1 instance {one.per_second:.0f}, 3 instances "
        f"{three.per_second:.0f} (x{three.per_second / one.per_second:.2f}; "
        f"{os.cpu_count()} CPUs shared by every process)",
    )
    for result in (one, three):
        assert result.requests > 0
        assert result.non_2xx == 0 and result.socket_errors == 0, result


def test_metrics_through_nginx_cover_every_instance(
    running: mi.Deployment, protocol: Protocol, fake: object
) -> None:
    cert = str(running.cert)
    session = requests.Session()
    for web in running.webs:  # one message straight to each instance
        base = f"http://127.0.0.1:{web.port}"
        say(session, base, protocol, f"oMet{uuid.uuid4().hex[:24]}", HELP_WORD, "")
    time.sleep(1.5)  # each process adds its counts to Redis once a second
    url = f"{running.url}/metrics"
    assert session.get(url, verify=cert).status_code == 403  # relayed by nginx: token needed
    scraped = session.get(url, verify=cert, headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert scraped.status_code == 200
    text = scraped.text
    total = sum(
        float(line.rsplit(" ", 1)[1])
        for line in text.splitlines()
        if line.startswith("kjzy_messages_total{")
    )
    assert total >= len(running.webs)
    assert 'kjzy_queue_jobs{queue="' in text
