"""成员: join requests to approve or refuse, the member list (masked, searchable, filtered by
skill), removal with a reason (the member is told), admins within the size-based limit."""

from __future__ import annotations

import logging

from flask import Response, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue

from console.team.blueprint import bp, client_ip, managed, services, who
from domain.choices import SKILLS
from domain.errors import ValidationError
from domain.hours import format_hours
from models.team import MEMBERSHIP_JOINED, MEMBERSHIP_PENDING
from models.volunteer import Volunteer
from services import team_console, team_console_members, teams
from services.reports_export import XLSX_MIME, Listing, export_to_temp
from services.teams.tree_pages import membership_counts
from wechat.errors import WeChatAPIError

log = logging.getLogger(__name__)
# Join requests shown at once, oldest first; the rest once these are decided.
REQUESTS_SHOWN = 20


def tell(openid: str | None, text: str) -> None:
    """A customer-service message to a volunteer, best effort (after the change is saved)."""
    if not openid:
        return
    try:
        services().api.send_text(openid, text)
    except WeChatAPIError as error:
        log.info("team console message not delivered errcode=%s", error.errcode)


def _back(team_id: int) -> ResponseReturnValue:
    return redirect(url_for("team.members", team_id=team_id))


@bp.get("/t/<int:team_id>/members", endpoint="members")
def members_page(team_id: int) -> ResponseReturnValue:
    query = request.args.get("q", "")[:40]
    skill = request.args.get("skill", "")
    skill = skill if skill in SKILLS else ""
    page = request.args.get("page", "1")
    with managed(team_id) as (session, team):
        found = team_console_members.member_list(
            session, team.id, query=query, skill=skill, page=int(page) if page.isdigit() else 1
        )
        counts = membership_counts(session, [team.id])
        count = counts.get((team.id, MEMBERSHIP_JOINED), 0)
        return render_template(
            "team/members.html",
            team=team,
            requests=teams.join_requests(session, team.id, limit=REQUESTS_SHOWN),
            request_count=counts.get((team.id, MEMBERSHIP_PENDING), 0),
            found=found,
            query=query,
            skill=skill,
            skills=SKILLS,
            count=count,
            admin_count=teams.counted_admins(session, team),
            captain=teams.captain_of(session, team),
            admin_limit=team_console_members.admin_limit(count),
            format_hours=format_hours,
        )


@bp.post("/t/<int:team_id>/requests/<int:membership_id>/<any(approve, reject):decision>")
def decide_request(team_id: int, membership_id: int, decision: str) -> ResponseReturnValue:
    approve = decision == "approve"
    with managed(team_id, write=True) as (session, team):
        pending = teams.join_requests(session, team.id, membership_id=membership_id)
        member = pending[0] if pending else None
        if member is None:
            flash("该入队申请不存在或已处理。", "error")
            return _back(team_id)
        if approve:
            teams.approve_member(session, membership_id)
        else:
            teams.reject_member(session, membership_id)
        volunteer = session.get(Volunteer, member.volunteer_id)
        openid = volunteer.openid if volunteer else None
        team_console.record(
            session,
            who(),
            team,
            "join_" + decision,
            f"{'通过' if approve else '拒绝'}入队申请：{member.name}（{member.volunteer_no}）",
            target=volunteer,
            ip=client_ip(),
        )
        team_name = team.name
    tell(
        openid,
        f"您申请加入「{team_name}」已通过审核，欢迎加入！"
        if approve
        else f"很抱歉，「{team_name}」的管理员未通过您的入队申请。",
    )
    flash(f"已{'通过' if approve else '拒绝'} {member.name} 的入队申请。")
    return _back(team_id)


@bp.post("/t/<int:team_id>/members/<int:volunteer_id>/remove")
def remove_member(team_id: int, volunteer_id: int) -> ResponseReturnValue:
    reason = request.form.get("reason", "")
    try:
        with managed(team_id, write=True) as (session, team):
            volunteer = team_console_members.remove_member(session, team, volunteer_id, reason)
            team_console.record(
                session,
                who(),
                team,
                "member_remove",
                f"移出成员：{volunteer.name}（{volunteer.volunteer_no}），原因：{reason.strip()}",
                target=volunteer,
                ip=client_ip(),
            )
            openid, name = volunteer.openid, volunteer.name
            text = team_console_members.removal_text(team, reason)
    except (ValidationError, teams.TeamError) as exc:
        flash(exc.hint, "error")
        return _back(team_id)
    tell(openid, text)
    flash(f"已将 {name} 移出本队，并已通知本人。")
    return _back(team_id)


@bp.post("/t/<int:team_id>/members/<int:volunteer_id>/admin")
def set_admin(team_id: int, volunteer_id: int) -> ResponseReturnValue:
    appoint = request.form.get("on") == "1"
    try:
        with managed(team_id, write=True) as (session, team):
            if appoint:
                volunteer = team_console_members.appoint_admin(session, team, volunteer_id)
            else:
                volunteer = team_console_members.dismiss_admin(session, team, volunteer_id)
            team_console.record(
                session,
                who(),
                team,
                "admin_add" if appoint else "admin_remove",
                f"{'设为管理员' if appoint else '取消管理员'}：{volunteer.name}（{volunteer.volunteer_no}）",
                target=volunteer,
                ip=client_ip(),
            )
            openid, name, team_name = volunteer.openid, volunteer.name, team.name
    except (ValidationError, teams.TeamError) as exc:
        flash(exc.hint, "error")
        return _back(team_id)
    if appoint:
        tell(openid, f"您已被设为「{team_name}」的管理员。点击「组织 → 我的队伍」管理队伍。")
        flash(f"已将 {name} 设为管理员。")
    else:
        flash(f"已取消 {name} 的管理员身份。")
    return _back(team_id)


@bp.get("/t/<int:team_id>/members.xlsx", endpoint="members_export")
def members_export(team_id: int) -> ResponseReturnValue:
    """Every member, one row each, personal data masked (the reports' .xlsx writer)."""
    with managed(team_id, write=True) as (session, team):
        rows = [
            (r.volunteer_no, r.name, r.phone_masked, r.id_masked, list(r.skills),
             float(r.hours), "队长" if r.is_captain else ("是" if r.is_admin else ""))
            for r in team_console_members.all_members(session, team.id)
        ]  # fmt: skip
        team_console.record(
            session,
            who(),
            team,
            "export_members",
            f"导出成员名单（{len(rows)} 人）",
            ip=client_ip(),
        )
        team_no = team.team_no
    listing = Listing(
        name="team-members",
        title="成员名单",
        columns=[("志愿者编号", 16), ("姓名", 10), ("手机号", 14), ("身份证号", 20),
                 ("专业领域", 24), ("服务时长（小时）", 14), ("管理员", 8)],
        rows=rows,
    )  # fmt: skip
    return xlsx_response(listing, f"members-{team_no}.xlsx")


def xlsx_response(listing: Listing, filename: str) -> Response:
    export = export_to_temp(listing)
    response = Response(export.chunks(), mimetype=XLSX_MIME, direct_passthrough=True)
    response.headers["Content-Disposition"] = f"attachment; filename={filename}"
    return response
