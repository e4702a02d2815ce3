"""The webhook against WeRoBot's bare echo, loaded by wrk (about seven minutes; loopback only).

    bash bench/setup.sh                      # once: wrk, and WeRoBot in bench/.venv-werobot
    .venv/bin/python bench/webhook.py        # needs MariaDB on 127.0.0.1 and redis-server
    .venv/bin/python bench/webhook.py --help

One interleaved run, round after round, of four targets, each server with 2 worker processes:
- werobot: WeRoBot's echo (`gunicorn -w 2 werobot_echo:app`, bench-only venv);
- floor: this service's parse-and-echo route (signature, decryption, parsing, an echo, encryption;
  no dispatcher), registered by `bench_app()` only when KJZY_BENCH_FLOOR=1;
- full: this service as deployed (`python -m infra.webserver`: granian, WEB_THREADS per worker;
  Redis on a Unix socket: a redis-server of the bench's own, see --redis),
  「帮助」 through /wechat from 5,000 known users: signature, timestamp window, decryption,
  field checks, the replay check, dedup, the user lock, observers, routing, the reply, encryption;
- first: the same from users never seen before (a follower row is written).
wrk (`-t1 -c50`) replays pre-signed, AES-encrypted requests (a new signature, nonce and MsgId
each) from files this script writes just before each run (bench/wrk_requests.lua). It prints
messages/s, p50/p99, non-2xx, service CPU and context switches per message, Redis commands and
Redis CPU per message (exact on the private server), the machine's busy share, each round's
ratios, and the ratios to WeRoBot and to the floor as median, min and max over the rounds.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from flask import Blueprint, Flask, Response, current_app, request  # noqa: E402

from bench.load import (  # noqa: E402
    FLOOR_ENV,
    FLOOR_PATH,
    WORK,
    PrivateRedis,
    Sealer,
    Server,
    Stack,
    WrkResult,
    check_reply,
    ensure_tools,
    machine_times,
    openid_of,
    random_aes_key,
    redis_commands,
    run_wrk,
    text_xml,
    werobot_server,
    write_lines,
)
from infra.webserver import THREADS  # noqa: E402
from wechat.messages import Inbound, Reply  # noqa: E402
from wechat.protocol import Protocol, ProtocolError, SignatureError  # noqa: E402

# ---- the service side (imported by the service's workers) ------------------------------------------

floor_bp = Blueprint("bench_floor", __name__)


@floor_bp.post(FLOOR_PATH)
def floor() -> Response:
    """The protocol work of a reply without the dispatcher: verify, decrypt, parse, echo."""
    protocol: Protocol = current_app.extensions["bot"].protocol
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    try:
        protocol.check_signature(args.get("signature", ""), timestamp, nonce)
        inner = protocol.decrypt(
            request.get_data(), args.get("msg_signature", ""), timestamp, nonce
        )
        msg = Inbound.from_fields(current_app.extensions["bot"].parse(inner))
    except SignatureError:
        return Response("forbidden", status=403)
    except ProtocolError:
        return Response("bad request", status=400)
    xml = Reply(text=msg.text).render(to_openid=msg.openid, from_account=msg.account)
    return Response(protocol.encrypt(xml, nonce=nonce), mimetype="application/xml")


def bench_app() -> Flask:
    """WEB_APP=bench.webhook:bench_app: the service, plus the floor route when enabled."""
    from app import create_app

    app = create_app()
    if os.environ.get(FLOOR_ENV) == "1":
        app.register_blueprint(floor_bp)
    return app


# ---- the run ---------------------------------------------------------------------------------

HELP_REPLY = "使用说明"


@dataclass
class Target:
    name: str
    path: str
    content: str
    expect: str
    users: Callable[[int], str]  # line number -> openid
    runs: list[WrkResult] = field(default_factory=list)
    cpu_ms: list[float] = field(default_factory=list)
    switches: list[float] = field(default_factory=list)
    redis_per_message: list[float] = field(default_factory=list)
    redis_cpu_ms: list[float] = field(default_factory=list)
    busy: list[float] = field(default_factory=list)  # the machine's busy share during the run


def lines_for(sealer: Sealer, target: Target, count: int) -> list[str]:
    return [
        sealer.line(text_xml(openid := target.users(i), target.content), openid)
        for i in range(count)
    ]


class FreshUsers:
    """Openids never used before, for first-message runs."""

    def __init__(self) -> None:
        self.next = 0

    def __call__(self, _line: int) -> str:
        self.next += 1
        return openid_of(self.next, "New")


def measure(
    target: Target,
    server: Server,
    sealer: Sealer,
    args: argparse.Namespace,
    redis_url: str | None,
    redis_server: PrivateRedis | None,
) -> WrkResult:
    file = WORK / f"{target.name}.req"
    write_lines(file, lines_for(sealer, target, args.lines))
    warm = WORK / f"{target.name}-warm.req"
    write_lines(warm, lines_for(sealer, target, args.lines // 3))
    run_wrk(server.port, target.path, warm, args.warmup, connections=args.connections)
    cpu, switches = server.cpu_seconds(), server.context_switches()
    commands = redis_commands(redis_url) if redis_url else 0
    redis_cpu = redis_server.cpu_seconds() if redis_server is not None else 0.0
    ticks, idle = machine_times()
    result = run_wrk(server.port, target.path, file, args.duration, connections=args.connections)
    ticks_after, idle_after = machine_times()
    if ticks_after > ticks:
        target.busy.append(1 - (idle_after - idle) / (ticks_after - ticks))
    if result.requests:
        target.cpu_ms.append((server.cpu_seconds() - cpu) * 1000 / result.requests)
        target.switches.append((server.context_switches() - switches) / result.requests)
        if redis_url:
            target.redis_per_message.append(
                (redis_commands(redis_url) - commands) / result.requests
            )
        if redis_url and redis_server is not None:
            target.redis_cpu_ms.append(
                (redis_server.cpu_seconds() - redis_cpu) * 1000 / result.requests
            )
    target.runs.append(result)
    return result


def row(target: Target) -> str:
    rates = [r.rate for r in target.runs]
    p50 = statistics.median(r.p50_ms for r in target.runs)
    p99 = max(r.p99_ms for r in target.runs)
    bad = sum(r.non_2xx + r.socket_errors for r in target.runs)
    extra = ""
    if target.cpu_ms:
        extra = (
            f"  CPU {statistics.median(target.cpu_ms):.3f} ms/msg"
            f"  ctx switches {statistics.median(target.switches):.1f}/msg"
        )
    if target.redis_per_message:
        extra += f"  Redis cmds {statistics.median(target.redis_per_message):.1f}/msg"
    if target.redis_cpu_ms:
        extra += f"  Redis CPU {statistics.median(target.redis_cpu_ms):.3f} ms/msg"
    if target.busy:
        extra += f"  machine busy {statistics.median(target.busy) * 100:.0f}%"
    return (
        f"{target.name:<8} {statistics.median(rates):7.0f} msg/s (runs {min(rates):.0f}-"
        f"{max(rates):.0f})  p50 {p50:6.1f} ms  p99 {p99:6.1f} ms (worst run)  "
        f"non-2xx/errors {bad}{extra}"
    )


def ratios(a: Target, b: Target) -> list[float]:
    """a's rate over b's, round by round (the two ran next to each other)."""
    return [x.rate / y.rate for x, y in zip(a.runs, b.runs, strict=False) if y.rate]


def ratio_line(name: str, values: list[float]) -> str:
    rounds = ", ".join(f"{v:.2f}" for v in values)
    return (
        f"{name}: median {statistics.median(values):.2f}, min {min(values):.2f}, "
        f"max {max(values):.2f} (rounds: {rounds})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--duration", type=float, default=8.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=2.0, help="unmeasured seconds per run")
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--users", type=int, default=5000, help="known users of the full path")
    parser.add_argument(
        "--lines",
        type=int,
        default=120_000,
        help="requests written per run: more than the fastest target's rate x duration (the "
        "floor reaches 11,000 msg/s here), or wrk replays them and the full path sees duplicates",
    )
    parser.add_argument("--workers", type=int, default=2, help="worker processes of each server")
    parser.add_argument(
        "--threads", type=int, default=THREADS, help="this service's threads per worker"
    )
    parser.add_argument("--only", action="append", help="targets to run (default: all)")
    parser.add_argument("--mysql", default="mysql+pymysql://root@127.0.0.1:3306")
    parser.add_argument(
        "--redis",
        default="unix",
        help="unix (default): a redis-server of the bench's own on a Unix socket, as deployed; "
        "tcp: the same server over loopback TCP; or the URL of a running server (shared: its "
        "Redis figures then count whatever else uses it)",
    )
    args = parser.parse_args(argv)
    ensure_tools()

    aes_key = random_aes_key()
    sealer = Sealer(aes_key)
    redis_server = PrivateRedis(tcp=args.redis == "tcp") if args.redis in ("unix", "tcp") else None
    werobot = werobot_server(aes_key, args.workers)
    fresh = FreshUsers()
    targets = [
        Target("werobot", "/", "echo", "echo", lambda i: openid_of(i % args.users, "Known")),
        Target("floor", FLOOR_PATH, "echo", "echo", lambda i: openid_of(i % args.users, "Known")),
        Target("full", "/wechat", "帮助", HELP_REPLY, lambda i: openid_of(i % args.users, "Known")),
        Target("first", "/wechat", "帮助", HELP_REPLY, fresh),
    ]
    targets = [t for t in targets if not args.only or t.name in args.only]
    stack: Stack | None = None
    bad = 0
    try:
        redis_url = args.redis
        if redis_server is not None:
            redis_server.start()
            redis_url = redis_server.tcp_url if args.redis == "tcp" else redis_server.unix_url
        stack = Stack(args.mysql, redis_url, aes_key, args.workers, args.threads)
        service = stack.start()
        werobot.start()
        server_of = {"werobot": werobot}
        for target in targets:
            server = server_of.get(target.name, service)
            check_reply(
                server.port, target.path, lines_for(sealer, target, 1)[0], aes_key, target.expect
            )
        # The known users: one message each, so that the full path runs in steady state.
        known = WORK / "known.req"
        write_lines(
            known,
            (sealer.line(text_xml(u, "帮助"), u) for u in map(targets[0].users, range(args.users))),
        )
        run_wrk(service.port, "/wechat", known, 120, connections=args.connections, once=True)
        where = "a private redis-server" if redis_server is not None else "a shared Redis"
        print(
            f"{args.workers} worker processes each: WeRoBot {werobot_version()} (gunicorn sync) "
            f"vs. this service (granian, {args.threads} threads; {where}, {redis_url}); "
            f"wrk -t1 -c{args.connections}; {args.rounds} rounds x ({args.warmup:g} s warm-up + "
            f"{args.duration:g} s) per target; {os.cpu_count()} CPUs shared with wrk, MariaDB and "
            f"Redis; load {os.getloadavg()[0]:.1f}"
        )
        by_name = {t.name: t for t in targets}
        for number in range(1, args.rounds + 1):
            for target in targets:
                server = server_of.get(target.name, service)
                result = measure(
                    target,
                    server,
                    sealer,
                    args,
                    redis_url if server is service else None,
                    redis_server,
                )
                if result.wraps:
                    print(f"  warning: {target.name} ran out of requests; raise --lines")
                print(
                    f"  round {number} {target.name:<8} {result.rate:7.0f} msg/s  "
                    f"p50 {result.p50_ms:.1f} ms  p99 {result.p99_ms:.1f} ms"
                )
            if "werobot" in by_name:
                here = [
                    f"{t.name}/werobot {t.runs[-1].rate / by_name['werobot'].runs[-1].rate:.2f}"
                    for t in targets
                    if t.name != "werobot" and by_name["werobot"].runs[-1].rate
                ]
                print(f"  round {number}: {', '.join(here)}; load {os.getloadavg()[0]:.1f}")
        print(f"summary (load average now {os.getloadavg()[0]:.1f}):")
        for target in targets:
            print("  " + row(target))
        for name in ("floor", "full", "first"):
            if name in by_name and "werobot" in by_name:
                print(
                    "  " + ratio_line(f"{name}/werobot", ratios(by_name[name], by_name["werobot"]))
                )
        for name in ("full", "first"):
            if name in by_name and "floor" in by_name:
                print("  " + ratio_line(f"{name}/floor", ratios(by_name[name], by_name["floor"])))
        routed = stack.log_lines("route=basics.help_word status=ok")
        served = sum(r.requests for n in ("full", "first") if n in by_name for r in by_name[n].runs)
        print(f"  service log: {routed} messages routed to 帮助 (wrk counted {served} + warm-ups)")
        bad = sum(r.non_2xx + r.socket_errors for t in targets for r in t.runs)
    finally:
        werobot.stop()
        if stack is not None:
            stack.stop()
        if redis_server is not None:
            redis_server.stop()
    return 1 if bad else 0


def werobot_version() -> str:
    from bench.load import WEROBOT_VENV

    done = subprocess.run(
        [str(WEROBOT_VENV / "bin" / "python"), "-c", "import werobot; print(werobot.__version__)"],
        capture_output=True,
        text=True,
        check=False,
    )
    return done.stdout.strip() or "?"


if __name__ == "__main__":
    sys.exit(main())
