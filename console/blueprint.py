"""The console blueprint, its logged-in user, and helpers every page uses."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import wraps
from typing import Any, TypeVar, cast

from flask import Blueprint, abort, current_app, request
from flask_login import LoginManager, UserMixin, current_user
from flask_wtf.csrf import CSRFProtect

from console.sessions import SessionRegistry
from extensions import Services
from models.operator import ROLE_LABELS, ROLE_PROVINCE, Operator
from services.operators import Scope

bp = Blueprint(
    "console",
    __name__,
    url_prefix="/console",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)
csrf = CSRFProtect()
login_manager = LoginManager()
login_manager.login_view = "console.login"
login_manager.login_message = "请先登录。"
login_manager.session_protection = "strong"

F = TypeVar("F", bound=Callable[..., Any])


@dataclass
class ConsoleUser(UserMixin):  # type: ignore[misc]
    """The logged-in operator, loaded fresh on every request (no ORM object kept around)."""

    id: int
    username: str
    role: str
    region_code: str | None
    openid: str | None
    fingerprint: str
    session_id: str

    @classmethod
    def of(cls, operator: Operator, session_id: str) -> ConsoleUser:
        return cls(
            id=operator.id,
            username=operator.username,
            role=operator.role,
            region_code=operator.region_code,
            openid=operator.openid,
            fingerprint=_fingerprint(operator.password_hash),
            session_id=session_id,
        )

    def get_id(self) -> str:
        # The session id must still be open in Redis (console.sessions); a changed password
        # (also from the CLI) changes the fingerprint. Either ends the login.
        return f"{self.id}:{self.fingerprint}:{self.session_id}"

    @property
    def scope(self) -> Scope:
        return Scope.of(self.role, self.region_code)

    @property
    def is_province(self) -> bool:
        return self.role == ROLE_PROVINCE

    @property
    def role_label(self) -> str:
        return ROLE_LABELS.get(self.role, self.role)


def _fingerprint(password_hash: str) -> str:
    return hashlib.sha256(password_hash.encode()).hexdigest()[:16]


@login_manager.user_loader
def load_user(user_id: str) -> ConsoleUser | None:
    raw_id, fingerprint, session_id = [*user_id.split(":", 2), "", ""][:3]
    if not raw_id.isdigit() or not session_id:
        return None
    if not sessions().is_open(session_id, int(raw_id)):
        return None
    with services().db.Session() as session:
        operator = session.get(Operator, int(raw_id))
        if operator is None or not operator.active:
            return None
        user = ConsoleUser.of(operator, session_id)
    return user if user.fingerprint == fingerprint else None


@bp.before_request
def protect_forms() -> None:
    # Flask-WTF's check, for every unsafe method on a console page (WTF_CSRF_CHECK_DEFAULT is off
    # so the WeChat webhook is not affected).
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        csrf.protect()


@bp.after_request
def no_store(response: Any) -> Any:
    # Pages show personal data: keep them out of shared caches and the back-button cache.
    response.headers.setdefault("Cache-Control", "no-store")
    response.headers.setdefault("X-Frame-Options", "DENY")
    response.headers.setdefault("X-Content-Type-Options", "nosniff")
    response.headers.setdefault("Referrer-Policy", "same-origin")
    return response


def services() -> Services:
    return cast(Services, current_app.extensions["services"])


def sessions() -> SessionRegistry:
    svc = services()
    lifetime = current_app.permanent_session_lifetime
    return SessionRegistry(svc.redis, svc.keys, int(lifetime.total_seconds()))


def user() -> ConsoleUser:
    return cast(ConsoleUser, current_user._get_current_object())


def client_ip() -> str | None:
    return request.remote_addr


def province_only(view: F) -> F:
    """For pages only province operators may use (templates, audit log)."""

    @wraps(view)
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        if not user().is_province:
            abort(403)
        return view(*args, **kwargs)

    return cast(F, wrapped)
