"""Benchmark the webhook under gunicorn with real MariaDB and Redis (about a minute).

    .venv/bin/python bench/webhook.py                  # 50 users, both scenarios
    .venv/bin/python bench/webhook.py --users 20 --rounds 1 --scenario full --paced-rate 0

What it does (loopback only, bounded in time):
1. creates a fresh MariaDB database and runs `upgrade head`; picks its own Redis key prefix;
2. starts the fake WeChat API server and gunicorn (gthread workers) with an EncodingAESKey, so
   every message is signed and encrypted (safe mode) and every reply encrypted and signed;
3. saturation: N simulated users on keep-alive connections send messages back to back, in
   rounds that interleave the scenarios (a warm-up, then a measured window each); it prints
   messages/s, p50/p99 latency, CPU per message of the service and of the clients, and the
   ratio full/floor;
4. paced: the same users send a fixed total rate, to show latency below saturation;
5. drops the database, deletes its Redis keys and stops gunicorn.

Scenarios are coroutine functions taking a BenchUser (see SCENARIOS):
- floor: a route that only checks the signatures, decrypts, parses, echoes and encrypts the
  echo. It bypasses dedup, the per-user lock and routing, so it measures what any reply costs.
  The route lives here, not in the service: gunicorn loads `bench.webhook:bench_app()`, which
  registers it on top of the normal app only when KJZY_BENCH_FLOOR=1 (set by this script).
- full: the real /wechat path: dedup, per-user lock, global words, conversation lookup,
  routing to the 帮助 handler, the log line.
To add a scenario (e.g. complete registrations), write
`async def scenario(user: BenchUser) -> None` that awaits `user.say(text, expect=...)` /
`user.click(key, expect=...)` (each is one measured message; call `user.new_identity()` first
to act as a new follower) and add it to SCENARIOS with the path it posts to.
"""

from __future__ import annotations

import argparse
import asyncio
import http.client
import itertools
import os
import random
import secrets
import signal
import socket
import statistics
import string
import subprocess
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make the project importable
    sys.path.insert(0, str(ROOT))

from flask import Blueprint, Flask, Response, current_app, request  # noqa: E402

from wechat.messages import Inbound, Reply  # noqa: E402
from wechat.protocol import Mode, Protocol, ProtocolError, SignatureError, build_inbound_xml  # noqa: E402

FLOOR_ENV = "KJZY_BENCH_FLOOR"
FLOOR_PATH = "/bench/floor"
ACCOUNT = "gh_bench_account"
TOKEN = "benchtoken"
APP_ID = "wx0123456789benchx"
APP_SECRET = "bench-app-secret"


# ---- the service side (imported by gunicorn workers) ------------------------------------------

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
    """gunicorn 'bench.webhook:bench_app()': the service, plus the floor route when enabled."""
    from app import create_app

    app = create_app()
    if os.environ.get(FLOOR_ENV) == "1":
        app.register_blueprint(floor_bp)
    return app


# ---- simulated users ----------------------------------------------------------------------------

_msg_ids = itertools.count(int(time.time()) * 1_000_000)


@dataclass
class Stats:
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str = ""


class BenchUser:
    """One follower on one keep-alive HTTP/1.1 connection; each say/click is one message.

    Users are coroutines on one event loop, so the load generator spends its CPU on building
    and checking messages rather than on switching between threads. Unpaced, a user sends the
    next message as soon as the reply arrives. Paced (`interval` seconds apart), latency counts
    from when the message was due, so a slow server is not hidden by sending less.
    """

    def __init__(
        self, port: int, protocol: Protocol, path: str, stats: Stats, interval: float = 0.0
    ) -> None:
        self.port = port
        self.protocol = protocol
        self.path = path
        self.stats = stats
        self.recording = False
        self.create_time = int(time.time())
        self.sent = 0
        self.interval = interval
        self.due = time.perf_counter() + random.uniform(0, interval)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.new_identity()

    def new_identity(self) -> None:
        """Act as another follower from now on (a new openid)."""
        self.openid = "oBench" + uuid.uuid4().hex[:22]

    async def say(self, text: str, expect: str | None = None) -> str:
        fields = self._base("text") | {"Content": text, "MsgId": next(_msg_ids)}
        return await self._send(fields, expect)

    async def click(self, key: str, expect: str | None = None) -> str:
        fields = self._base("event") | {"Event": "CLICK", "EventKey": key}
        return await self._send(fields, expect)

    def _base(self, msg_type: str) -> dict[str, Any]:
        self.create_time += 1
        return {
            "ToUserName": ACCOUNT,
            "FromUserName": self.openid,
            "CreateTime": self.create_time,
            "MsgType": msg_type,
        }

    async def _send(self, fields: dict[str, Any], expect: str | None) -> str:
        query, body = self.protocol.build_request(
            build_inbound_xml(fields), Mode.SAFE, openid=self.openid
        )
        head = (
            f"POST {self.path}?{urlencode(query)} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Content-Type: text/xml\r\nContent-Length: {len(body)}\r\n\r\n"
        )
        if self.interval:
            started = self.due
            self.due += self.interval
            await asyncio.sleep(max(0.0, started - time.perf_counter()))
        else:
            started = time.perf_counter()
        try:
            status, data = await asyncio.wait_for(self._exchange(head.encode() + body), 10)
        except (OSError, EOFError, ValueError, TimeoutError) as exc:
            self.close()  # reconnects on the next message
            return self._fail(f"{type(exc).__name__}: {exc}")
        elapsed = time.perf_counter() - started
        if status != 200:
            return self._fail(f"HTTP {status}: {data[:200]!r}")
        self.sent += 1
        # Opening a reply costs the client as much as sealing it cost the server: check the
        # first few of each user in full, then a sample.
        if expect is not None and (self.sent <= 3 or self.sent % 25 == 0):
            opened = self.protocol.open_reply(data, query)
            content = (opened or {}).get("Content", "")
            if not content.startswith(expect):
                return self._fail(f"unexpected reply {content[:80]!r}")
        elif not data.startswith(b"<xml>"):
            return self._fail(f"not an XML reply: {data[:80]!r}")
        if self.recording:
            self.stats.latencies.append(elapsed)
        return "ok"

    async def _exchange(self, request: bytes) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection("127.0.0.1", self.port)
        assert self.reader is not None
        self.writer.write(request)
        status = int((await self.reader.readline()).split()[1])
        length, close = 0, False
        while (header := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = header.decode("latin-1").partition(":")
            if name.lower() == "content-length":
                length = int(value)
            elif name.lower() == "connection" and value.strip().lower() == "close":
                close = True
        data = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, data

    def _fail(self, problem: str) -> str:
        if self.recording:
            self.stats.errors += 1
            self.stats.first_error = self.stats.first_error or problem
        return problem

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


# ---- scenarios: one function each ---------------------------------------------------------------

Scenario = Callable[[BenchUser], Awaitable[None]]


async def scenario_floor(user: BenchUser) -> None:
    await user.say("echo", expect="echo")


async def scenario_full(user: BenchUser) -> None:
    await user.say("帮助", expect="使用说明")


@dataclass(frozen=True)
class ScenarioSpec:
    run: Scenario
    path: str
    description: str


SCENARIOS: dict[str, ScenarioSpec] = {
    "floor": ScenarioSpec(scenario_floor, FLOOR_PATH, "parse and echo (no dispatch)"),
    "full": ScenarioSpec(scenario_full, "/wechat", "dedup, lock, routing to 帮助"),
}


@dataclass
class Result:
    """One scenario run: the measured window, plus CPU over the whole run (warm-up included)."""

    name: str
    latencies: list[float]
    seconds: float
    errors: int
    first_error: str
    total_messages: int = 0
    service_cpu: float = 0.0
    client_cpu: float = 0.0

    @property
    def rate(self) -> float:
        return len(self.latencies) / self.seconds if self.seconds else 0.0

    @property
    def service_ms_per_message(self) -> float:
        return self.service_cpu / self.total_messages * 1000 if self.total_messages else 0.0

    @property
    def client_ms_per_message(self) -> float:
        return self.client_cpu / self.total_messages * 1000 if self.total_messages else 0.0


def percentile(latencies: list[float], p: float) -> float:
    """The p-th fraction of sorted latencies, in milliseconds."""
    if not latencies:
        return float("nan")
    return latencies[min(len(latencies) - 1, int(p * len(latencies)))] * 1000


def run_scenario(
    name: str,
    port: int,
    protocol: Protocol,
    users: int,
    warmup: float,
    duration: float,
    rate: float = 0.0,
) -> Result:
    """Run one scenario: users back to back, or paced to `rate` messages/s in all."""
    return asyncio.run(_run_scenario(name, port, protocol, users, warmup, duration, rate))


async def _run_scenario(
    name: str,
    port: int,
    protocol: Protocol,
    users: int,
    warmup: float,
    duration: float,
    rate: float,
) -> Result:
    spec = SCENARIOS[name]
    stats = [Stats() for _ in range(users)]
    interval = users / rate if rate else 0.0
    sim = [BenchUser(port, protocol, spec.path, s, interval) for s in stats]
    stop = asyncio.Event()

    async def loop(user: BenchUser) -> None:
        while not stop.is_set():
            await spec.run(user)

    tasks = [asyncio.create_task(loop(user)) for user in sim]
    await asyncio.sleep(warmup)
    for user in sim:
        user.recording = True
    started = time.perf_counter()
    await asyncio.sleep(duration)
    for user in sim:
        user.recording = False
    seconds = time.perf_counter() - started
    stop.set()
    await asyncio.wait(tasks, timeout=15)
    for user in sim:
        user.close()
    return Result(
        name,
        sorted(x for s in stats for x in s.latencies),
        seconds,
        sum(s.errors for s in stats),
        next((s.first_error for s in stats if s.first_error), ""),
        total_messages=sum(u.sent for u in sim),
    )


def line(name: str, runs: list[Result]) -> str:
    """One scenario's figures over one or more runs (rate: the median run)."""
    latencies = sorted(x for r in runs for x in r.latencies)
    rate = statistics.median(r.rate for r in runs)
    service = statistics.median(r.service_ms_per_message for r in runs)
    client = statistics.median(r.client_ms_per_message for r in runs)
    return (
        f"{name:<6} {rate:6.0f} msg/s  p50 {percentile(latencies, 0.5):6.1f} ms  "
        f"p99 {percentile(latencies, 0.99):6.1f} ms  CPU per message: service "
        f"{service:.2f} ms, clients {client:.2f} ms  errors {sum(r.errors for r in runs)}"
        + (f" (first: {runs[0].first_error})" if runs[0].first_error else "")
    )


# ---- the environment: database, Redis, fake WeChat API, gunicorn -------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def random_aes_key() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(43))


class Environment:
    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.db_name = f"kjzy_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.server_url = args.mysql.rstrip("/")
        self.redis_prefix = f"kjzy-bench:{uuid.uuid4().hex[:10]}:"
        self.aes_key = random_aes_key()
        self.port = free_port()
        self.log_path = ROOT / "test-artifacts" / "bench-webhook.log"
        self.gunicorn: subprocess.Popen[bytes] | None = None
        self.fake: Any = None
        self.db_created = False

    @property
    def database_url(self) -> str:
        return f"{self.server_url}/{self.db_name}?charset=utf8mb4"

    def env(self) -> dict[str, str]:
        return {
            **os.environ,
            "WECHAT_TOKEN": TOKEN,
            "WECHAT_APP_ID": APP_ID,
            "WECHAT_APP_SECRET": APP_SECRET,
            "WECHAT_ENCODING_AES_KEY": self.aes_key,
            "WECHAT_API_BASE_URL": self.fake.url,
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.args.redis,
            "REDIS_PREFIX": self.redis_prefix,
            "SECRET_KEY": secrets.token_hex(16),
            "PII_ENCRYPTION_KEY": secrets.token_hex(32),
            "LOG_LEVEL": "INFO",
            FLOOR_ENV: "1",
        }

    def start(self) -> None:
        from sqlalchemy import create_engine, text

        from config import Settings
        from infra.migrate import upgrade
        from sandbox.fake_wechat import FakeWeChatServer

        admin = create_engine(self.server_url)
        with admin.connect() as conn:
            conn.execute(
                text(
                    f"CREATE DATABASE `{self.db_name}` "
                    "CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
                )
            )
        admin.dispose()
        self.db_created = True
        self.fake = FakeWeChatServer(APP_ID, APP_SECRET).start()
        env = self.env()
        upgrade(Settings.from_env(env, load_dotenv=False))

        self.log_path.parent.mkdir(exist_ok=True)
        log = self.log_path.open("wb")
        self.gunicorn = subprocess.Popen(
            [
                str(Path(sys.executable).with_name("gunicorn")),
                "--worker-class=gthread",
                f"--workers={self.args.workers}",
                f"--threads={self.args.threads}",
                f"--bind=127.0.0.1:{self.port}",
                "--keep-alive=30",
                "--graceful-timeout=5",
                "bench.webhook:bench_app()",
            ],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        log.close()
        self._wait_until_ready()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            assert self.gunicorn is not None
            if self.gunicorn.poll() is not None:
                raise RuntimeError(f"gunicorn exited; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                if conn.getresponse().status == 200:
                    conn.close()
                    return
                conn.close()
            except OSError:
                pass
            time.sleep(0.2)
        raise RuntimeError(f"gunicorn did not become ready in 30 s; see {self.log_path}")

    def stop(self) -> None:
        if self.gunicorn is not None and self.gunicorn.poll() is None:
            self.gunicorn.send_signal(signal.SIGTERM)
            try:
                self.gunicorn.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.gunicorn.kill()
                self.gunicorn.wait(timeout=5)
        if self.fake is not None:
            self.fake.stop()
        try:
            import redis

            client = redis.Redis.from_url(self.args.redis)
            keys = list(client.scan_iter(match=self.redis_prefix + "*", count=1000))
            if keys:
                client.delete(*keys)
            client.close()
        except Exception as exc:  # cleanup is best effort; say so
            print(f"warning: could not delete Redis keys {self.redis_prefix}*: {exc}")
        if self.db_created:
            from sqlalchemy import create_engine, text

            admin = create_engine(self.server_url)
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{self.db_name}`"))
            admin.dispose()

    def server_cpu_seconds(self) -> float:
        """CPU time used so far by gunicorn and its workers (from /proc; 0 where unavailable)."""
        if self.gunicorn is None:
            return 0.0
        master = self.gunicorn.pid
        total = 0
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            pid, ppid = int(stat.parent.name), int(fields[1])
            if pid == master or ppid == master:
                total += int(fields[11]) + int(fields[12])  # utime + stime, in clock ticks
        return total / os.sysconf("SC_CLK_TCK")

    def routed_lines(self, route: str) -> int:
        needle = f" route={route} status=ok ".encode()
        with self.log_path.open("rb") as log:
            return sum(1 for line in log if needle in line)


def measure(
    environment: Environment,
    name: str,
    protocol: Protocol,
    args: argparse.Namespace,
    rate: float,
) -> Result:
    client_before = time.process_time()
    service_before = environment.server_cpu_seconds()
    result = run_scenario(
        name, environment.port, protocol, args.users, args.warmup, args.duration, rate
    )
    result.service_cpu = environment.server_cpu_seconds() - service_before
    result.client_cpu = time.process_time() - client_before
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50, help="concurrent simulated users")
    parser.add_argument("--duration", type=float, default=5.0, help="measured seconds per run")
    parser.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds per run")
    parser.add_argument("--rounds", type=int, default=3, help="saturation runs of each")
    parser.add_argument(
        "--paced-rate",
        type=float,
        default=200.0,
        help="messages/s in all for the paced run (0: skip it)",
    )
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=8, help="threads per gunicorn worker")
    parser.add_argument(
        "--scenario", action="append", choices=sorted(SCENARIOS), help="default: floor and full"
    )
    parser.add_argument("--mysql", default="mysql+pymysql://root@127.0.0.1:3306")
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/0")
    args = parser.parse_args(argv)
    names = args.scenario or ["floor", "full"]

    environment = Environment(args)
    results: list[Result] = []
    try:
        environment.start()
        protocol = Protocol(TOKEN, APP_ID, environment.aes_key)
        print(
            f"gunicorn gthread {args.workers} workers x {args.threads} threads, MariaDB + Redis, "
            f"safe mode (AES); {args.users} users; {args.rounds} rounds of {args.warmup:g} s "
            f"warm-up + {args.duration:g} s per scenario; {os.cpu_count()} CPUs shared with the "
            f"clients; load average {os.getloadavg()[0]:.1f}"
        )
        runs: dict[str, list[Result]] = {name: [] for name in names}
        # Saturation: users send back to back. Rounds interleave the scenarios so that load
        # from elsewhere on the machine hits each alike; the ratio is taken per round.
        print("saturation (each user sends the next message when the reply arrives):")
        for round_number in range(1, args.rounds + 1):
            for name in names:
                result = measure(environment, name, protocol, args, rate=0.0)
                runs[name].append(result)
                print(f"  round {round_number} " + line(name, [result]))
        print(f"  summary, load average now {os.getloadavg()[0]:.1f}:")
        for name in names:
            print("    " + line(name, runs[name]) + f"  [{SCENARIOS[name].description}]")
        if "floor" in runs and "full" in runs:
            pairs = list(zip(runs["floor"], runs["full"], strict=True))
            ratio = statistics.median(b.rate / a.rate for a, b in pairs if a.rate)
            cpu_ratio = statistics.median(
                a.service_ms_per_message / b.service_ms_per_message
                for a, b in pairs
                if b.service_ms_per_message
            )
            print(
                f"    ratio full/floor: {ratio:.2f} in messages/s (median of rounds), "
                f"{cpu_ratio:.2f} in service CPU per message"
            )
        paced: list[Result] = []
        if args.paced_rate:
            print(
                f"paced ({args.users} users sending {args.paced_rate:g} messages/s in all; "
                "latency counted from when each message was due):"
            )
            for name in names:
                result = measure(environment, name, protocol, args, rate=args.paced_rate)
                paced.append(result)
                print("  " + line(name, [result]))
        if "full" in runs:
            print(
                "service log: "
                f"{environment.routed_lines('basics.help_word')} messages routed to 帮助 "
                f"({environment.log_path.relative_to(ROOT)})"
            )
        results = [r for rs in runs.values() for r in rs] + paced
    finally:
        environment.stop()
    return 1 if any(r.errors for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
