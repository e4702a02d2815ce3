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


def registration(sealer: Sealer) -> list[tuple[str, str]]:
    """The 14 requests of one new follower's registration, each with the start of its answer."""
    openid = openid_of(next(_users), "Reg")
    said = [
        ("同意", "请输入您的真实姓名"),
        ("张三", "请输入您的18位身份证号"),
        (fresh_id_number(), "请输入您的手机号"),
        ("13812345678", "请选择您的最高学历"),
        ("3", "请选择您所在的市州"),
        ("1", "请选择您所在的县区"),
        ("1", "请输入您的工作单位"),
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


def sealer_token() -> str:
    from bench.load import TOKEN

    return TOKEN


def sealer_app_id() -> str:
    from bench.load import APP_ID

    return APP_ID


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--connections", type=int, default=50, help="users at once")
    parser.add_argument("--per-thread", type=int, default=25, help="registrations per file")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--threads", type=int, default=THREADS, help="this service's threads per worker"
    )
    parser.add_argument("--mysql", default="mysql+pymysql://root@127.0.0.1:3306")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    ensure_tools()

    aes_key = random_aes_key()
    sealer = Sealer(aes_key)
    stack = Stack(args.mysql, args.redis, aes_key, args.workers, args.threads)
    werobot = werobot_server(aes_key, args.workers)
    echo_runs: list[WrkResult] = []
    register_runs: list[WrkResult] = []
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
            result = run_wrk(werobot.port, "/", file, args.duration, connections=args.connections)
            echo_runs.append(result)
            print(
                f"  round {number} werobot  {result.rate:7.0f} msg/s  p50 {result.p50_ms:.1f} ms"
                f"  p99 {result.p99_ms:.1f} ms"
            )
            for name, seconds in (("warm", args.warmup), ("register", args.duration)):
                base = write_registrations(sealer, name, args.connections, args.per_thread)
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
