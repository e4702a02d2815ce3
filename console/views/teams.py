"""服务队: approvals (approve / reject with a reason) and the hierarchy, through services.teams."""

from __future__ import annotations

import os
from urllib.parse import urlencode

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session

from console.blueprint import bp, client_ip, services, user
from console.forms import ActionForm, RejectForm
from models.team import Team
from services import operators, teams
from services.teams import tree_pages
from services.teams.tree_pages import tree_page


def _team_in_scope(session: Session, team_id: int) -> Team:
    team = teams.find(session, team_id)
    if team is None or not user().scope.allows(team.prefecture_code, team.county_code):
        abort(404)
    return team


@bp.get("/teams", endpoint="teams")
def teams_page() -> ResponseReturnValue:
    scope = user().scope
    page = max(1, request.args.get("page", 1, type=int) or 1)
    with services().db.Session() as session:
        waiting, waiting_total = tree_pages.waiting(session, scope)
        renames = teams.pending_special_names(session) if scope.is_province else []
        above = {t.parent_id for t in waiting if t.parent_id}
        found = session.scalars(select(Team).where(Team.id.in_(above))).all() if above else []
        by_id = {t.id: t for t in found}
        parents = {t.id: by_id.get(t.parent_id) if t.parent_id else None for t in waiting}
        tree, window = tree_page(session, scope.allows, page)
    return render_template(
        "console/teams.html",
        waiting=waiting,
        waiting_total=waiting_total,
        renames=renames,
        parents=parents,
        tree=tree,
        page=window.page,
        pages=window.pages,
        total=window.total,
        page_args=lambda n: urlencode({"page": n}),
        action_form=ActionForm(),
    )


NOTIFIED = {
    "text": "，已通过客服消息通知申请人。",
    "template": "，已通过模板消息通知申请人。",
    "no-registrant": "。",
    "failed": "，但未能通知申请人（请另行联系）。",
}


def _decide(team_id: int, approve: bool, reason: str = "") -> ResponseReturnValue:
    svc = services()
    try:
        with svc.db.Session.begin() as session:
            team = _team_in_scope(session, team_id)
            if approve:
                team = teams.approve(session, team.id, by=user().scope)
                summary = f"审核通过服务队：{team.name}"
            else:
                team = teams.reject(session, team.id, reason, by=user().scope)
                summary = f"驳回服务队：{team.name}（{team.reject_reason}）"
            operators.audit(
                session,
                user(),
                "team_approve" if approve else "team_reject",
                summary=summary,
                target=team,
                detail={"reason": team.reject_reason} if not approve else None,
                ip=client_ip(),
            )
    except teams.TeamError as exc:
        flash(exc.hint, "error")
        return redirect(url_for("console.teams"))
    # After the commit: the decision stands even if WeChat cannot be reached.
    how = teams.deliver_decision(
        svc.api, team, template_id=os.environ.get("TEAM_NOTICE_TEMPLATE_ID")
    )
    flash(summary + NOTIFIED.get(how, "。"))
    return redirect(url_for("console.teams"))


@bp.post("/teams/<int:team_id>/approve")
def teams_approve(team_id: int) -> ResponseReturnValue:
    return _decide(team_id, approve=True)


@bp.post("/teams/<int:team_id>/reject")
def teams_reject(team_id: int) -> ResponseReturnValue:
    form = RejectForm()
    if not form.validate_on_submit():
        flash("驳回需要填写原因（不超过200字）。", "error")
        return redirect(url_for("console.teams"))
    return _decide(team_id, approve=False, reason=form.reason.data or "")


def _decide_special_name(team_id: int, approve: bool, reason: str = "") -> ResponseReturnValue:
    svc = services()
    try:
        with svc.db.Session.begin() as session:
            team = _team_in_scope(session, team_id)
            decision = teams.decide_special_name(
                session,
                team.id,
                approve_it=approve,
                by=user().scope,
                reason=reason,
                operator=user(),
                ip=client_ip(),
            )
    except teams.TeamError as exc:
        flash(exc.hint, "error")
        return redirect(url_for("console.teams"))
    # After the commit: the decision stands even if WeChat cannot be reached.
    how = teams.tell_name_decision(
        svc.api, decision, template_id=os.environ.get("TEAM_NOTICE_TEMPLATE_ID")
    )
    verdict = "通过" if approve else f"未通过（{decision.reason}）"
    flash(f"特殊命名{verdict}：{decision.requested}。")
    told = sum(1 for openid in decision.admins if how.get(openid) != "failed")
    followers = len(how) - len(decision.admins)
    flash(
        f"已通知队伍管理员 {told} 人"
        + (f"，随之改名的下级队伍管理员 {followers} 人" if followers else "")
        + "。"
    )
    if "failed" in how.values():
        failed = sum(1 for v in how.values() if v == "failed")
        flash(f"有 {failed} 人未能通知到（请另行联系）。", "error")
    return redirect(url_for("console.teams"))


@bp.post("/teams/<int:team_id>/name/approve")
def teams_name_approve(team_id: int) -> ResponseReturnValue:
    return _decide_special_name(team_id, approve=True)


@bp.post("/teams/<int:team_id>/name/reject")
def teams_name_reject(team_id: int) -> ResponseReturnValue:
    form = RejectForm()
    if not form.validate_on_submit():
        flash("不同意特殊命名需要填写原因（不超过200字），原因将告知队伍管理员。", "error")
        return redirect(url_for("console.teams"))
    return _decide_special_name(team_id, approve=False, reason=form.reason.data or "")
