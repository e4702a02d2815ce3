"""通知匹配志愿者: a team admin whose team is paired with a need's 县区 or suggested for it sends
one template notice to the need's matched volunteers (services.needs_notices), through the
notice pipeline, after seeing how many will receive it."""

from __future__ import annotations

from flask import abort, current_app, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.team.blueprint import bp, client_ip, managed, who
from domain.errors import ValidationError
from models.need import Need
from services import needs, needs_notices, notices, team_console_notices
from worker.queue import NoticeQueue


@bp.get("/t/<int:team_id>/need-notices", endpoint="need_notices")
def need_notices(team_id: int) -> ResponseReturnValue:
    with managed(team_id) as (session, team):
        found = needs_notices.needs_for_team(session, team)
        return render_template(
            "team/need_notices.html",
            team=team,
            needs=[(need.id, needs.public_need(need)) for need in found],
        )


@bp.route(
    "/t/<int:team_id>/needs/<int:need_id>/notify", methods=["GET", "POST"], endpoint="need_notify"
)
def need_notify(team_id: int, need_id: int) -> ResponseReturnValue:
    source = request.form if request.method == "POST" else request.args
    region = source.get("region") or None
    with managed(team_id) as (session, team):
        need = session.get(Need, need_id)
        if need is None or not needs_notices.team_may_notify(session, team, need):
            abort(404)
        templates = list(team_console_notices.templates(session))
        chosen = next((t for t in templates if str(t.id) == source.get("template", "")), None)
        values = {
            item["key"]: source.get(f"data-{item['key']}", "")
            for item in (chosen.fields if chosen else [])
        }
        choices = needs_notices.region_choices(need)
        if region not in {code for code, _ in choices}:
            region = None
        count = needs_notices.recipient_count(session, needs_notices.need_scope(need), need, region)
        need_no = need.need_no
        context = {
            "team": team,
            "need_id": need.id,
            "need": needs.public_need(need),
            "templates": templates,
            "chosen": chosen,
            "values": values,
            "url": source.get("url", ""),
            "regions": choices,
            "region": region or "",
            "count": count,
        }
    if request.method == "GET" or chosen is None:
        return render_template("team/need_notify.html", **context)
    try:
        with managed(team_id, write=True) as (session, team):
            need = session.get(Need, need_id)
            assert need is not None
            checked = needs_notices.team_draft(
                session,
                team,
                need,
                template_pk=chosen.id,
                data=values,
                url=source.get("url") or None,
                region=region,
            )
            if request.form.get("action") != "send":
                return render_template("team/need_notify.html", **context, checked=True)
            if count == 0 or request.form.get("expected", type=int) != count:
                flash(f"接收人数为 {count} 人，请核对后再确认发送。", "error")
                return render_template("team/need_notify.html", **context, checked=True)
            notice = needs_notices.team_send(session, who(), team, need, checked, client_ip())
            notice_id = notice.id
    except notices.DraftError as exc:
        return render_template("team/need_notify.html", **context, errors=exc.errors)
    except ValidationError as exc:
        flash(exc.hint, "error")
        return render_template("team/need_notify.html", **context)
    queue: NoticeQueue = current_app.extensions["notice_queue"]
    queue.enqueue(notice_id)
    flash(f"通知已加入发送队列，将发送给需求 {need_no} 的 {count} 名匹配志愿者。")
    return redirect(url_for("team.need_notices", team_id=team_id))
