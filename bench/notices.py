"""Benchmark notice sending with real worker processes, MariaDB, Redis and the fake WeChat API
answering each template send in 20 ms (several minutes at the default size).

    .venv/bin/python bench/notices.py                        # 100,000 recipients
    .venv/bin/python bench/notices.py --recipients 10000 --skip-memory --limits 150,400

What it does (loopback only):
1. creates a fresh MariaDB database, runs `upgrade head`, inserts the volunteers; picks its own
   Redis key prefix; starts the fake WeChat API in a process of its own (the asyncio server,
   sandbox.fake_wechat_fast; `--fake gunicorn` for the threaded one of the earlier runs);
2. the fake alone: wrk (bash bench/setup.sh installs it) sending template messages at 0 ms and
   at 20 ms, requests/s and the fake's CPU per request: what the fake can take;
3. floors with no database, in this process: the workers' send path (one asyncio loop, as many
   sends in flight as the 2 workers together) and, for comparison, WeChatAPI.send_template
   (wechatpy over requests) from 16 threads; sends/s and CPU per send of each;
4. for 1 and 2 workers (`flask --app app worker`, queued to once they all listen): a notice to
   every volunteer with the rate limit out of reach; sends/s at the fake from the first to the
   last send, the workers' CPU per send and the fake's, their peak RSS, and a check at the fake
   that every recipient got exactly one message;
5. memory: one worker with a tenth of the recipients, to compare its peak RSS;
6. limit: two workers with NOTICE_SENDS_PER_SECOND set (each of `--limits`), the achieved rate
   and the busiest one-second window at the fake;
7. drops the database, deletes its Redis keys, stops the fake.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
import uuid
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

import redis  # noqa: E402
from sqlalchemy import create_engine, select, text, update  # noqa: E402

from bench.notices_parts import (  # noqa: E402
    APP_ID,
    APP_SECRET,
    DATA,
    add_volunteers,
    at_the_fake,
    cpu_seconds,
    fake_capacity,
    fake_wechat,
    raw_lean_rate,
    raw_wechatpy_rate,
    reset,
    run_workers,
    say,
)
from config import Settings  # noqa: E402
from infra.db import Database  # noqa: E402
from infra.migrate import upgrade  # noqa: E402
from models.notice import NoticeRecipient, NoticeTemplate  # noqa: E402
from sandbox.fake_wechat import TEMPLATE_ACTIVITY_REMINDER  # noqa: E402
from services import notices  # noqa: E402
from services.operators import Scope  # noqa: E402

SERVER = "mysql+pymysql://root@127.0.0.1:3306"
REDIS_URL = "redis://127.0.0.1:6379/0"
IN_FLIGHT = 32  # NOTICE_SEND_THREADS: sends in flight per worker
BATCH = 200


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
        NOTICE_SEND_THREADS=str(IN_FLIGHT),
        NOTICE_BATCH_SIZE=str(BATCH),
    )
    env.update({f"NOTICE_{k.upper()}": str(v) for k, v in notice.items()})
    return env


def new_notice(db: Database) -> int:
    """A queued notice to every volunteer."""
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
        return notices.create_notice(session, Scope(), draft, None, None, actor_name="bench").id


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


def load() -> str:
    return "load average " + " ".join(f"{n:.1f}" for n in os.getloadavg())


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n")[0])
    parser.add_argument("--recipients", type=int, default=100_000)
    parser.add_argument("--latency", type=float, default=0.02, help="fake API seconds per send")
    parser.add_argument("--fake", choices=("asyncio", "gunicorn"), default="asyncio")
    parser.add_argument("--limits", default="150,400", help="sends/s for the limit checks")
    parser.add_argument("--limit-seconds", type=int, default=20)
    parser.add_argument("--port", type=int, default=8831)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-limit", action="store_true")
    parser.add_argument("--skip-floors", action="store_true")
    args = parser.parse_args(argv)

    name = f"kjzy_bench_{os.getpid()}"
    admin = create_engine(SERVER)
    with admin.connect() as conn:
        conn.execute(
            text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )
    prefix = f"kjzy-bench:{uuid.uuid4().hex[:8]}:"
    client = redis.Redis.from_url(REDIS_URL)
    say(f"{os.cpu_count()} CPUs, {load()}; {IN_FLIGHT} sends in flight per worker")
    try:
        with fake_wechat(args.port, args.fake) as fake:
            database_url = f"{SERVER}/{name}?charset=utf8mb4"

            def env(**notice: Any) -> dict[str, str]:
                return bench_env(database_url, prefix, fake.url, **notice)

            settings = Settings.from_env(env(), load_dotenv=False)
            upgrade(settings)
            db = Database(settings)
            say(f"volunteers: inserting {args.recipients:,} ...")
            add_volunteers(db, args.recipients)
            floor = 0.0
            if not args.skip_floors:
                for latency, connections in ((0.0, 64), (args.latency, 64)):
                    cap = fake_capacity(fake, latency, 5, connections)
                    if cap:
                        say(
                            f"fake ({args.fake}) alone, wrk -c{connections}, {latency * 1000:.0f} ms "
                            f"per send: {cap['rate']:,.0f} sends/s, {cap['cpu_ms']:.2f} ms CPU "
                            f"per send, p99 {cap['p99_ms']:.0f} ms, errors {cap['errors']}"
                        )
                reset(fake.url, args.latency)
                say(f"\nfake WeChat API: {args.latency * 1000:.0f} ms per template send")
                lean = raw_lean_rate(settings, client, 6000, 2 * IN_FLIGHT)
                floor = lean["rate"]
                say(
                    f"floor, no database: one asyncio loop, {2 * IN_FLIGHT} in flight: "
                    f"{lean['rate']:,.0f} sends/s, {lean['cpu_ms']:.2f} ms CPU per send "
                    f"(client + Redis client)"
                )
                old = raw_wechatpy_rate(settings, client, 2000, 16)
                say(
                    f"for comparison: WeChatAPI.send_template (wechatpy, requests), 16 threads: "
                    f"{old['rate']:,.0f} sends/s, {old['cpu_ms']:.2f} ms CPU per send"
                )
            say("")

            results: dict[int, dict[str, Any]] = {}
            for workers in (1, 2):
                reset(fake.url, args.latency)
                notice_id = new_notice(db)
                built = prepare(db, notice_id)
                fake_cpu = cpu_seconds(fake.pid)
                result = run_workers(db, env(sends_per_second=10**6), client, notice_id, workers)
                fake_cpu = cpu_seconds(fake.pid) - fake_cpu
                seen = at_the_fake(fake.url, args.recipients)
                results[workers] = result
                worker_ms = result["cpu"] * 1000 / max(result["sent"], 1)
                ratio = f" ({seen['rate'] / floor:.2f}x the floor)" if floor else ""
                say(
                    f"{workers} worker(s), limit off: {result['sent']:,} sent in "
                    f"{seen['seconds']:.1f} s, {seen['rate']:,.0f} sends/s{ratio}; CPU per send: "
                    f"workers {worker_ms:.2f} ms, fake {fake_cpu * 1000 / max(result['sent'], 1):.2f} ms; "
                    f"rows built in {built:.1f} s; peak RSS {result['peak_mib']:.0f} MiB; "
                    f"notice {result['status']}; exactly once: {'yes' if seen['once'] else 'NO'} "
                    f"({seen['unique']:,} recipients, {seen['duplicates']} repeats blocked); {load()}"
                )

            if not args.skip_memory:
                reset(fake.url, args.latency)
                tenth = max(args.recipients // 10, 1)
                notice_id = new_notice(db)
                prepare(db, notice_id, keep=tenth)
                small = run_workers(db, env(sends_per_second=10**6), client, notice_id, 1)
                say(
                    f"\nmemory, one worker: {tenth:,} recipients peak RSS {small['peak_mib']:.0f} MiB, "
                    f"{args.recipients:,} recipients {results[1]['peak_mib']:.0f} MiB"
                )

            for limit in [] if args.skip_limit else [int(n) for n in args.limits.split(",")]:
                reset(fake.url, args.latency)
                notice_id = new_notice(db)
                wanted = min(limit * args.limit_seconds, args.recipients)
                prepare(db, notice_id, keep=wanted)
                run_workers(db, env(sends_per_second=limit), client, notice_id, 2)
                seen = at_the_fake(fake.url, wanted)
                off_by = (seen["rate"] - limit) / limit * 100
                say(
                    f"\nlimit {limit}/s, 2 workers: {seen['rate']:,.1f} sends/s over "
                    f"{seen['seconds']:.1f} s ({off_by:+.1f} %), busiest 1-s window at the fake "
                    f"{seen['busiest']} ({(seen['busiest'] / limit - 1) * 100:+.1f} %, by arrival "
                    f"times); exactly once: {'yes' if seen['once'] else 'NO'}; {load()}\n"
                    f"  sends in each whole second: {seen['per_second']}"
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
