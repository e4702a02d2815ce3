"""下级队伍: the 支队 and 分队 registered below a team; its admins approve or refuse those
waiting (the level above approves), through the team services; the registrant is told."""

from __future__ import annotations

import os

from flask import flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.team.blueprint import bp, client_ip, managed, services, who
from models.team import LEVEL_BRANCH, LEVEL_SQUAD, STATUS_PENDING, Team
from services import team_console, teams

DECIDED_HERE = (LEVEL_BRANCH, LEVEL_SQUAD)


@bp.get("/t/<int:team_id>/subteams", endpoint="subteams")
def subteams_page(team_id: int) -> ResponseReturnValue:
    with managed(team_id) as (session, team):
        below = teams.children(session, team.id)
        counts = {child.id: teams.member_count(session, child.id) for child in below}
        return render_template(
            "team/subteams.html",
            team=team,
            below=below,
            counts=counts,
            decidable={c.id for c in below if _decidable(c)},
        )


def _decidable(child: Team) -> bool:
    return child.status == STATUS_PENDING and child.level in DECIDED_HERE


@bp.post("/t/<int:team_id>/subteams/<int:child_id>/<any(approve, reject):decision>")
def decide_subteam(team_id: int, child_id: int, decision: str) -> ResponseReturnValue:
    approve = decision == "approve"
    reason = request.form.get("reason", "")
    try:
        with managed(team_id, write=True) as (session, team):
            child = next((c for c in teams.children(session, team.id) if c.id == child_id), None)
            if child is None or not _decidable(child):
                raise teams.InvalidDecision("该下级队伍不存在或已审核。")
            if approve:
                teams.approve(session, child.id)
            else:
                teams.reject(session, child.id, reason)
            team_console.record(
                session,
                who(),
                team,
                "subteam_" + decision,
                f"{'通过' if approve else '驳回'}下级队伍：{child.name}"
                + ("" if approve else f"，原因：{' '.join(reason.split())}"),
                target=child,
                ip=client_ip(),
            )
    except teams.TeamError as exc:
        flash(exc.hint, "error")
        return redirect(url_for("team.subteams", team_id=team_id))
    # After the commit: the decision stands even if WeChat cannot be reached.
    teams.deliver_decision(
        services().api, child, template_id=os.environ.get("TEAM_NOTICE_TEMPLATE_ID")
    )
    flash(f"已{'通过' if approve else '驳回'}「{child.name}」的注册。")
    return redirect(url_for("team.subteams", team_id=team_id))
