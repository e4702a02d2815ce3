"""The operator console (科协工作人员后台): server-rendered pages under /console.

init_console(app) wires Flask-Login (sessions), Flask-WTF (CSRF on every console form), secure
session cookies and the notice queue, then registers the blueprint. Pages live in console/views/.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask
from flask.sessions import SecureCookieSessionInterface

from console.blueprint import bp, csrf, login_manager
from console.team import init_team_console
from infra.errors import add_error_page

SESSION_HOURS = 8


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """Session cookies carry the Secure flag except in the sandbox and in tests (plain http)."""

    def get_cookie_secure(self, app: Flask) -> bool:
        settings = app.extensions["settings"]
        return not (settings.sandbox or app.testing)


def init_console(app: Flask) -> None:
    from console import errors, views  # noqa: F401  (attach the routes and error pages to bp)
    from worker.queue import build_queue

    app.config.update(
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=SESSION_HOURS),
        REMEMBER_COOKIE_HTTPONLY=True,
        # CSRF is checked for the console's forms only (console.blueprint), not for /wechat.
        WTF_CSRF_CHECK_DEFAULT=False,
        WTF_CSRF_TIME_LIMIT=SESSION_HOURS * 3600,
    )
    app.session_interface = ConsoleSessionInterface()
    csrf.init_app(app)
    login_manager.init_app(app)
    app.extensions["notice_queue"] = build_queue(app)
    app.register_blueprint(bp)
    add_error_page(app, bp.url_prefix or "/console", errors.page_for_path)
    init_team_console(app)


__all__ = ["bp", "init_console"]
