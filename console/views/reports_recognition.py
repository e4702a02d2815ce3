"""表彰候选: a page per year listing candidates by the criteria (thresholds are settings),
the shortlist with notes, and publishing the 公示 (province operators), after which recognised
volunteers are told in chat."""

from __future__ import annotations

import logging

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.blueprint import bp, client_ip, province_only, services, user
from domain import clock
from domain.errors import ValidationError
from domain.recognition import KIND_LABELS
from services import operators, recognition

log = logging.getLogger(__name__)


def _year() -> int:
    raw = request.values.get("year", "")
    year = int(raw) if raw.isdigit() else clock.beijing_date().year
    if not 2000 <= year <= 2100:
        abort(404)
    return year


@bp.get("/recognition", endpoint="recognition")
def recognition_page() -> ResponseReturnValue:
    year = _year()
    svc = services()
    rules = svc.settings.recognition
    with svc.db.Session() as session:
        found = recognition.candidates(session, year, user().scope, rules)
        entries = recognition.shortlisted(session, year, user().scope)
        picked = {(e.kind, e.subject) for e in entries}
        published = any(e.published_at for e in entries)
    return render_template(
        "console/recognition.html",
        year=year,
        candidates=found,
        entries=entries,
        picked=picked,
        published=published,
        criteria=rules.describe(),
        kinds=KIND_LABELS,
        describe=lambda item: recognition.describe(item.figures),
    )


@bp.post("/recognition/shortlist")
def recognition_shortlist() -> ResponseReturnValue:
    year = _year()
    kind, subject = request.form.get("kind", ""), request.form.get("subject", "")
    svc = services()
    with svc.db.Session.begin() as session:
        found = recognition.candidates(session, year, user().scope, svc.settings.recognition)
        candidate = next((c for c in found.get(kind, []) if c.subject == subject), None)
        if candidate is None:
            flash("该候选不符合条件或不在您的管辖范围内。", "error")
            return redirect(url_for("console.recognition", year=year))
        try:
            entry = recognition.shortlist(
                session, year, candidate, request.form.get("note", ""), user().username
            )
        except ValidationError as exc:
            flash(exc.hint, "error")
            return redirect(url_for("console.recognition", year=year))
        operators.audit(
            session, user(), "recognition_shortlist",
            summary=f"{year}年度{KIND_LABELS[kind]}入选：{entry.name}",
            target=entry, detail={"note": entry.note}, ip=client_ip(),
        )  # fmt: skip
    flash(f"已加入入选名单：{candidate.name}")
    return redirect(url_for("console.recognition", year=year))


@bp.post("/recognition/<int:entry_id>/remove")
def recognition_remove(entry_id: int) -> ResponseReturnValue:
    year = _year()
    with services().db.Session.begin() as session:
        try:
            entry = recognition.remove(session, year, entry_id, user().scope)
        except ValidationError as exc:
            flash(exc.hint, "error")
            return redirect(url_for("console.recognition", year=year))
        operators.audit(
            session, user(), "recognition_remove",
            summary=f"{year}年度入选名单移除：{entry.name}", ip=client_ip(),
        )  # fmt: skip
    flash(f"已移除：{entry.name}")
    return redirect(url_for("console.recognition", year=year))


@bp.post("/recognition/publish")
@province_only
def recognition_publish() -> ResponseReturnValue:
    year = _year()
    svc = services()
    with svc.db.Session.begin() as session:
        entries = recognition.publish(session, year)
        if not entries:
            flash("没有待公示的入选名单。", "error")
            return redirect(url_for("console.recognition", year=year))
        operators.audit(
            session, user(), "recognition_publish",
            summary=f"发布{year}年度表彰公示：{len(entries)}项", ip=client_ip(),
            detail={"entries": len(entries)},
        )  # fmt: skip
        recipients = recognition.volunteers_to_tell(session, [e.id for e in entries])
    public_url = svc.settings.public_base_url + url_for("recognition_public.page", year=year)
    told = 0
    for entry_id, openid in recipients:
        try:
            svc.api.send_text(openid, recognition.announcement(year, public_url))
        except Exception:  # the 公示 stands; the volunteer still sees it in 我的信息
            log.warning("recognition notice not delivered entry=%s", entry_id)
            continue
        with svc.db.Session.begin() as session:
            recognition.mark_told(session, entry_id)
        told += 1
    flash(f"已发布{year}年度公示（{len(entries)}项），已通知{told}位志愿者。")
    return redirect(url_for("console.recognition", year=year))
