"""deploy/: what can be checked on this machine: nginx -t on the site (self-signed certificate),
the compose file's structure, and that every command the units and containers run exists."""

from __future__ import annotations

import configparser
import datetime
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import click
import pytest
import requests
import yaml
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from flask import Flask

from config import Settings
from infra.webserver import options

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
INSTALL_DIR = "/opt/kjzy"
APP_SERVICES = ("migrate", "web", "worker", "scheduler")


def self_signed(directory: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kjzy.example.org")])
    now = datetime.datetime.now(datetime.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + datetime.timedelta(days=1))
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


def nginx_binary() -> str:
    found = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        if os.environ.get("CI") == "true":
            pytest.fail("CI=true: nginx must be installed (.ci/apt-packages)")
        pytest.skip("nginx is not installed")
    return found


def nginx_main_conf(directory: Path, site: Path) -> Path:
    """A minimal nginx.conf that includes the site, with every path inside `directory`."""
    for temp in ("body", "proxy", "fastcgi", "uwsgi", "scgi"):
        (directory / temp).mkdir(exist_ok=True)
    conf = directory / "nginx.conf"
    conf.write_text(
        f"""
pid {directory}/nginx.pid;
error_log stderr;
events {{}}
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
    )
    return conf


def test_the_nginx_site_passes_nginx_t(tmp_path: Path) -> None:
    nginx = nginx_binary()
    cert, key = self_signed(tmp_path)
    site = (DEPLOY / "nginx" / "kjzy.conf").read_text(encoding="utf-8")
    site = site.replace("/etc/letsencrypt/live/kjzy.example.org/fullchain.pem", str(cert))
    site = site.replace("/etc/letsencrypt/live/kjzy.example.org/privkey.pem", str(key))
    assert str(cert) in site and str(key) in site
    (tmp_path / "kjzy.conf").write_text(site, encoding="utf-8")
    conf = nginx_main_conf(tmp_path, tmp_path / "kjzy.conf")

    result = subprocess.run(
        [nginx, "-t", "-p", str(tmp_path), "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 0, result.stderr
    assert "test is successful" in result.stderr


def test_the_nginx_site_sets_what_the_app_relies_on() -> None:
    site = (DEPLOY / "nginx" / "kjzy.conf").read_text(encoding="utf-8")
    # The client address for TRUSTED_PROXIES, overwritten so that a client cannot forge it.
    assert "proxy_set_header X-Forwarded-For $remote_addr;" in site
    assert "proxy_set_header X-Forwarded-Proto $scheme;" in site
    wechat = site.split("location = /wechat {", 1)[1].split("}", 1)[0]
    assert "client_max_body_size 512k;" in wechat
    # WeChat waits 5 s: nginx must not give up before the app's 4 s budget, nor wait for ever.
    assert "proxy_read_timeout 6s;" in wechat
    assert "ssl_protocols TLSv1.2 TLSv1.3;" in site
    metrics = site.split("location ~ ^/(healthz|readyz|metrics)$ {", 1)[1].split("}", 1)[0]
    assert "deny all;" in metrics
    # Large .xlsx exports stream for minutes: a long read timeout, and no buffering in nginx.
    exports = site.split("location ~ ^/(console|team)/.*\\.xlsx$ {", 1)[1].split("}", 1)[0]
    assert "proxy_read_timeout 600s;" in exports
    assert "proxy_buffering off;" in exports


def resolve_cli(app: Flask, argv: list[str]) -> click.Command:
    """The command `flask --app app <argv>` runs; fails on an unknown command or option."""
    assert argv[:2] == ["--app", "app"], argv
    args = argv[2:]
    group: click.Group = app.cli
    ctx = click.Context(group, info_name="flask")
    with app.app_context():
        while True:
            name, *args = args
            command = group.get_command(ctx, name)
            assert command is not None, f"no command {name!r} in {argv}"
            if isinstance(command, click.Group):
                group, ctx = command, click.Context(command, info_name=name, parent=ctx)
                continue
            # Parses the options as the real run would: an unknown one raises.
            command.make_context(name, list(args), parent=ctx)
            return command


def check_program(app: Flask, argv: list[str]) -> None:
    program, *args = argv
    program = program.rsplit("/", 1)[-1]
    if program == "flask":
        resolve_cli(app, args)
    elif program == "python":
        # The web server: a module of this repository, run with the app factory's defaults.
        assert args == ["-m", "infra.webserver"], args
        assert (ROOT / "infra" / "webserver.py").is_file()
    else:
        pytest.fail(f"unexpected program {program}")


def unit(path: Path) -> configparser.ConfigParser:
    parser = configparser.ConfigParser(strict=False, interpolation=None)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    parser.read(path, encoding="utf-8")
    return parser


def test_systemd_units_run_existing_commands(app: Flask) -> None:
    units = sorted((DEPLOY / "systemd").glob("*.service"))
    assert [u.name for u in units] == [
        "kjzy-scheduler.service",
        "kjzy-web.service",
        "kjzy-worker@.service",
    ]
    for path in units:
        parsed = unit(path)
        service = parsed["Service"]
        argv = shlex.split(service["ExecStart"])
        assert argv[0].startswith(f"{INSTALL_DIR}/.venv/bin/"), argv
        check_program(app, argv)
        assert service["WorkingDirectory"] == INSTALL_DIR
        assert service["EnvironmentFile"] == "/etc/kjzy/kjzy.env"
        assert service["User"] == "kjzy"
        assert parsed["Install"]["WantedBy"] == "multi-user.target"
    scheduler = unit(DEPLOY / "systemd" / "kjzy-scheduler.service")
    assert "--with-scheduler" in scheduler["Service"]["ExecStart"]


def test_compose_builds_from_the_repository_and_runs_existing_commands(app: Flask) -> None:
    compose = yaml.safe_load((DEPLOY / "compose.yaml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert {"web", "worker", "redis", "mariadb"} <= set(services)
    for name in APP_SERVICES:
        service = services[name]
        build = service["build"]
        context = (DEPLOY / build["context"]).resolve()
        assert context == ROOT, name
        assert (context / build["dockerfile"]).is_file()
        assert service["environment"]["REDIS_URL"] == "redis://redis:6379/0"
        assert "@mariadb:3306/" in service["environment"]["DATABASE_URL"]
        check_program(app, service["command"])
    web_needs = services["web"]["depends_on"]
    assert web_needs["migrate"]["condition"] == "service_completed_successfully"
    assert services["mariadb"]["healthcheck"] and services["redis"]["healthcheck"]
    assert "--character-set-server=utf8mb4" in services["mariadb"]["command"]
    assert any(
        arg.startswith("--innodb-buffer-pool-size=") for arg in services["mariadb"]["command"]
    )


def test_the_dockerfile_copies_the_repository_and_starts_the_web_server(app: Flask) -> None:
    lines = (DEPLOY / "Dockerfile").read_text(encoding="utf-8").splitlines()
    assert "COPY . ." in lines
    cmd = next(line for line in lines if line.startswith("CMD "))
    check_program(app, yaml.safe_load(cmd.removeprefix("CMD ")))
    ignored = (ROOT / ".dockerignore").read_text(encoding="utf-8").split()
    assert {".git", ".venv", ".env", "instance"} <= set(ignored)


def test_the_web_server_settings_come_from_the_environment() -> None:
    from granian.constants import Interfaces

    defaults = options({})
    assert defaults["target"] == "app:create_app" and defaults["factory"] is True
    assert defaults["interface"] == Interfaces.WSGI
    assert (defaults["address"], defaults["port"]) == ("127.0.0.1", 8000)
    assert 1 <= defaults["workers"] <= 4 and defaults["blocking_threads"] == 6
    assert defaults["log_access"] is False
    chosen = options(
        {
            "WEB_BIND": "0.0.0.0:8002",
            "WEB_WORKERS": "3",
            "WEB_THREADS": "16",
            "WEB_GRACEFUL_TIMEOUT": "7",
            "WEB_MAX_RSS_MIB": "300",
            "WEB_ACCESSLOG": "1",
        }
    )
    assert (chosen["address"], chosen["port"]) == ("0.0.0.0", 8002)
    assert (chosen["workers"], chosen["blocking_threads"]) == (3, 16)
    assert (chosen["workers_kill_timeout"], chosen["workers_max_rss"]) == (7, 300)
    assert chosen["log_access"] is True


def _get(port: int, path: str) -> int:
    try:
        return requests.get(f"http://127.0.0.1:{port}{path}", timeout=10).status_code
    except requests.RequestException:
        return 0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port


def _wait_for(
    done: Callable[[], bool], server: subprocess.Popen[bytes], log: Path, what: str
) -> None:
    deadline = time.monotonic() + 90  # a bound against a hang, not a speed check
    while not done():
        assert server.poll() is None, f"exited before {what}:\n{log.read_text()}"
        assert time.monotonic() < deadline, f"not {what} after 90 s:\n{log.read_text()}"
        time.sleep(0.2)


def test_the_web_server_serves_the_app_reloads_and_stops(
    settings: Settings, tmp_path: Path
) -> None:
    """`python -m infra.webserver` as the unit runs it: ready, SIGHUP (a deploy) replaces the
    workers while it keeps answering, SIGTERM stops it cleanly."""
    port = _free_port()
    env = {
        **os.environ,
        "DATABASE_URL": settings.database_url,
        "REDIS_URL": settings.redis_url or "",
        "WEB_BIND": f"127.0.0.1:{port}",
        "WEB_WORKERS": "1",
        "WEB_THREADS": "2",
        "WEB_GRACEFUL_TIMEOUT": "5",
    }
    log = tmp_path / "web.log"
    with log.open("wb") as out:
        server = subprocess.Popen(
            [sys.executable, "-m", "infra.webserver"], cwd=ROOT, env=env, stdout=out, stderr=out
        )
    try:
        _wait_for(lambda: _get(port, "/readyz") == 200, server, log, "ready")
        assert _get(port, "/healthz") == 200
        statuses: list[int] = []
        server.send_signal(signal.SIGHUP)

        def reloaded() -> bool:
            statuses.append(_get(port, "/healthz"))
            return "Stopped old worker-1" in log.read_text()

        _wait_for(reloaded, server, log, "reloaded")
        # Every request during the reload was answered: the old worker served until the new
        # one was up.
        assert statuses and set(statuses) == {200}, statuses
        assert _get(port, "/readyz") == 200
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0, log.read_text()
        assert "Traceback" not in log.read_text()
    finally:
        if server.poll() is None:
            server.kill()
            server.wait(timeout=10)


def test_the_kjzy_wrapper_runs_flask_commands_with_the_service_settings(
    tmp_path: Path, settings: Settings
) -> None:
    env_file = tmp_path / "kjzy.env"
    env_file.write_text(
        f"DATABASE_URL={settings.database_url}\nREDIS_URL={settings.redis_url or ''}\n",
        encoding="utf-8",
    )
    result = subprocess.run(
        ["sh", str(DEPLOY / "kjzy"), "menu", "check"],
        env={
            "PATH": os.environ["PATH"],
            "KJZY_ENV_FILE": str(env_file),
            "KJZY_HOME": str(ROOT),
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "menus.json is valid" in result.stdout


def test_every_xlsx_export_of_the_app_gets_the_long_nginx_timeout(app: Flask) -> None:
    site = (DEPLOY / "nginx" / "kjzy.conf").read_text(encoding="utf-8")
    pattern = re.compile(r"^/(console|team)/.*\.xlsx$")
    assert f"location ~ {pattern.pattern} {{" in site
    exports = [rule.rule for rule in app.url_map.iter_rules() if rule.rule.endswith(".xlsx")]
    assert len(exports) >= 7, exports
    for path in exports:
        assert pattern.match(path), path
