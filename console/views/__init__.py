"""Console pages. Importing this package attaches every route to console.blueprint.bp."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import redirect, request, url_for
from flask.typing import ResponseReturnValue
from flask_login import current_user

from console.blueprint import bp, services
from domain import clock, regions

PUBLIC_ENDPOINTS = frozenset({"console.login", "console.static"})

NAV: tuple[tuple[str, str], ...] = (
    ("console.dashboard", "概览"),
    ("console.reports", "统计"),
    ("console.volunteers", "志愿者"),
    ("console.teams", "服务队"),
    ("console.activities", "活动"),
    ("console.needs", "需求"),
    ("console.templates", "模板"),
    ("console.notices", "通知"),
    ("console.recognition", "表彰"),
)
PROVINCE_NAV = (("console.audit", "审计日志"),)


@bp.before_request
def require_login() -> ResponseReturnValue | None:
    if request.endpoint in PUBLIC_ENDPOINTS or current_user.is_authenticated:
        return None
    return redirect(url_for("console.login", next=request.full_path.rstrip("?")))


@bp.context_processor
def layout() -> dict[str, Any]:
    nav = NAV + (PROVINCE_NAV if current_user.is_authenticated and current_user.is_province else ())
    return {
        "nav": nav,
        "account_name": services().settings.account_name,
        "region_label": region_label,
    }


def region_label(code: str | None) -> str:
    if not code:
        return "全省"
    try:
        return regions.label(code).removeprefix("甘肃省") or "全省"
    except KeyError:
        return code


@bp.app_template_filter("beijing")
def beijing(value: datetime | None, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A stored UTC time shown in Beijing time."""
    return clock.show(value, fmt)


from console.views import (  # noqa: E402
    account,
    activities,
    attendance,
    audit,
    dashboard,
    exports,
    need_detail,
    needs,
    needs_pairings,
    notices,
    reports,
    reports_import,
    reports_recognition,
    team_rights,
    teams,
    templates,
    volunteers,
)

__all__ = [
    "account",
    "activities",
    "attendance",
    "audit",
    "dashboard",
    "exports",
    "need_detail",
    "needs",
    "needs_pairings",
    "notices",
    "reports",
    "reports_import",
    "reports_recognition",
    "team_rights",
    "teams",
    "templates",
    "volunteers",
]
