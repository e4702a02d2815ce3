"""A province operator switches a team's right to send notices from the team console."""

from __future__ import annotations

from flask import abort, flash, redirect, request, url_for
from flask.typing import ResponseReturnValue

from console.blueprint import bp, client_ip, province_only, services, user
from models.team import Team
from services import team_console_notices


@bp.post("/teams/<int:team_id>/team-notices", endpoint="team_notices_right")
@province_only
def team_notices_right(team_id: int) -> ResponseReturnValue:
    allowed = request.form.get("allowed") == "1"
    with services().db.Session.begin() as session:
        team = session.get(Team, team_id)
        if team is None:
            abort(404)
        team_console_notices.set_allowed(session, user(), team, allowed, client_ip())
        name = team.name
    flash(f"已{'允许' if allowed else '关闭'}「{name}」在队伍后台发送通知。")
    return redirect(url_for("console.teams"))
