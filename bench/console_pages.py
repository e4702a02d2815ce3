"""Time every console list page, filter, count and figure against a database seeded by
bench/seed_data.py, and show the plans of the slowest queries.

    .venv/bin/python bench/seed_data.py                    # once: kjzy_scale, 1M volunteers
    .venv/bin/python bench/console_pages.py                # pages, medians, EXPLAIN
    .venv/bin/python bench/console_pages.py --audience     # also RSS of building 100k / 1M recipients

The app is the real one (create_app, the database given, the local Redis with a key prefix of
its own, deleted at the end). The Flask test client logs in as a province operator, as a 兰州市
operator, and as the admin of the biggest team (a one-time login link, as chat gives it). Each
page is requested once to warm up and then --repeat times; the median is printed, with the
number of SQL statements and the slowest one. Pages at or over the budget (300 ms) are flagged.
Every statement is timed by a SQLAlchemy cursor-execute listener; the slowest distinct ones are
printed with MariaDB's EXPLAIN.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from flask import Flask  # noqa: E402
from flask.testing import FlaskClient  # noqa: E402
from sqlalchemy import Engine, create_engine, event, text  # noqa: E402

from bench.console_targets import Page, pages_for, team_pages  # noqa: E402
from bench.seed_data import PASSWORD, PII_KEY, SERVER, database_url, settings_for  # noqa: E402

BUDGET_MS = 300.0


@dataclass
class Statement:
    sql: str
    params: Any
    ms: float


@dataclass
class QueryLog:
    """Times every statement while `recording` is set."""

    recording: list[Statement] | None = None
    started: dict[int, float] = field(default_factory=dict)

    def attach(self, engine: Engine) -> None:
        event.listen(engine, "before_cursor_execute", self._before)
        event.listen(engine, "after_cursor_execute", self._after)

    def _before(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        self.started[id(cursor)] = time.perf_counter()

    def _after(self, conn: Any, cursor: Any, statement: str, params: Any, *_: Any) -> None:
        began = self.started.pop(id(cursor), None)
        if self.recording is not None and began is not None:
            self.recording.append(Statement(statement, params, (time.perf_counter() - began) * 1e3))

    @contextmanager
    def record(self) -> Iterator[list[Statement]]:
        found: list[Statement] = []
        self.recording = found
        try:
            yield found
        finally:
            self.recording = None


@dataclass
class Timing:
    who: str
    page: Page
    ms: float
    status: int
    statements: list[Statement]

    @property
    def slowest(self) -> Statement | None:
        return max(self.statements, key=lambda s: s.ms, default=None)


def request(client: FlaskClient, page: Page) -> int:
    if page.method == "POST":
        from tests.test_console_support import csrf_token

        token = csrf_token(client, page.form_page or page.path)
        answer = client.post(page.path, data={"csrf_token": token, **page.data})
    else:
        answer = client.get(page.path)
    return answer.status_code


def time_page(
    client: FlaskClient, log: QueryLog, who: str, page: Page, repeat: int, warmup: bool = True
) -> Timing:
    if warmup:
        request(client, page)  # warm up (and the CSRF page, for a POST)
    runs: list[tuple[float, int, list[Statement]]] = []
    for _ in range(repeat):
        if page.method == "POST":  # the form page's own request is not part of the timing
            from tests.test_console_support import csrf_token

            token = csrf_token(client, page.form_page or page.path)
            with log.record() as statements:
                began = time.perf_counter()
                status = client.post(page.path, data={"csrf_token": token, **page.data}).status_code
                ms = (time.perf_counter() - began) * 1e3
        else:
            with log.record() as statements:
                began = time.perf_counter()
                status = client.get(page.path).status_code
                ms = (time.perf_counter() - began) * 1e3
        runs.append((ms, status, statements))
    runs.sort(key=lambda r: r[0])
    ms, status, statements = runs[len(runs) // 2]
    return Timing(who, page, statistics.median(r[0] for r in runs), status, statements)


def login(app: Flask, username: str) -> FlaskClient:
    from tests.test_console_support import login as console_login

    client = app.test_client()
    answer = console_login(client, username, PASSWORD)
    assert answer.status_code == 302, answer.data[:300]
    return client


def team_login(app: Flask, openid: str) -> FlaskClient:
    from services.team_console_logins import TeamLogins

    client = app.test_client()
    svc = app.extensions["services"]
    token = TeamLogins(svc.redis, svc.keys).issue_link(openid)
    answer = client.get(f"/team/login/{token}")
    assert answer.status_code == 302, answer.data[:300]
    return client


def explain(engine: Engine, statement: Statement) -> list[tuple[Any, ...]]:
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("EXPLAIN " + statement.sql, statement.params)
        columns = [d[0] for d in cursor.description]
        rows = [tuple(r) for r in cursor.fetchall()]
        return [tuple(columns), *rows]
    finally:
        raw.close()


def print_timings(timings: list[Timing]) -> None:
    print(f"\n{'who':<9} {'page':<58} {'ms':>8} {'SQL':>4} {'slowest':>8}  status")
    for t in timings:
        slow = t.slowest
        flag = "  ≥300 ms" if t.ms >= BUDGET_MS else ""
        print(
            f"{t.who:<9} {t.page.label[:58]:<58} {t.ms:8.1f} {len(t.statements):4d} "
            f"{slow.ms if slow else 0:8.1f}  {t.status}{flag}"
        )
    over = [t for t in timings if t.ms >= BUDGET_MS]
    print(f"\n{len(timings)} pages, {len(over)} at or over {BUDGET_MS:.0f} ms")


def print_plans(engine: Engine, timings: list[Timing], top: int) -> None:
    seen: dict[str, tuple[Statement, str]] = {}
    for t in timings:
        for s in t.statements:
            key = " ".join(s.sql.split())
            if key not in seen or seen[key][0].ms < s.ms:
                seen[key] = (s, f"{t.who} {t.page.label}")
    slowest = sorted(seen.values(), key=lambda pair: -pair[0].ms)[:top]
    print(f"\nThe {len(slowest)} slowest statements, with their plans:")
    for statement, where in slowest:
        sql = " ".join(statement.sql.split())
        print(f"\n-- {statement.ms:.1f} ms  ({where})\n{sql[:600]}{' …' if len(sql) > 600 else ''}")
        if not sql.upper().startswith("SELECT"):
            continue
        try:
            rows = explain(engine, statement)
        except Exception as exc:
            print(f"   (no plan: {exc})")
            continue
        for row in rows:
            print("   " + " | ".join("" if v is None else str(v) for v in row))


def wanted(only: str, label: str) -> bool:
    """--only: a page whose label contains one of the comma-separated parts (all without it)."""
    parts = [p.strip() for p in only.split(",") if p.strip()]
    return not parts or any(p in label for p in parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="kjzy_scale")
    parser.add_argument("--server", default=SERVER)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-warmup", action="store_true", help="time the first request too")
    parser.add_argument("--top", type=int, default=8, help="slowest statements to EXPLAIN")
    parser.add_argument(
        "--only", default="", help="only pages whose label contains one of these (comma-separated)"
    )
    parser.add_argument("--audience", action="store_true", help="also measure recipient RSS")
    parser.add_argument(
        "--max-statement-seconds", type=float, default=30.0,
        help="MariaDB max_statement_time: a page whose query runs longer fails (shown as 500)",
    )  # fmt: skip
    args = parser.parse_args(argv)

    from app import create_app
    from infra.redis import connect

    url = database_url(args.server, args.db)
    settings = settings_for(url, PII_KEY, REDIS_URL=args.redis).with_overrides(
        redis_prefix=f"kjzy-bench-console:{uuid.uuid4().hex[:8]}:"
    )
    app = create_app(settings)
    logging.getLogger("console.errors").setLevel(logging.CRITICAL)  # timeouts: shown as 500
    app.config.update(WTF_CSRF_ENABLED=True)
    engine: Engine = app.extensions["services"].db.engine
    plain = create_engine(url)  # the bench's own look-ups: no statement time limit
    log = QueryLog()
    log.attach(engine)
    limit = args.max_statement_seconds

    @event.listens_for(engine, "connect")
    def _statement_limit(dbapi_conn: Any, _record: Any) -> None:
        with dbapi_conn.cursor() as cursor:
            cursor.execute(f"SET SESSION max_statement_time = {limit:.1f}")

    timings: list[Timing] = []
    try:
        with engine.connect() as conn:
            volunteers = conn.execute(text("SELECT COUNT(*) FROM volunteers")).scalar()
            pool = conn.execute(text("SELECT @@innodb_buffer_pool_size")).scalar()
        pool_mib = int(pool or 0) // 2**20
        print(
            f"database {args.db}: {volunteers:,} volunteers; innodb_buffer_pool_size {pool_mib:,} MiB"
        )
        for who, username in (("province", "bench_province"), ("兰州", "bench_lanzhou")):
            client = login(app, username)
            for page in pages_for(plain, who, settings.pii_encryption_key):
                if not wanted(args.only, page.label):
                    continue
                timing = time_page(client, log, who, page, args.repeat, not args.no_warmup)
                timings.append(timing)
                print(f"  {who:<9} {page.label[:70]:<70} {timing.ms:8.1f} ms", flush=True)
        openid, pages = team_pages(plain)
        client = team_login(app, openid)
        for page in pages:
            if not wanted(args.only, page.label):
                continue
            timing = time_page(client, log, "team", page, args.repeat, not args.no_warmup)
            timings.append(timing)
            print(f"  {'team':<9} {page.label[:70]:<70} {timing.ms:8.1f} ms", flush=True)
        print_timings(timings)
        print_plans(engine, timings, args.top)
        if args.audience:
            from bench.console_audience import measure

            measure(url, settings)
    finally:
        client_ = connect(settings)
        keys = list(client_.scan_iter(match=settings.redis_prefix + "*", count=1000))
        if keys:
            client_.delete(*keys)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
