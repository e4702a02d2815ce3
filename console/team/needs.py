"""需求: published needs in the team's area (its service fields first) with a 认领 button, and
the needs the team has taken on (with the requester's contact, the activity and the feedback).

认领 is the chat's claim (services.needs_claim.claim_need): the need becomes 已认领 and the
activity is made as a draft from the need's values, which the admin checks and publishes on
the activity's page, where the button leads.
"""

from __future__ import annotations

from flask import flash, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select

from console.team.blueprint import bp, client_ip, managed, services, who
from domain.errors import ValidationError
from models.need import Need
from services import activity_messages, needs, needs_claim, needs_followup
from worker.needs_jobs import schedule_after_activity

CLAIMED_SHOWN = 50


@bp.get("/t/<int:team_id>/needs", endpoint="needs")
def needs_page(team_id: int) -> ResponseReturnValue:
    with managed(team_id) as (session, team):
        open_needs = needs_claim.claimable(session, team)
        taken = session.scalars(
            select(Need)
            .where(Need.claimed_team_id == team.id)
            .order_by(Need.claimed_at.desc(), Need.id.desc())
            .limit(CLAIMED_SHOWN)
        ).all()
        return render_template(
            "team/needs.html",
            team=team,
            open_needs=open_needs,
            taken=taken,
            public=needs.public_need,
            public_path=needs.public_path,
            fields=set(team.service_areas or ()),
        )


@bp.post("/t/<int:team_id>/needs/<int:need_id>/claim", endpoint="need_claim")
def need_claim(team_id: int, need_id: int) -> ResponseReturnValue:
    try:
        with managed(team_id, write=True) as (session, team):
            need = session.get(Need, need_id)
            if need is None:
                raise needs.NeedError("没有找到这个需求。")
            values = needs_claim.console_values(need, team, who())
            claimed = needs_claim.claim_need(
                session, need_id, team, who(), values, publish=False, ip=client_ip()
            )
    except (needs.NeedError, ValidationError) as exc:
        flash(exc.hint if isinstance(exc, ValidationError) else str(exc), "error")
        return redirect(url_for("team.needs", team_id=team_id))
    svc = services()
    schedule_after_activity(svc, claimed.activity_id, claimed.ends_at)
    how = needs_followup.tell_claimed(svc.api, svc.db, svc.settings, claimed.need_id)
    told = how != activity_messages.FAILED
    flash(
        f"已认领需求 {claimed.need_no}"
        + ("，已通知需求方" if told else "")
        + "。活动已按需求生成草稿，请核对时间、地点和联系方式后点击「发布」。"
    )
    return redirect(url_for("team.activity", activity_id=claimed.activity_id))
