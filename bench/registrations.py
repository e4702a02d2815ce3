"""Complete volunteer registrations against WeRoBot's bare echo, loaded by wrk (about two
minutes; loopback only).

    bash bench/setup.sh                          # once: wrk, and WeRoBot in bench/.venv-werobot
    .venv/bin/python bench/registrations.py      # needs MariaDB and Redis on 127.0.0.1

A registration is 14 messages from a new follower: 志愿者 → 注册, the 12 answers (a fresh
valid ID number each time) and 确认. They go through dedup, the per-user lock, the conversation
engine (state in Redis, the ID number encrypted inside it) and, at 确认, one MariaDB transaction
with the blind-index uniqueness check. One user's messages must arrive in order, so wrk runs one
connection per thread (`-t50 -c50`) and each thread replays its own file of registrations. The
yardstick is WeRoBot's echo (`-t1 -c50`), in rounds interleaved with the registrations; the
script prints messages/s, registrations/s, p50/p99 per message, the ratio to WeRoBot's echo,
and how many volunteers the database holds at the end (each registration must have saved one).

    .venv/bin/python bench/registrations.py --in-process 200

calls the service's WSGI app directly from one thread instead (no web server, no wrk; real
MariaDB and Redis) and prints, per kind of message, the CPU of this process (all its threads),
the wall time, the SQL statements and the Redis round trips: where a registration's cost goes,
little changed by other load on the machine.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import sys
from datetime import date, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.load import (  # noqa: E402
    WORK,
    Sealer,
    Server,
    Stack,
    WrkResult,
    check_reply,
    click_xml,
    ensure_tools,
    openid_of,
    post_once,
    random_aes_key,
    run_wrk,
    text_xml,
    werobot_server,
    write_lines,
)
from bench.webhook import werobot_version  # noqa: E402
from domain import regions  # noqa: E402
from domain.idcard import compute_check_digit  # noqa: E402
from infra.webserver import THREADS  # noqa: E402
from wechat.protocol import Protocol  # noqa: E402

_serial = itertools.count()
_users = itertools.count()
_BASE_BIRTH = date(1960, 1, 1)
MESSAGES_PER_REGISTRATION = 14


def fresh_id_number() -> str:
    """A valid, unique (for this run) 18-digit ID number of an adult."""
    n = next(_serial) + os.getpid() % 97 * 1_000_000
    birth = _BASE_BIRTH + timedelta(days=(n // 999) % 14_000)
    first17 = f"620102{birth:%Y%m%d}{n % 999 + 1:03d}"
    return first17 + compute_check_digit(first17)


def _place(number: int, places: int) -> tuple[str, str]:
    """The (市州, 县区) menu numbers of the `number`th registration: with `places` 1 everyone's
    the same (the report and audience counters of one county take every registration), else
    one of the first `places` counties of Gansu in turn."""
    if places <= 1:
        return "3", "1"
    counties = [
        (p, c) for p, division in enumerate(regions.prefectures(), 1)
        for c, _ in enumerate(regions.counties(division.code), 1)
    ]  # fmt: skip
    prefecture, county = counties[number % min(places, len(counties))]
    return str(prefecture), str(county)


PLACES = 1  # set by --places


def registration(sealer: Sealer) -> list[tuple[str, str]]:
    """The 14 requests of one new follower's registration, each with the start of its answer."""
    number = next(_users)
    openid = openid_of(number, "Reg")
    prefecture, county = _place(number, PLACES)
    said = [
        ("同意", "请输入您的真实姓名"),
        ("张三", "请输入您的18位身份证号"),
        (fresh_id_number(), "请输入您的手机号"),
        ("13812345678", "请选择您的最高学历"),
        ("3", "请选择您所在的市州"),
        (prefecture, "请选择您所在的县区"),
        (county, "请输入您的工作单位"),
        ("跳过", "请选择您的职业或身份"),
        ("1", "请选择您的专业领域"),
        ("1 3", "请简要描述您的专长"),
        ("果树栽培", "请选择您方便参加志愿服务的时间"),
        ("周末", "请核对您的注册信息"),
        ("确认", "注册成功"),
    ]
    first = (sealer.line(click_xml(openid, "VOLUNTEER_REGISTER"), openid), "欢迎注册科技志愿者")
    return [first] + [
        (sealer.line(text_xml(openid, text), openid), expect) for text, expect in said
    ]


def write_registrations(sealer: Sealer, name: str, threads: int, per_thread: int) -> Path:
    base = WORK / f"{name}.req"
    for thread in range(threads):
        lines = (line for _ in range(per_thread) for line, _ in registration(sealer))
        write_lines(Path(f"{base}.{thread}"), lines)
    return base


def check_one_registration(port: int, sealer: Sealer, aes_key: str) -> None:
    protocol = Protocol(sealer_token(), sealer_app_id(), aes_key)
    for line, expect in registration(sealer):
        status, data = post_once(port, "/wechat", line)
        opened = protocol.open_reply(data, {}) if status == 200 else None
        content = (opened or {}).get("Content", "")
        if expect not in content:
            raise RuntimeError(f"registration: expected {expect!r}, got {content[:80]!r}")


def _pids_named(*names: str) -> list[int]:
    found = []
    for comm in Path("/proc").glob("[0-9]*/comm"):
        try:
            if comm.read_text().strip() in names:
                found.append(int(comm.parent.name))
        except OSError:
            continue
    return found


def _cpu_of(pids: list[int]) -> float:
    total = 0
    for pid in pids:
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / os.sysconf("SC_CLK_TCK")


class CpuSplit:
    """CPU seconds spent during a run by the server, MariaDB, Redis and wrk (MariaDB and Redis
    are shared with whatever else runs on the machine)."""

    def __init__(self, server: Server) -> None:
        self.server = server
        self.shared = {
            "mariadb": _pids_named("mariadbd", "mysqld"),
            "redis": _pids_named("redis-server"),
        }

    def snapshot(self) -> dict[str, float]:
        import resource

        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        return {
            "server": self.server.cpu_seconds(),
            **{name: _cpu_of(pids) for name, pids in self.shared.items()},
            "wrk": children.ru_utime + children.ru_stime,
        }

    @staticmethod
    def since(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
        return {name: after[name] - before[name] for name in before}


def sealer_token() -> str:
    from bench.load import TOKEN

    return TOKEN


def sealer_app_id() -> str:
    from bench.load import APP_ID

    return APP_ID


def in_process(args: argparse.Namespace) -> int:
    """Registrations driven message by message through the WSGI app, in this process."""
    import io
    import resource
    import time

    import redis as redis_module
    from sqlalchemy import create_engine, event, text

    from bench.load import APP_ID, APP_SECRET
    from config import Settings
    from infra.migrate import upgrade
    from sandbox.fake_wechat import FakeWeChatServer

    aes_key = random_aes_key()
    sealer = Sealer(aes_key)
    stack = Stack(args.mysql, args.redis, aes_key)
    admin = create_engine(stack.server_url)
    with admin.connect() as conn:
        conn.execute(
            text(
                f"CREATE DATABASE `{stack.db_name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
            )
        )
    admin.dispose()
    stack.db_created = True
    stack.fake = FakeWeChatServer(APP_ID, APP_SECRET).start()
    try:
        env = stack.env()
        upgrade(Settings.from_env(env, load_dotenv=False))
        os.environ.update(env)
        from app import create_app

        app = create_app()
        engine = app.extensions["services"].db.engine
        counts = {"sql": 0, "redis": 0, "db": 0}

        shown: list[str] = []

        def on_sql(_conn: object, _cursor: object, statement: str, *_: object) -> None:
            counts["sql"] += 1
            if args.show_sql:
                shown.append(" ".join(statement.split())[:150])

        event.listen(engine, "before_cursor_execute", on_sql)
        sent = redis_module.connection.AbstractConnection.send_packed_command

        def counting_send(self: object, *a: object, **k: object) -> None:
            counts["redis"] += 1
            sent(self, *a, **k)  # type: ignore[arg-type]

        redis_module.connection.AbstractConnection.send_packed_command = counting_send  # type: ignore[method-assign]
        # Every command PyMySQL sends (statements, pings, COMMIT, ROLLBACK): round trips.
        import pymysql.connections

        command = pymysql.connections.Connection._execute_command

        def counting_command(self: object, code: int, sql: object) -> object:
            counts["db"] += 1
            if args.show_sql and code != 3:  # not COM_QUERY: a ping
                shown.append(f"(command {code})")
            elif args.show_sql and str(sql)[:8].upper() in ("COMMIT", "ROLLBACK"):
                shown.append(str(sql))
            return command(self, code, sql)  # type: ignore[arg-type]

        pymysql.connections.Connection._execute_command = counting_command  # type: ignore[method-assign]
        protocol = Protocol(sealer_token(), sealer_app_id(), aes_key)
        wsgi = app.wsgi_app

        def call(line: str) -> bytes:
            query, body = line.split("\t", 1)
            data = body.encode()
            environ = {
                "REQUEST_METHOD": "POST",
                "PATH_INFO": "/wechat",
                "QUERY_STRING": query,
                "CONTENT_TYPE": "text/xml",
                "CONTENT_LENGTH": str(len(data)),
                "SERVER_NAME": "127.0.0.1",
                "SERVER_PORT": "80",
                "SERVER_PROTOCOL": "HTTP/1.1",
                "REMOTE_ADDR": "127.0.0.1",
                "wsgi.input": io.BytesIO(data),
                "wsgi.url_scheme": "http",
                "wsgi.errors": sys.stderr,
                "wsgi.multithread": True,
                "wsgi.multiprocess": True,
                "wsgi.run_once": False,
                "wsgi.version": (1, 0),
            }
            status: list[str] = []
            out = b"".join(wsgi(environ, lambda s, h, e=None: status.append(s)))
            if not status or not status[0].startswith("200"):
                raise RuntimeError(f"status {status}")
            return out

        kinds = ["first (注册)"] + ["answer"] * 12 + ["确认"]
        rows: dict[int, list[tuple[float, float, int, int, int]]] = {i: [] for i in range(14)}
        warm = 20
        shared = {
            "MariaDB": _pids_named("mariadbd", "mysqld"),
            "Redis": _pids_named("redis-server"),
        }
        idle = {name: _cpu_of(pids) for name, pids in shared.items()}
        time.sleep(3.0)
        idle = {name: (_cpu_of(pids) - idle[name]) / 3.0 for name, pids in shared.items()}
        for number in range(warm + args.in_process):
            if number == warm:
                began = time.perf_counter()
                busy = {name: _cpu_of(pids) for name, pids in shared.items()}
            for index, (line, expect) in enumerate(registration(sealer)):
                before = (counts["sql"], counts["redis"], counts["db"], len(shown))
                cpu0, wall0 = time.process_time(), time.perf_counter()
                out = call(line)
                cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
                if args.show_sql and number == warm + args.in_process - 1:
                    print(f"-- message {index}: " + "\n   ".join(shown[before[3] :]))
                opened = protocol.open_reply(out, {}) or {}
                if expect not in opened.get("Content", ""):
                    raise RuntimeError(f"step {index}: expected {expect!r}, got {opened!r}"[:200])
                if number >= warm:
                    rows[index].append(
                        (
                            cpu,
                            wall,
                            counts["sql"] - before[0],
                            counts["db"] - before[2],
                            counts["redis"] - before[1],
                        )
                    )
        took = time.perf_counter() - began
        busy = {
            name: ((_cpu_of(pids) - busy[name]) - idle[name] * took) / args.in_process * 1000
            for name, pids in shared.items()
        }
        usage = resource.getrusage(resource.RUSAGE_SELF)
        print(
            f"in process: {args.in_process} registrations after {warm} warm-up ones; "
            f"load {os.getloadavg()[0]:.1f}; max RSS {usage.ru_maxrss // 1024} MB"
        )
        print("  message                CPU ms   wall ms   SQL  MariaDB  Redis   (round trips)")
        total = [0.0, 0.0, 0.0, 0.0, 0.0]
        for index in range(14):
            got = rows[index]
            cpu = statistics.fmean(r[0] for r in got) * 1000
            wall = statistics.fmean(r[1] for r in got) * 1000
            sql = statistics.fmean(r[2] for r in got)
            db = statistics.fmean(r[3] for r in got)
            red = statistics.fmean(r[4] for r in got)
            for i, v in enumerate((cpu, wall, sql, db, red)):
                total[i] += v
            print(
                f"  {index:2d} {kinds[index]:<18} {cpu:7.2f} {wall:9.2f} {sql:5.1f} {db:8.1f}"
                f" {red:6.1f}"
            )
        print(
            f"  a registration         {total[0]:7.2f} {total[1]:9.2f} {total[2]:5.1f}"
            f" {total[3]:8.1f} {total[4]:6.1f}"
        )
        print(
            "  the servers' CPU per registration (what they used beyond their rate in the 3 s "
            "before; other load on them counts): "
            + ", ".join(f"{name} {ms:.2f} ms" for name, ms in busy.items())
        )
    finally:
        stack.stop()
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=50, help="users at once")
    parser.add_argument("--per-thread", type=int, default=60, help="registrations per file")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=THREADS, help="this service's threads per worker"
    )
    parser.add_argument("--mysql", default="mysql+pymysql://root@127.0.0.1:3306")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    parser.add_argument(
        "--in-process",
        type=int,
        default=0,
        metavar="N",
        help="instead: N registrations through the WSGI app in this process, cost per message",
    )
    parser.add_argument(
        "--show-sql", action="store_true", help="with --in-process: the last one's statements"
    )
    parser.add_argument(
        "--places",
        type=int,
        default=1,
        help="counties the registrations are spread over in turn (1: all in one county)",
    )
    args = parser.parse_args(argv)
    global PLACES
    PLACES = args.places
    if args.in_process:
        return in_process(args)
    ensure_tools()

    aes_key = random_aes_key()
    sealer = Sealer(aes_key)
    stack = Stack(args.mysql, args.redis, aes_key, args.workers, args.threads)
    werobot = werobot_server(aes_key, args.workers)
    echo_runs: list[WrkResult] = []
    register_runs: list[WrkResult] = []
    echo_cpu: list[dict[str, float]] = []
    register_cpu: list[dict[str, float]] = []
    try:
        service: Server = stack.start()
        werobot.start()
        echo = lambda i: sealer.line(text_xml(u := openid_of(i % 5000, "Echo"), "echo"), u)  # noqa: E731
        check_reply(werobot.port, "/", echo(0), aes_key, "echo")
        check_one_registration(service.port, sealer, aes_key)
        print(
            f"{args.workers} worker processes each: WeRoBot {werobot_version()} echo (gunicorn, "
            f"wrk -t1 -c{args.connections}) vs. registrations (granian, {args.threads} threads; wrk "
            f"-t{args.connections} -c{args.connections}, one user per connection at a time); "
            f"{args.rounds} rounds x ({args.warmup:g} s warm-up + {args.duration:g} s); "
            f"load {os.getloadavg()[0]:.1f}"
        )
        for number in range(1, args.rounds + 1):
            file = WORK / "echo.req"
            write_lines(file, (echo(i) for i in range(40000)))
            run_wrk(werobot.port, "/", file, args.warmup, connections=args.connections)
            split = CpuSplit(werobot)
            before = split.snapshot()
            result = run_wrk(werobot.port, "/", file, args.duration, connections=args.connections)
            echo_cpu.append(
                {
                    k: v / max(1, result.requests)
                    for k, v in split.since(before, split.snapshot()).items()
                }
            )
            echo_runs.append(result)
            print(
                f"  round {number} werobot  {result.rate:7.0f} msg/s  p50 {result.p50_ms:.1f} ms"
                f"  p99 {result.p99_ms:.1f} ms"
            )
            for name, seconds in (("warm", args.warmup), ("register", args.duration)):
                base = write_registrations(sealer, name, args.connections, args.per_thread)
                split = CpuSplit(service)
                before = split.snapshot()
                result = run_wrk(
                    service.port,
                    "/wechat",
                    base,
                    seconds,
                    connections=args.connections,
                    threads=args.connections,
                    per_thread=True,
                )
                if result.wraps:
                    print("  warning: a thread ran out of registrations; raise --per-thread")
            register_cpu.append(
                {
                    k: v / max(1, result.requests) * MESSAGES_PER_REGISTRATION
                    for k, v in split.since(before, split.snapshot()).items()
                }
            )
            register_runs.append(result)
            print(
                f"  round {number} register {result.rate:7.0f} msg/s  p50 {result.p50_ms:.1f} ms"
                f"  p99 {result.p99_ms:.1f} ms"
            )
        echo_rate = statistics.median(r.rate for r in echo_runs)
        rate = statistics.median(r.rate for r in register_runs)
        ratio = statistics.median(
            b.rate / a.rate for a, b in zip(echo_runs, register_runs, strict=True) if a.rate
        )
        bad = sum(r.non_2xx + r.socket_errors for r in [*echo_runs, *register_runs])
        print(f"summary (load average now {os.getloadavg()[0]:.1f}):")
        print(f"  werobot echo {echo_rate:7.0f} msg/s")
        print(
            f"  registration {rate:7.0f} msg/s = {rate / MESSAGES_PER_REGISTRATION:.1f} "
            f"registrations/s; p50 {statistics.median(r.p50_ms for r in register_runs):.1f} ms, "
            f"p99 {max(r.p99_ms for r in register_runs):.1f} ms per message; non-2xx/errors {bad}"
        )
        print(f"  ratio registration messages/s ÷ WeRoBot echo: {ratio:.2f}")

        def cpu_text(runs: list[dict[str, float]], scale: float) -> str:
            parts = {k: statistics.median(r[k] for r in runs) * scale for k in runs[0]}
            total = sum(parts.values())
            return f"{total:.2f} ms (" + ", ".join(f"{k} {v:.2f}" for k, v in parts.items()) + ")"

        print(
            "  CPU per registration (median of rounds; MariaDB and Redis include other load): "
            + cpu_text(register_cpu, 1000)
        )
        print("  CPU per WeRoBot echo message: " + cpu_text(echo_cpu, 1000))
        saved = stack.count("SELECT COUNT(*) FROM volunteers")
        done = sum(r.requests for r in register_runs)
        print(
            f"  volunteers saved: {saved} (measured runs sent {done} messages "
            f"≈ {done // MESSAGES_PER_REGISTRATION} registrations' worth, plus warm-ups and the "
            "check; each run ends with up to one unfinished registration per connection)"
        )
    finally:
        werobot.stop()
        stack.stop()
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
