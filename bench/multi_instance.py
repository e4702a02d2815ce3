"""Several instances behind nginx, on loopback: nginx (the site in deploy/nginx/kjzy.conf, its
ports and upstream rewritten) in front of N web instances (`python -m infra.webserver`) and M
notice workers, all sharing one Redis (a key prefix of their own) and one MariaDB database.

Used by tests/test_multi_instance.py; run alone for figures (needs nginx and wrk, MariaDB and
Redis on 127.0.0.1; a throwaway database is created and dropped):

    .venv/bin/python -m bench.multi_instance
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import requests

from infra.webserver import THREADS

ROOT = Path(__file__).resolve().parent.parent
SITE = ROOT / "deploy" / "nginx" / "kjzy.conf"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def nginx_binary() -> str | None:
    return shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")


def wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except (OSError, requests.RequestException):
            pass
        time.sleep(0.1)
    raise TimeoutError(f"{what} did not come up within {timeout:.0f} s")


def self_signed_certificate(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 that is its own CA (clients pass it as `verify=`)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_path, key_path


def loopback_site(
    upstreams: Sequence[int], http_port: int, https_port: int, cert: Path, key: Path
) -> str:
    """deploy/nginx/kjzy.conf with loopback ports, the given upstreams and a test certificate."""
    site = SITE.read_text(encoding="utf-8")
    servers = "".join(
        f"    server 127.0.0.1:{port} max_fails=3 fail_timeout=10s;\n" for port in upstreams
    )
    site, found = re.subn(
        r"(upstream kjzy_web \{\n(?:\s*#.*\n)*)(\s*server [^\n]*\n)+", r"\1" + servers, site
    )
    assert found == 1, "the upstream block of the site changed shape"
    replacements = {
        "    listen 80;\n": f"    listen 127.0.0.1:{http_port};\n",
        "    listen [::]:80;\n": "",
        "    listen 443 ssl http2;\n": f"    listen 127.0.0.1:{https_port} ssl http2;\n",
        "    listen [::]:443 ssl http2;\n": "",
        "/etc/letsencrypt/live/kjzy.example.org/fullchain.pem": str(cert),
        "/etc/letsencrypt/live/kjzy.example.org/privkey.pem": str(key),
    }
    for old, new in replacements.items():
        assert old in site, f"the site no longer contains {old!r}"
        site = site.replace(old, new)
    return site


def nginx_main_conf(directory: Path, site: Path) -> str:
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / temp).mkdir(exist_ok=True)
        (directory / temp).chmod(0o777)  # nginx's workers may run as another user
    return f"""
daemon off;
worker_processes 2;
pid {directory}/nginx.pid;
error_log {directory}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    fastcgi_temp_path {directory}/fastcgi;
    uwsgi_temp_path {directory}/uwsgi;
    scgi_temp_path {directory}/scgi;
    include {site};
}}
"""


@dataclass
class Process:
    name: str
    popen: subprocess.Popen[bytes]
    log: Path
    port: int | None = None

    @property
    def alive(self) -> bool:
        return self.popen.poll() is None

    def kill(self) -> None:
        """SIGKILL to the process and its children (the web server's workers): a crash."""
        if self.alive:
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.alive:
            os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()

    def log_count(self, text: str) -> int:
        try:
            return self.log.read_text(errors="replace").count(text)
        except OSError:
            return 0

    def tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return ""


@dataclass
class Deployment:
    """The running pieces; start them with `deployment(...)`."""

    env: dict[str, str]
    workdir: Path
    webs: list[Process] = field(default_factory=list)
    workers: list[Process] = field(default_factory=list)
    nginx: Process | None = None
    https_port: int = 0
    http_port: int = 0
    cert: Path = Path()
    key: Path = Path()

    @property
    def url(self) -> str:
        return f"https://127.0.0.1:{self.https_port}"

    # -- web instances ------------------------------------------------------------------

    def start_web(self, *, workers: int = 1, threads: int = THREADS) -> Process:
        port = free_port()
        name = f"web{len(self.webs) + 1}"
        env = {
            **self.env,
            "WEB_BIND": f"127.0.0.1:{port}",
            "WEB_WORKERS": str(workers),
            "WEB_THREADS": str(threads),
        }
        args = [sys.executable, "-m", "infra.webserver"]
        process = self._spawn(name, args, env)
        process.port = port
        self.webs.append(process)
        return process

    def wait_ready(self, processes: Iterable[Process], timeout: float = 60) -> None:
        for process in processes:
            url = f"http://127.0.0.1:{process.port}/readyz"

            def ready(url: str = url, process: Process = process) -> bool:
                if not process.alive:
                    raise RuntimeError(f"{process.name} exited:\n{process.tail()}")
                return requests.get(url, timeout=2).status_code == 200

            wait_until(ready, timeout, process.name)

    # -- notice workers -------------------------------------------------------------------

    def start_worker(self) -> Process:
        name = f"worker{len(self.workers) + 1}"
        args = [str(BIN / "flask"), "--app", "app", "worker"]
        process = self._spawn(name, args, self.env)
        self.workers.append(process)
        return process

    # -- nginx ------------------------------------------------------------------------------

    def start_nginx(self, upstreams: Sequence[Process]) -> Process:
        binary = nginx_binary()
        if binary is None:
            raise RuntimeError("nginx is not installed (Debian package nginx)")
        self.cert, self.key = self_signed_certificate(self.workdir)
        self.http_port, self.https_port = free_port(), free_port()
        self._write_site(upstreams)
        conf = self.workdir / "nginx.conf"
        conf.write_text(nginx_main_conf(self.workdir, self.workdir / "kjzy.conf"))
        args = [binary, "-p", str(self.workdir), "-c", str(conf), "-e", "stderr"]
        self.nginx = self._spawn("nginx", args, self.env)
        wait_until(
            lambda: requests.get(f"{self.url}/healthz", verify=str(self.cert), timeout=2).ok,
            30,
            "nginx",
        )
        return self.nginx

    def use_upstreams(self, upstreams: Sequence[Process]) -> None:
        """Rewrite the upstream block and reload nginx (graceful, like `systemctl reload`)."""
        assert self.nginx is not None
        self._write_site(upstreams)
        os.kill(self.nginx.popen.pid, signal.SIGHUP)
        time.sleep(1.0)  # new worker processes take over; old ones finish their requests

    def _write_site(self, upstreams: Sequence[Process]) -> None:
        ports = [p.port for p in upstreams if p.port is not None]
        site = loopback_site(ports, self.http_port, self.https_port, self.cert, self.key)
        (self.workdir / "kjzy.conf").write_text(site, encoding="utf-8")

    # -- all ------------------------------------------------------------------------------

    def _spawn(self, name: str, args: list[str], env: Mapping[str, str]) -> Process:
        log = self.workdir / f"{name}.log"
        with log.open("wb") as out:
            popen = subprocess.Popen(
                args,
                cwd=ROOT,
                env=dict(env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() reaches its children
            )
        return Process(name, popen, log)

    def stop(self) -> None:
        for process in [*self.workers, *self.webs, *([self.nginx] if self.nginx else [])]:
            process.stop()


def service_env(settings: Mapping[str, str]) -> dict[str, str]:
    """The environment of every process: ours without FLASK_*/NOTICE_*/GUNICORN_*, plus
    `settings` (DATABASE_URL, REDIS_URL, REDIS_PREFIX, WeChat credentials, ...)."""
    skip = ("FLASK_", "NOTICE_", "GUNICORN_", "METRICS_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(skip)}
    env.update(settings)
    return env


@contextmanager
def deployment(
    settings: Mapping[str, str], *, webs: int = 3, workers: int = 2, web_workers: int = 1
) -> Iterator[Deployment]:
    """nginx in front of `webs` web instances, and `workers` notice workers, all started
    and ready; everything is stopped on exit."""
    with tempfile.TemporaryDirectory(prefix="kjzy-multi-") as tmp:
        running = Deployment(service_env(settings), Path(tmp))
        try:
            started = [running.start_web(workers=web_workers) for _ in range(webs)]
            for _ in range(workers):
                running.start_worker()
            running.wait_ready(started)
            running.start_nginx(started)
            yield running
        finally:
            running.stop()


# -- load through nginx with wrk ---------------------------------------------------------------

WRK_SCRIPT = r"""
-- Each thread sends its own slice of pre-signed requests (one line: path TAB body).
local counter = 0
local threads = {}
function setup(thread)
  thread:set("id", counter)
  counter = counter + 1
  table.insert(threads, thread)
end
function init(args)
  requests = {}
  local n, total = 0, tonumber(args[2])
  for line in io.lines(args[1]) do
    if n % total == id then
      local path, body = line:match("^([^\t]*)\t(.*)$")
      table.insert(requests, wrk.format("POST", path, {["Content-Type"] = "text/xml"}, body))
    end
    n = n + 1
  end
  i = 0
end
function request()
  i = i + 1
  if i > #requests then i = 1 end
  return requests[i]
end
"""


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    non_2xx: int
    socket_errors: int

    @property
    def per_second(self) -> float:
        return self.requests / self.seconds


def run_wrk(
    url: str,
    lines: Sequence[str],
    *,
    workdir: Path,
    seconds: int = 5,
    connections: int = 32,
    threads: int = 2,
) -> WrkResult:
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (Debian package wrk)")
    requests_file = workdir / f"requests-{uuid.uuid4().hex[:6]}.txt"
    requests_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    script = workdir / "signed.lua"
    script.write_text(WRK_SCRIPT, encoding="utf-8")
    result = subprocess.run(
        [
            binary,
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "6s",
            "-s",
            str(script),
            url,
            "--",
            str(requests_file),
            str(threads),
        ],
        capture_output=True,
        text=True,
        timeout=seconds + 60,
    )
    if result.returncode != 0:
        raise RuntimeError(f"wrk failed: {result.stderr or result.stdout}")
    return parse_wrk(result.stdout)


def parse_wrk(output: str) -> WrkResult:
    done = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    if done is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0}[done.group(3)]
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    return WrkResult(
        requests=int(done.group(1)),
        seconds=float(done.group(2)) * scale,
        non_2xx=int(non_2xx.group(1)) if non_2xx else 0,
        socket_errors=sum(int(n) for n in errors.groups()) if errors else 0,
    )


# -- messages as WeChat sends them, and its retries -------------------------------------------


@dataclass(frozen=True)
class Signed:
    """One message as WeChat posts it: the query string and the body (plain mode)."""

    openid: str
    path: str
    body: bytes

    def wrk_line(self) -> str:
        text = self.body.decode("utf-8")
        assert "\n" not in text and "\t" not in text
        return f"{self.path}\t{text}"


_msg_ids = iter(range(int(time.time() * 1000) * 1000, 2**63))


def signed_text(protocol: object, openid: str, content: str) -> Signed:
    """A text message from `openid`, signed with the service's token."""
    from urllib.parse import urlencode

    from wechat.protocol import Mode, build_inbound_xml

    fields = {
        "ToUserName": "gh_multi_instance",
        "FromUserName": openid,
        "CreateTime": int(time.time()),
        "MsgType": "text",
        "Content": content,
        "MsgId": next(_msg_ids),
    }
    query, body = protocol.build_request(  # type: ignore[attr-defined]
        build_inbound_xml(fields), Mode.PLAIN, openid=openid
    )
    return Signed(openid, "/wechat?" + urlencode(query), body)


@dataclass
class Delivery:
    """What became of one message: its attempts and the answer WeChat finally got."""

    message: Signed
    attempts: int = 0
    status: int | None = None
    body: bytes = b""
    errors: list[str] = field(default_factory=list)

    @property
    def answered(self) -> bool:
        return self.status == 200


def send_like_wechat(
    session: requests.Session,
    base_url: str,
    message: Signed,
    *,
    verify: str,
    tries: int = 4,
    timeout: float = 5.0,
) -> Delivery:
    """POST like WeChat: a request that gets no answer within 5 s (a refused or broken
    connection, a timeout, an error status) is sent again, 3 times at most."""
    delivery = Delivery(message)
    for _ in range(tries):
        delivery.attempts += 1
        try:
            response = session.post(
                base_url + message.path,
                data=message.body,
                headers={"Content-Type": "text/xml"},
                verify=verify,
                timeout=timeout,
            )
        except requests.RequestException as exc:
            delivery.errors.append(type(exc).__name__)
            continue
        delivery.status, delivery.body = response.status_code, response.content
        if response.status_code == 200:
            break
        delivery.errors.append(f"HTTP {response.status_code}")
    return delivery


def reply_text(body: bytes) -> str | None:
    """The text of a plain-mode reply, None for `success` or an empty answer."""
    text = body.decode("utf-8").strip()
    if not text or text == "success":
        return None
    match = re.search(r"<Content><!\[CDATA\[(.*?)\]\]></Content>", text, re.S)
    return match.group(1) if match else text


def signed_click(protocol: object, openid: str, key: str) -> Signed:
    """A menu tap (CLICK event) from `openid`; events are deduplicated by openid + CreateTime
    (one tap per user and second here)."""
    from urllib.parse import urlencode

    from wechat.protocol import Mode, build_inbound_xml

    fields = {
        "ToUserName": "gh_multi_instance",
        "FromUserName": openid,
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": "CLICK",
        "EventKey": key,
    }
    query, body = protocol.build_request(  # type: ignore[attr-defined]
        build_inbound_xml(fields), Mode.PLAIN, openid=openid
    )
    return Signed(openid, "/wechat?" + urlencode(query), body)
