"""审计日志: who changed what, when (province operators)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from console.blueprint import bp, province_only, services
from models.operator import AuditEntry
from services import paging

PAGE_SIZE = 100


@bp.get("/audit", endpoint="audit")
@province_only
def audit_log() -> ResponseReturnValue:
    actor = (request.args.get("actor") or "").strip()
    action = (request.args.get("action") or "").strip()
    page = max(1, request.args.get("page", 1, type=int) or 1)
    conditions = []
    if actor:
        conditions.append(AuditEntry.actor == actor)
    if action:
        conditions.append(AuditEntry.action == action)
    with services().db.Session() as session:
        total = paging.count(session, AuditEntry.id, conditions)
        window = paging.Window.of(total, page, PAGE_SIZE)
        ids = paging.page_ids(session, AuditEntry.id, conditions, window)
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.id.in_(ids)).order_by(AuditEntry.id.desc())
        ).all()
        page, pages = window.page, window.pages

    def page_args(n: int) -> str:
        return urlencode(
            {k: v for k, v in {"actor": actor, "action": action, "page": n}.items() if v}
        )

    return render_template(
        "console/audit.html",
        entries=entries,
        actor=actor,
        action=action,
        page=page,
        pages=pages,
        total=total,
        page_args=page_args,
    )
