"""`make run`: the service on embedded defaults, with the fake WeChat API, in one process.

SQLite in instance/, the in-process Redis stand-in, the fake WeChat API on 127.0.0.1:8801 (when no
real credentials are configured), migrations applied, then the development server.
"""

from __future__ import annotations

import logging
import os
import secrets
from urllib.parse import urlparse

from flask import Flask

from config import Settings
from infra.migrate import upgrade

log = logging.getLogger("sandbox")
SANDBOX_OPERATOR = "sandbox"


def main() -> None:
    settings = Settings.from_env()
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    fake = None
    if settings.sandbox:
        from sandbox.fake_wechat import FakeWeChatServer

        api = urlparse(settings.wechat_api_base_url)
        fake = FakeWeChatServer(
            settings.wechat_app_id, settings.wechat_app_secret, port=api.port or 8801
        )
        fake.start()
    upgrade(settings)

    from app import create_app

    app = create_app(settings)
    for hook in app.extensions.get("sandbox_startup", []):
        hook()
    console_login = prepare_demo_data(app) if settings.sandbox else None
    base = f"http://{host}:{port}"
    print(f"\n  服务已启动: {base}/wechat  (健康检查 {base}/readyz)")
    if settings.sandbox:
        print(f"  模拟的微信接口: {settings.wechat_api_base_url}")
    if console_login is not None:
        print(
            f"  运营后台: {base}/console  (用户名 {console_login[0]}，本次密码 {console_login[1]})"
        )
    if settings.simulator_available and "simulator" in app.blueprints:
        print(f"  在浏览器中打开微信模拟器: {base}/simulator\n")
    try:
        app.run(host=host, port=port, threaded=True, use_reloader=False)
    finally:
        if fake is not None:
            fake.stop()


def prepare_demo_data(app: Flask) -> tuple[str, str]:
    """Sandbox only: the root 总队 (so teams can register under it) and a console account whose
    password is new on every start (printed, never stored in plain text)."""
    from services import operators, teams

    db = app.extensions["services"].db
    password = "sandbox-" + secrets.token_urlsafe(9)
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
        else:
            operators.set_password(operator, password)
    return SANDBOX_OPERATOR, password


if __name__ == "__main__":
    main()
