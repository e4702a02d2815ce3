"""`make run`: the service on embedded defaults, with the fake WeChat API, in one process.

SQLite in instance/, the in-process Redis stand-in, the fake WeChat API on 127.0.0.1:8801 (when no
real credentials are configured; its port is the one in WECHAT_API_BASE_URL), migrations applied,
then the development server on HOST:PORT (default 127.0.0.1:8000).
"""

from __future__ import annotations

import logging
import os
import secrets
import socket
import sys
from pathlib import Path
from urllib.parse import urlparse

from flask import Flask

from config import Settings
from config.settings import INSTANCE_DIR
from infra.migrate import upgrade

log = logging.getLogger("sandbox")
SANDBOX_OPERATOR = "sandbox"
PASSWORD_FILE = "sandbox-console-password"
# The simulator's page asks for new messages every 1.5 s, and each time it reads the fake API's
# copy of the messages sent to that user: both requests stay out of the log.
QUIET_PATHS = ("/simulator/api/chat", "/_fake/messages")


def main() -> None:
    settings = Settings.from_env()
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    fake_port = urlparse(settings.wechat_api_base_url).port or 8801
    check_port_free(host, port, "PORT", f"PORT={port + 1} make run")
    fake = None
    if settings.sandbox:
        from sandbox.fake_wechat import FakeWeChatServer

        check_port_free(
            "127.0.0.1",
            fake_port,
            "WECHAT_API_BASE_URL",
            f"WECHAT_API_BASE_URL=http://127.0.0.1:{fake_port + 1} make run",
            what="模拟的微信接口",
        )
        fake = FakeWeChatServer(settings.wechat_app_id, settings.wechat_app_secret, port=fake_port)
        fake.start()
    upgrade(settings)

    from app import create_app

    app = create_app(settings)
    for hook in app.extensions.get("sandbox_startup", []):
        hook()
    console_login = prepare_demo_data(app) if settings.sandbox else None
    quiet_polling()
    base = f"http://{host}:{port}"
    print(f"\n  服务已启动: {base}/wechat  (健康检查 {base}/readyz)")
    if settings.sandbox:
        print(f"  模拟的微信接口: {settings.wechat_api_base_url}")
    if console_login is not None:
        print(f"  运营后台: {base}/console  (用户名 {console_login[0]}，密码 {console_login[1]})")
    if settings.simulator_available and "simulator" in app.blueprints:
        print(f"  在浏览器中打开微信模拟器: {base}/simulator\n")
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    finally:
        if fake is not None:
            fake.stop()


def check_port_free(host: str, port: int, variable: str, example: str, what: str = "服务") -> None:
    """Exit with a message naming the variable to set when something already listens there."""
    try:
        with socket.socket() as sock:
            sock.bind((host, port))
    except OSError:
        sys.exit(
            f"端口 {port} 已被占用（{what}，可能是另一个 make run）。"
            f"请用 {variable} 换一个端口，例如：{example}"
        )


def prepare_demo_data(app: Flask, instance_dir: Path = INSTANCE_DIR) -> tuple[str, str]:
    """Sandbox only: the root 总队 (so teams can register under it) and a console account. Its
    password is made once per instance folder and kept there, so every `make run` on the same
    folder (several PORTs share instance/) prints the same, working password."""
    from services import operators, teams

    db = app.extensions["services"].db
    password = sandbox_password(instance_dir)
    with db.Session.begin() as session:
        teams.seed_root(session)
        operator = operators.find(session, SANDBOX_OPERATOR)
        if operator is None:
            operators.create(
                session,
                username=SANDBOX_OPERATOR,
                password=password,
                role=operators.ROLE_PROVINCE,
                region_code=None,
            )
        elif not operators.verify_password(operator, password):
            operators.set_password(operator, password)
    return SANDBOX_OPERATOR, password


def sandbox_password(instance_dir: Path) -> str:
    """The sandbox console password of this instance folder, made on first use."""
    path = instance_dir / PASSWORD_FILE
    try:
        kept = path.read_text(encoding="utf-8").strip()
    except FileNotFoundError:
        kept = ""
    if kept:
        return kept
    password = "sandbox-" + secrets.token_urlsafe(9)
    instance_dir.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600)
    path.write_text(password + "\n", encoding="utf-8")
    return password


class _QuietPolling(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(f" {path}" in message for path in QUIET_PATHS)


def quiet_polling() -> None:
    """Keep the simulator's polling requests out of the development server's access log."""
    werkzeug_log = logging.getLogger("werkzeug")
    if not any(isinstance(f, _QuietPolling) for f in werkzeug_log.filters):
        werkzeug_log.addFilter(_QuietPolling())


if __name__ == "__main__":
    main()
