"""Benchmark notice sending with real worker processes, MariaDB, Redis and the fake WeChat API
answering each template send in 20 ms (several minutes at the default size).

    .venv/bin/python bench/notices.py                        # 100,000 recipients
    .venv/bin/python bench/notices.py --recipients 20000 --skip-memory --skip-limit

What it does (loopback only):
1. creates a fresh MariaDB database, runs `upgrade head`, inserts the volunteers; picks its own
   Redis key prefix; starts the fake WeChat API in its own process, 20 ms per template send;
2. raw: template sends from NOTICE_SEND_THREADS threads in one process with no database at all,
   the ceiling of what one process gets from the fake;
3. naive: one row at a time (claim one row, send, record, commit), as a baseline;
4. for 1 and 2 workers (`flask --app app worker --burst`): a notice to every volunteer with the
   rate limit out of reach; building the recipient rows (one INSERT ... SELECT) is timed on its
   own, then sends/s from the first to the last recorded send, the workers' peak RSS, and a
   check at the fake that every recipient got exactly one message;
5. memory: one worker with a tenth of the recipients, to compare its peak RSS;
6. limit: two workers with NOTICE_SENDS_PER_SECOND set, to compare the achieved rate;
7. drops the database, deletes its Redis keys, stops the fake.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import threading
import time
import urllib.request
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from sqlalchemy import create_engine, func, insert, select, text, update  # noqa: E402

from config import Settings  # noqa: E402
from infra.db import Database  # noqa: E402
from infra.migrate import upgrade  # noqa: E402
from infra.redis import Keys  # noqa: E402
from models.base import utcnow  # noqa: E402
from models.follower import Follower  # noqa: E402
from models.notice import R_QUEUED, R_SENT, Notice, NoticeRecipient, NoticeTemplate  # noqa: E402
from models.volunteer import ACTIVE, Volunteer  # noqa: E402
from sandbox.fake_wechat import TEMPLATE_ACTIVITY_REMINDER  # noqa: E402
from services import notices  # noqa: E402
from services.operators import Scope  # noqa: E402
from wechat.client import WeChatAPI  # noqa: E402
from worker.queue import RQNoticeQueue  # noqa: E402
from worker.sender import client_msg_id  # noqa: E402

SEND = "/cgi-bin/message/template/send"
APP_ID, APP_SECRET = "wx1234567890abcdef", "bench-app-secret"
SERVER = "mysql+pymysql://root@127.0.0.1:3306"
REDIS_URL = "redis://127.0.0.1:6379/0"
DATA = {
    "thing1": "青少年科普进社区",
    "time2": "2026年12月5日 09:00",
    "thing3": "兰州市城关区科技馆",
    "thing4": "请提前15分钟到场签到",
}
THREADS = 16
BATCH = 200


def say(line: str) -> None:
    print(line, flush=True)


# -- the fake and the environment ------------------------------------------------------------


@contextmanager
def fake_wechat(port: int) -> Iterator[str]:
    """The fake in one gunicorn process (its state lives in memory) with keep-alive threads:
    the development server's connection per request would be the bottleneck, not our code."""
    process = subprocess.Popen(
        [
            sys.executable, "-m", "gunicorn", "--workers", "1", "--worker-class", "gthread",
            "--threads", "64", "--keep-alive", "30", "--bind", f"127.0.0.1:{port}",
            "--log-level", "warning",
            f"sandbox.fake_wechat:create_fake_wechat('{APP_ID}', '{APP_SECRET}')",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(100):
            try:
                control(url, "/_fake/reset", {})
                break
            except OSError:
                time.sleep(0.1)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=10)


def control(url: str, path: str, payload: dict[str, Any] | None = None) -> Any:
    data = None if payload is None else json.dumps(payload).encode()
    request = urllib.request.Request(url + path, data=data, method="POST" if data else "GET")
    with urllib.request.urlopen(request, timeout=60) as answer:
        return json.loads(answer.read())


def bench_env(database_url: str, prefix: str, api_url: str, **notice: Any) -> dict[str, str]:
    """The environment of the workers (and of this script's own Settings)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("NOTICE_")}
    env.update(
        DATABASE_URL=database_url,
        REDIS_URL=REDIS_URL,
        REDIS_PREFIX=prefix,
        WECHAT_TOKEN="benchtoken",
        WECHAT_APP_ID=APP_ID,
        WECHAT_APP_SECRET=APP_SECRET,
        WECHAT_API_BASE_URL=api_url,
        SECRET_KEY="bench-secret-key",
        PII_ENCRYPTION_KEY="bench-pii-key-0123456789abcdef0123456789",
        LOG_LEVEL="WARNING",
        NOTICE_SEND_THREADS=str(THREADS),
        NOTICE_BATCH_SIZE=str(BATCH),
    )
    env.update({f"NOTICE_{k.upper()}": str(v) for k, v in notice.items()})
    return env


# -- data --------------------------------------------------------------------------------------


def add_volunteers(db: Database, count: int) -> None:
    now = utcnow()
    with db.Session.begin() as session:
        for start in range(0, count, 5000):
            session.execute(
                insert(Volunteer),
                [
                    {
                        "volunteer_no": f"KB{n:010d}",
                        "openid": f"oBench{n:020d}",
                        "status": ACTIVE,
                        "name": "志愿者",
                        "prefecture_code": "620100",
                        "county_code": "620102",
                        "skills": ["科学普及"],
                        "service_times": ["周末"],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(start, min(start + 5000, count))
                ],
            )
            session.execute(  # notices go to current followers only
                insert(Follower),
                [
                    {"openid": f"oBench{n:020d}", "first_seen_at": now, "last_seen_at": now}
                    for n in range(start, min(start + 5000, count))
                ],
            )


def new_notice(db: Database, limit: int | None = None) -> int:
    """A queued notice to every volunteer (or the first `limit`, by id)."""
    with db.Session.begin() as session:
        template_pk = session.scalar(select(NoticeTemplate.id))
        if template_pk is None:
            template = NoticeTemplate(
                template_id=TEMPLATE_ACTIVITY_REMINDER,
                title="活动开始提醒",
                fields=[{"key": k, "label": k} for k in DATA],
                active=True,
                verified=True,
            )
            session.add(template)
            session.flush()
            template_pk = template.id
        draft = notices.check_draft(
            session,
            Scope(),
            template_pk=template_pk,
            data=DATA,
            url=None,
            audience=notices.Audience(),
        )
        notice_id = notices.create_notice(
            session, Scope(), draft, None, None, actor_name="bench"
        ).id
    return notice_id


def prepare(db: Database, notice_id: int, keep: int | None = None) -> float:
    """Build the recipient rows (the workers' own first step), timed; optionally cancel all but
    the first `keep` rows so a smaller run reuses the same volunteers."""
    started = time.perf_counter()
    with db.Session.begin() as session:
        notices.prepare(session, notice_id)
    took = time.perf_counter() - started
    if keep is not None:
        with db.Session.begin() as session:
            cutoff = session.scalar(
                select(NoticeRecipient.id)
                .where(NoticeRecipient.notice_id == notice_id)
                .order_by(NoticeRecipient.id)
                .offset(keep)
                .limit(1)
            )
            if cutoff is not None:
                session.execute(
                    update(NoticeRecipient)
                    .where(NoticeRecipient.notice_id == notice_id, NoticeRecipient.id >= cutoff)
                    .values(status="cancelled")
                )
    return took


# -- scenarios ---------------------------------------------------------------------------------


def run_workers(
    db: Database, env: dict[str, str], client: redis.Redis, notice_id: int, workers: int
) -> dict[str, Any]:
    queue = RQNoticeQueue(client, Keys(env["REDIS_PREFIX"]).notice_queue())
    queue.enqueue(notice_id, copies=workers)
    started = time.perf_counter()
    processes = [
        subprocess.Popen(
            [sys.executable, "-m", "flask", "--app", "app", "worker", "--burst"],
            cwd=ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        for _ in range(workers)
    ]
    peaks = [0] * workers
    while any(p.poll() is None for p in processes):
        for n, process in enumerate(processes):
            peaks[n] = max(peaks[n], peak_rss_kib(process.pid))
        time.sleep(0.2)
    for process in processes:
        _, errors = process.communicate()
        if process.returncode != 0:
            raise RuntimeError(errors.decode(errors="replace")[-2000:])
    wall = time.perf_counter() - started
    queue.queue.empty()
    with db.Session() as session:
        status = session.scalar(select(Notice.status).where(Notice.id == notice_id))
        sent = session.scalar(
            select(func.count()).where(
                NoticeRecipient.notice_id == notice_id, NoticeRecipient.status == R_SENT
            )
        )
    return {"sent": int(sent or 0), "wall": wall, "peak_mib": max(peaks) / 1024, "status": status}


def peak_rss_kib(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def raw_api_rate(settings: Settings, client: redis.Redis, calls: int) -> float:
    keys = Keys(settings.redis_prefix)
    counter = iter(range(calls))
    lock = threading.Lock()

    def work() -> None:
        api = WeChatAPI(settings, client, keys)
        while True:
            with lock:
                n = next(counter, None)
            if n is None:
                api.close()
                return
            api.send_template(f"oRaw{n:020d}", TEMPLATE_ACTIVITY_REMINDER, DATA)

    threads = [threading.Thread(target=work) for _ in range(THREADS)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return calls / (time.perf_counter() - started)


def naive_rate(
    db: Database, settings: Settings, client: redis.Redis, notice_id: int, rows: int
) -> float:
    """One row at a time: claim, send, record, commit — no batching, no threads."""
    api = WeChatAPI(settings, client, Keys(settings.redis_prefix))
    started = time.perf_counter()
    for _ in range(rows):
        with db.Session.begin() as session:
            row = session.scalar(
                select(NoticeRecipient)
                .where(NoticeRecipient.notice_id == notice_id, NoticeRecipient.status == R_QUEUED)
                .order_by(NoticeRecipient.id)
                .limit(1)
                .with_for_update(skip_locked=True)
            )
            if row is None:
                break
            row.msgid = api.send_template(
                row.openid,
                TEMPLATE_ACTIVITY_REMINDER,
                DATA,
                client_msg_id=client_msg_id(notice_id, row.openid),
            )
            row.status, row.sent_at, row.attempts = R_SENT, utcnow(), 1
    api.close()
    return rows / (time.perf_counter() - started)


def at_the_fake(url: str, expected: int) -> dict[str, Any]:
    """Sends as the fake saw them: per-second rate over whole seconds, the busiest second,
    and whether each recipient got exactly one message."""
    calls = [c for c in control(url, f"/_fake/calls?api={SEND}")["calls"] if c["errcode"] == 0]
    times = sorted(c["received"] for c in calls)  # when each request arrived
    duplicates = len(control(url, "/_fake/duplicates")["duplicates"])
    unique = len({c["json"]["touser"] for c in calls})
    whole = int(times[-1] - times[0]) if times else 0
    per_second = [0] * whole
    for moment in times:
        second = int(moment - times[0])
        if second < whole:
            per_second[second] += 1
    busiest, start = 0, 0
    for end, moment in enumerate(times):
        while moment - times[start] >= 1.0:
            start += 1
        busiest = max(busiest, end - start + 1)
    return {
        "rate": sum(per_second) / whole if whole else float(len(times)),
        "busiest": busiest,
        "seconds": times[-1] - times[0] if times else 0.0,
        "once": unique == expected and len(calls) - duplicates == expected,
        "unique": unique,
        "duplicates": duplicates,
    }


# -- main --------------------------------------------------------------------------------------


def reset(url: str, latency: float) -> None:
    control(url, "/_fake/reset", {})
    control(url, "/_fake/slow", {"api": SEND, "seconds": latency})


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.02, help="fake API seconds per send")
    parser.add_argument("--naive-rows", type=int, default=300)
    parser.add_argument("--limit", type=int, default=150, help="sends/s for the limit check")
    parser.add_argument("--limit-seconds", type=int, default=20)
    parser.add_argument("--port", type=int, default=8831)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-limit", action="store_true")
    args = parser.parse_args(argv)

    name = f"kjzy_bench_{os.getpid()}"
    admin = create_engine(SERVER)
    with admin.connect() as conn:
        conn.execute(
            text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )
    prefix = f"kjzy-bench:{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(REDIS_URL)
    try:
        with fake_wechat(args.port) as url:
            database_url = f"{SERVER}/{name}?charset=utf8mb4"

            def env(**notice: Any) -> dict[str, str]:
                return bench_env(database_url, prefix, url, **notice)

            settings = Settings.from_env(env(), load_dotenv=False)
            upgrade(settings)
            db = Database(settings)
            say(f"volunteers: inserting {args.recipients:,} ...")
            add_volunteers(db, args.recipients)
            reset(url, args.latency)
            say(f"fake WeChat API: {args.latency * 1000:.0f} ms per template send\n")

            raw = raw_api_rate(settings, client, 2000)
            say(f"raw API calls, {THREADS} threads, one process, no database: {raw:,.0f} sends/s")

            notice_id = new_notice(db)
            prepare(db, notice_id, keep=args.naive_rows)
            naive = naive_rate(db, settings, client, notice_id, args.naive_rows)
            say(f"naive loop (one row per transaction, one at a time): {naive:,.1f} sends/s\n")

            results: dict[int, dict[str, Any]] = {}
            for workers in (1, 2):
                reset(url, args.latency)
                notice_id = new_notice(db)
                built = prepare(db, notice_id)
                result = run_workers(db, env(sends_per_second=10**6), client, notice_id, workers)
                seen = at_the_fake(url, args.recipients)
                results[workers] = result
                say(
                    f"{workers} worker(s), limit off: {result['sent']:,} sent in {seen['seconds']:.0f} s, "
                    f"{seen['rate']:,.0f} sends/s ({seen['rate'] / naive:,.0f}x naive, "
                    f"{seen['rate'] / raw:.2f}x raw); recipient rows built in {built:.1f} s; "
                    f"peak RSS {result['peak_mib']:.0f} MiB; notice {result['status']}; "
                    f"exactly once: {'yes' if seen['once'] else 'NO'} "
                    f"({seen['unique']:,} recipients, {seen['duplicates']} repeats blocked)"
                )

            if not args.skip_memory:
                reset(url, args.latency)
                tenth = max(args.recipients // 10, 1)
                notice_id = new_notice(db)
                prepare(db, notice_id, keep=tenth)
                small = run_workers(db, env(sends_per_second=10**6), client, notice_id, 1)
                say(
                    f"\nmemory, one worker: {tenth:,} recipients peak RSS {small['peak_mib']:.0f} MiB, "
                    f"{args.recipients:,} recipients {results[1]['peak_mib']:.0f} MiB"
                )

            if not args.skip_limit:
                reset(url, args.latency)
                notice_id = new_notice(db)
                wanted = args.limit * args.limit_seconds
                prepare(db, notice_id, keep=wanted)
                run_workers(db, env(sends_per_second=args.limit), client, notice_id, 2)
                seen = at_the_fake(url, min(wanted, args.recipients))
                off_by = (seen["rate"] - args.limit) / args.limit * 100
                say(
                    f"\nlimit {args.limit}/s, 2 workers: {seen['rate']:,.1f} sends/s over "
                    f"{seen['seconds']:.1f} s ({off_by:+.1f} %), busiest 1-s window at the fake "
                    f"{seen['busiest']} ({(seen['busiest'] / args.limit - 1) * 100:+.1f} %, "
                    "by arrival times)"
                )
            db.dispose()
    finally:
        with admin.connect() as conn:
            conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        admin.dispose()
        keys = list(client.scan_iter(match=prefix + "*", count=1000))
        if keys:
            client.delete(*keys)


if __name__ == "__main__":
    main()
