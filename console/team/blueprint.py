"""The team console's blueprint, the logged-in admin of each request, and shared helpers."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any, cast

from flask import Blueprint, abort, current_app, g, request, session
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from console.blueprint import csrf
from domain import clock
from extensions import Services
from models.team import Team
from services import team_console
from services.team_console import NoAccess, TeamAdminUser
from services.team_console_logins import TeamLogins

bp = Blueprint(
    "team",
    __name__,
    url_prefix="/team",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)

SESSION_KEY = "team_sid"
PUBLIC_ENDPOINTS = frozenset({"team.login_link", "team.oauth_return", "team.static", "team.start"})


def services() -> Services:
    return cast(Services, current_app.extensions["services"])


def logins() -> TeamLogins:
    svc = services()
    return TeamLogins(
        svc.redis, svc.keys, int(current_app.permanent_session_lifetime.total_seconds())
    )


def who() -> TeamAdminUser:
    return cast(TeamAdminUser, g.team_admin)


def client_ip() -> str | None:
    return request.remote_addr


def in_wechat() -> bool:
    return "MicroMessenger" in request.headers.get("User-Agent", "")


@bp.before_request
def require_admin() -> ResponseReturnValue | None:
    """CSRF on every change; then the admin's rights, read from the database every time."""
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    from console.team.access import not_logged_in, removed

    session_id = session.get(SESSION_KEY)
    openid = logins().openid_of(session_id)
    if openid is None:
        return not_logged_in()
    with services().db.Session() as db_session:
        admin = team_console.admin_user(db_session, openid)
    if admin is None:
        logins().close(str(session_id), openid)
        session.pop(SESSION_KEY, None)
        return removed()
    g.team_admin = admin
    g.team_session_id = session_id
    return None


@bp.after_request
def no_store(response: Any) -> Any:
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


@bp.context_processor
def layout() -> dict[str, Any]:
    return {
        "account_name": services().settings.account_name,
        "admin": g.get("team_admin"),
    }


@bp.app_template_filter("bj")
def beijing(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    return clock.show(value, fmt)


@contextmanager
def managed(team_id: int, *, write: bool = False) -> Iterator[tuple[Session, Team]]:
    """A database session and the team, or 404 when this admin may not manage it."""
    db = services().db
    factory = db.Session.begin() if write else db.Session()
    with factory as db_session:
        try:
            team = team_console.team_of(db_session, who(), team_id)
        except NoAccess:
            abort(404)
        yield db_session, team
