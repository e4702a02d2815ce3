"""审计日志: who changed what, when (province operators)."""

from __future__ import annotations

from urllib.parse import urlencode

from flask import render_template, request
from flask.typing import ResponseReturnValue
from sqlalchemy import func, select

from console.blueprint import bp, province_only, services
from models.operator import AuditEntry

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
        total = int(session.scalar(select(func.count(AuditEntry.id)).where(*conditions)) or 0)
        pages = max(1, (total + PAGE_SIZE - 1) // PAGE_SIZE)
        entries = session.scalars(
            select(AuditEntry)
            .where(*conditions)
            .order_by(AuditEntry.id.desc())
            .offset((min(page, pages) - 1) * PAGE_SIZE)
            .limit(PAGE_SIZE)
        ).all()

    def page_args(n: int) -> str:
        return urlencode(
            {k: v for k, v in {"actor": actor, "action": action, "page": n}.items() if v}
        )

    return render_template(
        "console/audit.html",
        entries=entries,
        actor=actor,
        action=action,
        page=min(page, pages),
        pages=pages,
        total=total,
        page_args=page_args,
    )
