"""What bench/webhook.py and bench/registrations.py share: pre-signed request files for wrk, the
servers (WeRoBot's echo under gunicorn; this service as deployed, `python -m infra.webserver`, with
MariaDB, Redis and the fake WeChat API)
and the runs. Everything listens on 127.0.0.1 only, and every run is bounded in time.

Request files hold one request a line, `<query string>\\t<body>`, each signed and AES-encrypted
(safe mode) as WeChat sends it: a new timestamp/nonce pair, signature, msg_signature and MsgId per
line. bench/wrk_requests.lua replays them in order, each once.
"""

from __future__ import annotations

import base64
import hashlib
import http.client
import itertools
import json
import os
import secrets
import signal
import socket
import string
import struct
import subprocess
import sys
import time
import uuid
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes

from infra.webserver import THREADS

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
WORK = BENCH / ".work"
WEROBOT_VENV = BENCH / ".venv-werobot"
LUA = BENCH / "wrk_requests.lua"
LUA_ONCE = BENCH / "wrk_once.lua"

ACCOUNT = "gh_bench_account"
TOKEN = "benchtoken"
APP_ID = "wx0123456789benchx"
APP_SECRET = "bench-app-secret"
FLOOR_ENV = "KJZY_BENCH_FLOOR"
FLOOR_PATH = "/bench/floor"

_msg_ids = itertools.count(time.time_ns() // 1000)
_nonces = itertools.count(secrets.randbelow(10**6) * 10**6)


def ensure_tools() -> None:
    """wrk and the WeRoBot venv, installed by bench/setup.sh when missing."""
    wanted = [WEROBOT_VENV / "bin" / "gunicorn"]
    if subprocess.run(["which", "wrk"], capture_output=True).returncode or not all(
        p.exists() for p in wanted
    ):
        subprocess.run(["bash", str(BENCH / "setup.sh")], check=True)


def random_aes_key() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(43))


def sha1_sorted(*parts: str) -> str:
    return hashlib.sha1("".join(sorted(parts)).encode()).hexdigest()


class Sealer:
    """Signs and encrypts requests as WeChat does (safe mode), fast enough for 100,000 lines."""

    def __init__(self, aes_key: str) -> None:
        self.key = base64.b64decode(aes_key + "=")
        self.app_id = APP_ID.encode()

    def encrypt(self, xml: str) -> str:
        payload = xml.encode()
        plain = os.urandom(16) + struct.pack(">I", len(payload)) + payload + self.app_id
        pad = 32 - len(plain) % 32
        plain += bytes([pad]) * pad
        encryptor = Cipher(algorithms.AES(self.key), modes.CBC(self.key[:16])).encryptor()
        return base64.b64encode(encryptor.update(plain) + encryptor.finalize()).decode()

    def line(self, inner_xml: str, openid: str, timestamp: int | None = None) -> str:
        """One request: `<query>\\t<body>`, with its own timestamp/nonce pair."""
        when = str(timestamp or int(time.time()))
        nonce = str(next(_nonces))
        encrypted = self.encrypt(inner_xml)
        query = (
            f"signature={sha1_sorted(TOKEN, when, nonce)}&timestamp={when}&nonce={nonce}"
            f"&openid={openid}&encrypt_type=aes"
            f"&msg_signature={sha1_sorted(TOKEN, when, nonce, encrypted)}"
        )
        body = (
            f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
            f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>"
        )
        return f"{query}\t{body}"


def text_xml(openid: str, content: str) -> str:
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[text]]></MsgType>"
        f"<Content><![CDATA[{content}]]></Content><MsgId>{next(_msg_ids)}</MsgId></xml>"
    )


def click_xml(openid: str, key: str) -> str:
    # Events carry no MsgId; dedup uses sender + CreateTime (+ event, key): one click per user.
    return (
        f"<xml><ToUserName><![CDATA[{ACCOUNT}]]></ToUserName>"
        f"<FromUserName><![CDATA[{openid}]]></FromUserName>"
        f"<CreateTime>{int(time.time())}</CreateTime><MsgType><![CDATA[event]]></MsgType>"
        f"<Event><![CDATA[CLICK]]></Event><EventKey><![CDATA[{key}]]></EventKey></xml>"
    )


def openid_of(n: int, tag: str) -> str:
    return f"oBench{tag}{n:010d}"[:28]


def write_lines(path: Path, lines: Iterable[str]) -> int:
    path.parent.mkdir(parents=True, exist_ok=True)
    count = 0
    with path.open("w", encoding="utf-8") as out:
        for line in lines:
            out.write(line + "\n")
            count += 1
    return count


# ---- wrk ------------------------------------------------------------------------------------


@dataclass
class WrkResult:
    requests: int
    seconds: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    wraps: int

    @property
    def rate(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0


def run_wrk(
    port: int,
    path: str,
    file: Path,
    seconds: float,
    *,
    connections: int = 50,
    threads: int = 1,
    per_thread: bool = False,
    once: bool = False,
) -> WrkResult:
    """Load 127.0.0.1:port with the requests of `file` for `seconds` (or, `once`, until each
    request was answered once)."""
    command = [
        "wrk",
        f"-t{threads}",
        f"-c{connections}",
        f"-d{max(1, round(seconds))}s",
        "--timeout",
        "10s",
        "-s",
        str(LUA_ONCE if once else LUA),
        f"http://127.0.0.1:{port}",
        "--",
        str(file),
        path,
        "per-thread" if per_thread else "one-file",
    ]
    done = subprocess.run(
        command, cwd=BENCH, capture_output=True, text=True, timeout=seconds + 60, check=False
    )
    marker = next((ln for ln in done.stdout.splitlines() if ln.startswith("WRK-JSON ")), None)
    if done.returncode != 0 or marker is None:
        raise RuntimeError(f"wrk failed ({done.returncode}): {done.stdout[-800:]}{done.stderr}")
    data = json.loads(marker[len("WRK-JSON ") :])
    return WrkResult(
        requests=data["requests"],
        seconds=data["duration_us"] / 1e6,
        p50_ms=data["p50_us"] / 1000,
        p90_ms=data["p90_us"] / 1000,
        p99_ms=data["p99_us"] / 1000,
        non_2xx=data["status"],
        socket_errors=data["connect"] + data["read"] + data["write"] + data["timeout"],
        wraps=data["wraps"],
    )


# ---- servers --------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


class Server:
    """A server's master process on 127.0.0.1 and its workers; its log goes to test-artifacts/.
    gunicorn (WeRoBot) is told its port by `--bind`, this service by WEB_BIND."""

    def __init__(self, name: str, argv: Sequence[str], env: dict[str, str], cwd: Path) -> None:
        self.name = name
        self.port = free_port()
        gunicorn = Path(argv[0]).name == "gunicorn"
        self.argv = [*argv, f"--bind=127.0.0.1:{self.port}"] if gunicorn else list(argv)
        self.env = {**env, "WEB_BIND": f"127.0.0.1:{self.port}"}
        self.cwd = cwd
        self.log_path = ROOT / "test-artifacts" / f"bench-{name}.log"
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> Server:
        self.log_path.parent.mkdir(exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                self.argv, cwd=self.cwd, env=self.env, stdout=log, stderr=subprocess.STDOUT
            )
        deadline = time.monotonic() + 90  # a loaded machine boots workers slowly
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"{self.name} exited; see {self.log_path}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/readyz")
                conn.getresponse().read()
                conn.close()
                return self
            except OSError:
                time.sleep(0.2)
        raise RuntimeError(f"{self.name} did not start in 90 s; see {self.log_path}")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)

    def pids(self) -> list[int]:
        if self.process is None:
            return []
        master = self.process.pid
        found = [master]
        for stat in Path("/proc").glob("[0-9]*/stat"):
            try:
                fields = stat.read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if int(fields[1]) == master:
                found.append(int(stat.parent.name))
        return found

    def cpu_seconds(self) -> float:
        total = 0
        for pid in self.pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            total += int(fields[11]) + int(fields[12])
        return total / os.sysconf("SC_CLK_TCK")

    def context_switches(self) -> int:
        """Voluntary + involuntary context switches of every thread of every process."""
        total = 0
        for pid in self.pids():
            for status in Path(f"/proc/{pid}/task").glob("*/status"):
                try:
                    for row in status.read_text().splitlines():
                        if row.endswith("ctxt_switches:") or "ctxt_switches" in row:
                            total += int(row.split()[1])
                except OSError:
                    continue
        return total


class PrivateRedis:
    """A redis-server of the bench's own (no persistence), listening on a Unix socket as in the
    deployed layout (README, "Deployment runbook") and, with `tcp`, on a loopback port too.
    Nothing else sends it commands, so its CPU and command counts are this service's own."""

    def __init__(self, tcp: bool = False) -> None:
        self.dir = WORK / f"redis-{os.getpid()}"
        self.socket = self.dir / "redis.sock"
        self.port = free_port() if tcp else 0
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def unix_url(self) -> str:
        return f"unix://{self.socket}?db=0"

    @property
    def tcp_url(self) -> str:
        assert self.port, "started without tcp"
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        import redis

        self.dir.mkdir(parents=True, exist_ok=True)
        argv = ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
        argv += ["--unixsocket", str(self.socket), "--unixsocketperm", "700"]
        argv += ["--save", "", "--appendonly", "no", "--dir", str(self.dir)]
        log = (self.dir / "redis.log").open("wb")
        self.process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server exited; see {self.dir / 'redis.log'}")
            try:
                client = redis.Redis(unix_socket_path=str(self.socket))
                client.ping()
                client.close()
                return self
            except redis.RedisError:
                time.sleep(0.1)
        raise RuntimeError("redis-server did not start in 20 s")

    def cpu_seconds(self) -> float:
        if self.process is None:
            return 0.0
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.socket.unlink(missing_ok=True)


def machine_times() -> tuple[int, int]:
    """(all, idle) clock ticks of every CPU since boot (/proc/stat): busy share = 1 - idle/all."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    return sum(values), values[3] + values[4]


def werobot_server(aes_key: str, workers: int) -> Server:
    env = {
        **os.environ,
        "BENCH_TOKEN": TOKEN,
        "BENCH_AES_KEY": aes_key,
        "BENCH_APP_ID": APP_ID,
    }
    argv = [str(WEROBOT_VENV / "bin" / "gunicorn"), f"--workers={workers}", "werobot_echo:app"]
    return Server("werobot", argv, env, BENCH)


class Stack:
    """This service as deployed: a fresh MariaDB database, its own Redis key prefix, the fake
    WeChat API, `python -m infra.webserver` (granian) with `workers` processes of `threads`
    threads. `stop()` drops the database and deletes the keys."""

    def __init__(
        self, mysql: str, redis_url: str, aes_key: str, workers: int = 2, threads: int = THREADS
    ) -> None:
        self.server_url = mysql.rstrip("/")
        self.redis_url = redis_url
        self.db_name = f"kjzy_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
        self.redis_prefix = f"kjzy-bench:{uuid.uuid4().hex[:10]}:"
        self.aes_key = aes_key
        self.workers = workers
        self.threads = threads
        self.fake: Any = None
        self.server: Server | None = None
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
            "REDIS_URL": self.redis_url,
            "REDIS_PREFIX": self.redis_prefix,
            "SECRET_KEY": secrets.token_hex(16),
            "PII_ENCRYPTION_KEY": secrets.token_hex(32),
            "LOG_LEVEL": "INFO",
            FLOOR_ENV: "1",
            "WEB_APP": "bench.webhook:bench_app",
            "WEB_WORKERS": str(self.workers),
            "WEB_THREADS": str(self.threads),
            "WEB_GRACEFUL_TIMEOUT": "5",
        }

    def start(self) -> Server:
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
        argv = [sys.executable, "-m", "infra.webserver"]
        self.server = Server("service", argv, env, ROOT).start()
        return self.server

    def stop(self) -> None:
        if self.server is not None:
            self.server.stop()
        if self.fake is not None:
            self.fake.stop()
        try:
            import redis

            client = redis.Redis.from_url(self.redis_url)
            keys = list(client.scan_iter(match=self.redis_prefix + "*", count=1000))
            for start in range(0, len(keys), 1000):
                client.delete(*keys[start : start + 1000])
            client.close()
        except Exception as exc:  # cleanup is best effort; say so
            print(f"warning: could not delete Redis keys {self.redis_prefix}*: {exc}")
        if self.db_created:
            from sqlalchemy import create_engine, text

            admin = create_engine(self.server_url)
            with admin.connect() as conn:
                conn.execute(text(f"DROP DATABASE IF EXISTS `{self.db_name}`"))
            admin.dispose()

    def count(self, sql: str) -> int:
        from sqlalchemy import create_engine, text

        engine = create_engine(self.database_url)
        with engine.connect() as conn:
            value = conn.execute(text(sql)).scalar()
        engine.dispose()
        return int(value or 0)

    def log_lines(self, needle: str) -> int:
        assert self.server is not None
        data = needle.encode()
        with self.server.log_path.open("rb") as log:
            return sum(1 for line in log if data in line)


def post_once(port: int, path: str, line: str) -> tuple[int, bytes]:
    query, body = line.split("\t", 1)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    conn.request(
        "POST", f"{path}?{query}", body=body.encode(), headers={"Content-Type": "text/xml"}
    )
    response = conn.getresponse()
    data = response.read()
    conn.close()
    return response.status, data


def check_reply(port: int, path: str, line: str, aes_key: str, expect: str) -> None:
    """Send one request and check that the encrypted, signed reply says `expect`."""
    from wechat.protocol import Protocol

    status, data = post_once(port, path, line)
    if status != 200:
        raise RuntimeError(f"{path}: HTTP {status} {data[:200]!r}")
    opened = Protocol(TOKEN, APP_ID, aes_key).open_reply(data, {})
    content = (opened or {}).get("Content", "")
    if not content.startswith(expect):
        raise RuntimeError(f"{path}: unexpected reply {content[:80]!r}")


def redis_commands(redis_url: str) -> int:
    import redis

    client = redis.Redis.from_url(redis_url)
    value = int(client.info("stats")["total_commands_processed"])
    client.close()
    return value
