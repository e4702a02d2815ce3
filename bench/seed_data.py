"""Generate a province-sized dataset in a fresh MariaDB database, for the console benchmarks.

    .venv/bin/python bench/seed_data.py                  # kjzy_scale: 1,000,000 volunteers
    .venv/bin/python bench/seed_data.py --scale 0.1 --db kjzy_scale_small

At scale 1: 1,000,000 volunteers (with valid encrypted ID numbers and keyed hashes, written
with the project's own domain.pii), 1.3 million followers, 20,000 teams in the hierarchy
总队—队—支队—分队 (most approved), about 1.1 million memberships, 100,000 activities over three
years with their sign-ups, attendance and service records, 5,000 needs, 300 notices (the last
with recipient rows for a tenth of the volunteers) and 100,000 audit entries, spread over
Gansu's 市州 and 县区.

The schema comes from the project's Alembic migrations (`upgrade head`). Rows are written as
tab-separated files and loaded with `LOAD DATA LOCAL INFILE` into the empty tables with
unique and foreign-key checks off (MariaDB then builds each index in one sorted pass), the next
table's file being written while the previous one loads. Prints rows/s per table.

The database is kept (drop it with --drop). Operators for the console benchmark:
`bench_province` (province) and `bench_lanzhou` (兰州市), password PASSWORD below.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import datetime
from pathlib import Path
from typing import IO

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

import pymysql  # noqa: E402
from sqlalchemy import create_engine, make_url, text  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from bench import seed_activity_rows as acts  # noqa: E402
from bench import seed_rows as rows  # noqa: E402
from config import Settings  # noqa: E402
from infra.migrate import upgrade  # noqa: E402
from models.audience import FILL_AUDIENCE_MARIADB  # noqa: E402
from models.base import utcnow  # noqa: E402
from models.notice import NoticeTemplate  # noqa: E402
from models.operator import ROLE_PROVINCE, ROLE_REGION, Operator  # noqa: E402
from models.report import rebuild as rebuild_rollups  # noqa: E402
from models.volunteer import FILL_SKILL_ROWS_MARIADB  # noqa: E402
from services.operators import PASSWORD_METHOD  # noqa: E402

SERVER = "mysql+pymysql://root@127.0.0.1:3306"
PII_KEY = "bench-scale-pii-key-0123456789abcdef01234567"
PASSWORD = "bench-password-2026"
OPERATORS = (("bench_province", ROLE_PROVINCE, None), ("bench_lanzhou", ROLE_REGION, "620100"))


def say(text_: str) -> None:
    print(text_, flush=True)


def settings_for(database_url: str, pii_key: str = PII_KEY, **env: str) -> Settings:
    return Settings.from_env(
        {
            "DATABASE_URL": database_url,
            "REDIS_URL": env.get("REDIS_URL", "redis://127.0.0.1:6379/0"),
            "WECHAT_TOKEN": "benchtoken",
            "WECHAT_APP_ID": "wx1234567890abcdef",
            "WECHAT_APP_SECRET": "bench-app-secret",
            "SECRET_KEY": "bench-secret-key",
            "PII_ENCRYPTION_KEY": pii_key,
            "WECHAT_API_BASE_URL": "http://127.0.0.1:9",
        },
        load_dotenv=False,
    )


def database_url(server: str, name: str) -> str:
    return f"{server.rstrip('/')}/{name}?charset=utf8mb4"


def create_database(server: str, name: str) -> None:
    admin = create_engine(server)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
        conn.execute(
            text(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        )
    admin.dispose()


def drop_database(server: str, name: str) -> None:
    admin = create_engine(server)
    with admin.connect() as conn:
        conn.execute(text(f"DROP DATABASE IF EXISTS `{name}`"))
    admin.dispose()


def connect(server: str, name: str) -> pymysql.connections.Connection:  # type: ignore[type-arg]
    url = make_url(server)
    return pymysql.connect(
        host=url.host or "127.0.0.1",
        port=url.port or 3306,
        user=url.username or "root",
        password=url.password or "",
        database=name,
        charset="utf8mb4",
        local_infile=True,
        autocommit=True,
    )


class Loader:
    """Writes each table's rows to a file, then loads it on a background thread, so the
    next table is generated while MariaDB loads the previous one."""

    def __init__(self, server: str, name: str, folder: Path) -> None:
        self.conn = connect(server, name)
        with self.conn.cursor() as cur:
            cur.execute("SET SESSION unique_checks=0, foreign_key_checks=0")
        self.folder = folder
        self.pool = ThreadPoolExecutor(max_workers=1)
        self.pending: list[Future[None]] = []
        self.figures: list[tuple[str, int, float, float]] = []

    def write(self, tables: dict[str, list[str]], lines: Iterable[tuple[str, str]]) -> None:
        """Write (table, line) pairs to one file per table, then queue the loads."""
        started = time.perf_counter()
        files: dict[str, IO[str]] = {
            t: (self.folder / f"{t}.tsv").open("w", encoding="utf-8") for t in tables
        }
        counts = dict.fromkeys(tables, 0)
        for table, row in lines:
            files[table].write(row)
            counts[table] += row.count("\n")
        for fh in files.values():
            fh.close()
        generated = time.perf_counter() - started
        for table, columns in tables.items():
            self.pending.append(
                self.pool.submit(self._load, table, columns, counts[table], generated)
            )
            generated = 0.0

    def table(self, name: str, columns: list[str], lines: Iterator[str]) -> None:
        self.write({name: columns}, ((name, row) for row in lines))

    def _load(self, table: str, columns: list[str], count: int, generated: float) -> None:
        path = self.folder / f"{table}.tsv"
        started = time.perf_counter()
        with self.conn.cursor() as cur:
            cur.execute(
                f"LOAD DATA LOCAL INFILE '{path}' INTO TABLE `{table}` CHARACTER SET utf8mb4 "
                f"FIELDS TERMINATED BY '\\t' LINES TERMINATED BY '\\n' "
                f"({', '.join(f'`{c}`' for c in columns)})"
            )
            loaded = cur.rowcount
        elapsed = time.perf_counter() - started
        if loaded != count:
            raise RuntimeError(f"{table}: wrote {count} rows, loaded {loaded}")
        path.unlink()
        self.figures.append((table, count, generated, elapsed))
        say(
            f"  {table:<20} {count:>10,} rows  generate {generated:6.1f} s  "
            f"load {elapsed:6.1f} s  {count / elapsed if elapsed else 0:>10,.0f} rows/s loaded"
        )

    def finish(self) -> None:
        for future in self.pending:
            future.result()
        self.pool.shutdown()
        with self.conn.cursor() as cur:
            for table, *_ in self.figures:
                cur.execute(f"ANALYZE TABLE `{table}`")
                cur.fetchall()
        self.conn.close()


def add_operators_and_templates(url: str, pii_key: str) -> None:
    from werkzeug.security import generate_password_hash

    engine = create_engine(url)
    password = generate_password_hash(PASSWORD, method=PASSWORD_METHOD)
    with Session(engine) as session, session.begin():
        for username, role, region in OPERATORS:
            session.add(
                Operator(username=username, password_hash=password, role=role, region_code=region)
            )
        session.add(
            NoticeTemplate(
                template_id="bench-template-activity",
                title="活动提醒",
                fields=[{"key": "thing1", "label": "活动名称"}, {"key": "time2", "label": "时间"}],
                verified=True,
            )
        )
    engine.dispose()


def seed(
    server: str, name: str, scale: float, seed_value: int, pii_key: str, jobs: int = 2
) -> float:
    url = database_url(server, name)
    started = time.perf_counter()
    create_database(server, name)
    upgrade(settings_for(url, pii_key))
    add_operators_and_templates(url, pii_key)
    say(f"database {name}: schema at head ({time.perf_counter() - started:.1f} s)")
    world = rows.make_world(seed_value, scale, utcnow())
    with tempfile.TemporaryDirectory(prefix="kjzy-seed-") as folder:
        loader = Loader(server, name, Path(folder))
        steps: list[Callable[[], None]] = [
            lambda: loader.table(
                "volunteers", rows.VOLUNTEER_COLUMNS, rows.volunteers(world, pii_key, jobs)
            ),
            lambda: loader.table("followers", rows.FOLLOWER_COLUMNS, rows.followers(world)),
            lambda: loader.table("teams", rows.TEAM_COLUMNS, rows.teams(world)),
            lambda: loader.table(
                "team_memberships", rows.MEMBERSHIP_COLUMNS, rows.memberships(world)
            ),
            lambda: loader.table("team_admins", rows.ADMIN_COLUMNS, rows.team_admins(world)),
            lambda: loader.write(
                {
                    "activities": acts.ACTIVITY_COLUMNS,
                    "signups": acts.SIGNUP_COLUMNS,
                    "attendances": acts.ATTENDANCE_COLUMNS,
                    "service_records": acts.RECORD_COLUMNS,
                    "record_corrections": acts.CORRECTION_COLUMNS,
                },
                acts.activity_rows(world),
            ),
            lambda: loader.table("needs", acts.NEED_COLUMNS, acts.needs(world)),
            lambda: loader.write(
                {"notices": acts.NOTICE_COLUMNS, "notice_recipients": acts.RECIPIENT_COLUMNS},
                acts.notices(world),
            ),
            lambda: loader.table("audit_log", acts.AUDIT_COLUMNS, acts.audit_log(world)),
        ]
        for step in steps:
            step()
        loader.finish()
    # The skill rows the Volunteer model writes on ORM writes (models.volunteer.VolunteerSkill).
    with connect(server, name) as conn, conn.cursor() as cur:
        cur.execute(FILL_SKILL_ROWS_MARIADB)
        cur.execute("ANALYZE TABLE volunteer_skills")
        cur.fetchall()
        # The audience's flag, time rows and counters (models.audience), after the skill rows.
        for statement in FILL_AUDIENCE_MARIADB:
            cur.execute(statement)
        cur.execute("ANALYZE TABLE volunteers, volunteer_service_times")
        cur.fetchall()
    # The report rollups the models keep on ORM writes (models.report), from the loaded rows.
    rolled = time.perf_counter()
    engine = create_engine(url)
    with engine.begin() as connection:
        written = rebuild_rollups(connection)
    engine.dispose()
    say(
        f"report rollups rebuilt in {time.perf_counter() - rolled:.1f} s ("
        + ", ".join(f"{table} {rows:,}" for table, rows in written.items())
        + ")"
    )
    elapsed = time.perf_counter() - started
    total = sum(count for _, count, _, _ in loader.figures)
    say(
        f"seeded {total:,} rows in {elapsed:.0f} s ({total / elapsed:,.0f} rows/s overall); "
        f"big team #{world.big_team} has {len(world.members.get(world.big_team, [])):,} members"
    )
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="kjzy_scale", help="database name (dropped first)")
    parser.add_argument("--server", default=SERVER, help="SQLAlchemy URL of the server")
    parser.add_argument("--scale", type=float, default=1.0, help="1.0 = 1,000,000 volunteers")
    parser.add_argument("--seed", type=int, default=20261201)
    parser.add_argument("--pii-key", default=PII_KEY, help="PII_ENCRYPTION_KEY for the rows")
    parser.add_argument("--jobs", type=int, default=2, help="processes generating volunteers")
    parser.add_argument("--drop", action="store_true", help="only drop the database")
    args = parser.parse_args(argv)
    if not args.db.startswith("kjzy_"):
        parser.error("the database name must start with kjzy_ (it is dropped and re-created)")
    if args.drop:
        drop_database(args.server, args.db)
        return 0
    say(f"seeding {args.db} at scale {args.scale} ({datetime.now():%H:%M:%S})")
    seed(args.server, args.db, args.scale, args.seed, args.pii_key, args.jobs)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
