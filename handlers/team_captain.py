"""The 队长 confirms: a registrant who named another captain passes on a code; the captain, a
registered volunteer, replies 「确认队长 <code>」 and becomes the team's 队长 (an admin not
counted among the 管理员). Admins see the code again with 「队长确认码」."""

from __future__ import annotations

from sqlalchemy.orm import Session

from handlers.context import Context
from handlers.team_admin import Notices, send_notice, with_team
from models.team import Team
from services import teams, volunteers
from wechat.router import Router

router = Router("team_captain")

NOT_VOLUNTEER = (
    "确认队长身份需先实名注册科技志愿者：请点击「志愿者 → 注册」完成注册，"
    "再回复「确认队长 确认码」。"
)


@router.pattern(r"确认队长\s*([A-Za-z0-9]{4,12})")
def confirm_captain(ctx: Context) -> str:
    assert ctx.match is not None
    try:
        with ctx.services.db.Session.begin() as session:
            volunteer = volunteers.find_by_openid(session, ctx.openid)
            if volunteer is None:
                return NOT_VOLUNTEER
            team = teams.confirm_captain(session, ctx.match.group(1), volunteer)
            name, who = team.name, f"{volunteer.name}（{volunteer.volunteer_no}）"
            registrant = team.registrant_openid
    except teams.TeamError as exc:
        return exc.hint
    if registrant != ctx.openid:
        send_notice(ctx, registrant, f"{who}已确认担任「{name}」的队长。")
    return (
        f"您已确认担任「{name}」的队长，是本队成员，可管理本队（队长不占管理员名额）。\n"
        "点击「组织 → 我的队伍」查看和管理队伍。"
    )


@router.keyword("确认队长")
def confirm_usage(ctx: Context) -> str:
    return (
        "请在「确认队长」后加上注册人转告您的确认码，如「确认队长 AB23CD」。"
        "确认码由队伍注册人在注册成功时获得。"
    )


@router.keyword("队长确认码", "确认码")
@with_team
def captain_code(ctx: Context, session: Session, team: Team, notices: Notices) -> str:
    captain = teams.captain_of(session, team)
    if captain is not None:
        return f"「{team.name}」的队长 {captain.name}（{captain.volunteer_no}）已确认。"
    code = teams.captain_code(session, team)
    if code is None:
        return f"「{team.name}」当前状态为{team.status_label}，不能确认队长。"
    return (
        f"「{team.name}」登记的队长 {team.captain_name or '—'} 尚未确认。\n"
        f"请将确认码 {code} 转告队长：队长在本公众号完成志愿者注册后，回复「确认队长 {code}」"
        "即成为本队队长（队长不占管理员名额）。队长的姓名须与登记的一致。"
    )
