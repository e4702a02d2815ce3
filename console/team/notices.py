"""通知: a template message to the team's own members through the notice pipeline (the same
value checks and sending as operators' notices), unless a province operator switched it off."""

from __future__ import annotations

from flask import current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.team.blueprint import bp, client_ip, managed, who
from domain.errors import ValidationError
from models.notice import NoticeTemplate
from services import team_console, team_console_notices
from worker.queue import NoticeQueue


def _template(templates: list[NoticeTemplate], raw: str | None) -> NoticeTemplate | None:
    return next((t for t in templates if str(t.id) == (raw or "")), None)


@bp.route("/t/<int:team_id>/notices", methods=["GET", "POST"], endpoint="notices")
def notices_page(team_id: int) -> ResponseReturnValue:
    source = request.form if request.method == "POST" else request.args
    with managed(team_id) as (session, team):
        templates = list(team_console_notices.templates(session))
        chosen = _template(templates, source.get("template"))
        values = {
            item["key"]: source.get(f"data-{item['key']}", "")
            for item in (chosen.fields if chosen else [])
        }
        page = render_template(
            "team/notices.html",
            team=team,
            templates=templates,
            chosen=chosen,
            values=values,
            url=source.get("url", ""),
            count=team_console_notices.recipient_count(session, team),
        )
    if request.method == "GET" or chosen is None:
        return page
    try:
        with managed(team_id, write=True) as (session, team):
            checked = team_console_notices.draft(
                session, team, chosen.id, values, source.get("url") or None
            )
            notice = team_console_notices.send(session, who(), team, checked, client_ip())
            team_console.record(
                session, who(), team, "notice", f"发送通知：{chosen.title} → 本队成员",
                target=notice, ip=client_ip(),
            )  # fmt: skip
            notice_id = notice.id
    except ValidationError as exc:
        flash(exc.hint, "error")
        return page
    queue: NoticeQueue = current_app.extensions["notice_queue"]
    queue.enqueue(notice_id)
    flash("通知已加入发送队列，将发送给本队成员。")
    return redirect(url_for("team.notices", team_id=team_id))
