"""`make run`: demo data, a console password that stays the same per instance folder, a port
conflict that names the variable to set, and the simulator's polling kept out of the log."""

from __future__ import annotations

import logging
import os
import socket
import stat
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
import redis
import requests
from flask import Flask
from sqlalchemy import func, select
from werkzeug.serving import make_server

from config import Settings
from extensions import close_extensions
from infra.db import Database
from models.team import Team
from sandbox.run import PASSWORD_FILE, SANDBOX_OPERATOR, prepare_demo_data, quiet_polling
from services import operators
from tests.test_console_support import login

PROJECT = Path(__file__).resolve().parent.parent


def test_the_password_stays_the_same_for_one_instance_folder(
    app: Flask, db: Database, tmp_path: Path
) -> None:
    _, first = prepare_demo_data(app, tmp_path)
    username, second = prepare_demo_data(app, tmp_path)  # a second make run, on another PORT
    assert username == SANDBOX_OPERATOR and first == second
    assert stat.S_IMODE((tmp_path / PASSWORD_FILE).stat().st_mode) == 0o600
    with db.Session() as session:
        assert session.scalar(select(func.count()).select_from(Team)) == 1
        assert operators.verify_password(operators.find(session, SANDBOX_OPERATOR), second)
    assert login(app.test_client(), SANDBOX_OPERATOR, second).status_code == 302

    _, elsewhere = prepare_demo_data(app, tmp_path / "other")  # another folder: its own password
    assert elsewhere != first
    assert login(app.test_client(), SANDBOX_OPERATOR, elsewhere).status_code == 302


@pytest.fixture
def busy_port() -> Iterator[int]:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen()
        yield sock.getsockname()[1]


def make_run(**env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith(("WECHAT_", "PORT", "HOST"))}
    return subprocess.run(
        [sys.executable, "-m", "sandbox.run"],
        cwd=PROJECT,
        env={**clean, "HOST": "127.0.0.1", **env},
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_a_busy_port_names_the_variable_to_set(busy_port: int) -> None:
    result = make_run(PORT=str(busy_port))
    assert result.returncode == 1
    assert f"端口 {busy_port} 已被占用" in result.stderr and "PORT=" in result.stderr


def test_a_busy_fake_api_port_names_wechat_api_base_url(busy_port: int) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    result = make_run(PORT=str(port), WECHAT_API_BASE_URL=f"http://127.0.0.1:{busy_port}")
    assert result.returncode == 1
    assert "模拟的微信接口" in result.stderr and "WECHAT_API_BASE_URL=" in result.stderr


def test_simulator_polling_stays_out_of_the_access_log(
    settings: Settings, db: Database, redis_client: redis.Redis, caplog: pytest.LogCaptureFixture
) -> None:
    from app import create_app

    app = create_app(settings.with_overrides(sandbox=True))  # the fake API runs in this process
    quiet_polling()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{server.server_port}"
    try:
        with caplog.at_level(logging.INFO, logger="werkzeug"):
            polled = requests.get(base + "/simulator/api/chat?openid=sim-userA", timeout=10)
            requests.get(base + "/healthz", timeout=10)
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        close_extensions(app)
    assert polled.status_code == 200 and polled.json()["api_status"] == "ok"
    logged = [r.getMessage() for r in caplog.records if r.name == "werkzeug"]
    assert any("/healthz" in line for line in logged), logged
    assert not any("/simulator/api/chat" in line for line in logged), logged
    assert not any("/_fake/messages" in line for line in logged), logged
