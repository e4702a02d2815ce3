"""Volunteers joining and leaving teams: 「加入 邀请码」, 志愿者 → 加入队伍, scene QR codes,
「退出队伍」."""

from __future__ import annotations

import logging
import re
from typing import Any

from sqlalchemy.orm import Session

from domain.errors import Ineligible, ValidationError
from domain.text import normalize
from handlers import service_checkin
from handlers.context import Context
from models.team import MEMBERSHIP_JOINED, STATUS_APPROVED, Membership, Team
from models.volunteer import Volunteer
from services import teams, volunteers
from wechat.conversation import Data, Flow, Step
from wechat.errors import WeChatAPIError
from wechat.messages import Reply
from wechat.router import Router

router = Router("membership")
log = logging.getLogger(__name__)

CODE_RE = re.compile(r"[A-Z0-9]{6}")
CODE_HINT = "邀请码为6位字母和数字（如「AB3D5F」），可向队伍管理员索取。"
NOT_VOLUNTEER = (
    "加入队伍需要先注册科技志愿者：点击底部菜单「志愿者 → 注册」，注册完成后再申请加入。"
)
ADMINS_TO_NOTIFY = 3


def _clean_code(text: str) -> str:
    code = re.sub(r"\s+", "", normalize(text)).upper()
    if not CODE_RE.fullmatch(code):
        raise ValidationError(f"「{code[:12]}」不是有效的邀请码。{CODE_HINT}")
    return code


def _notify_admins(ctx: Context, team_id: int, text: str) -> None:
    """Tell the team's admins about a new join request (best effort: the 48-hour
    customer-service window may have closed; they also see it in 我的队伍)."""
    with ctx.services.db.Session() as session:
        openids = [a.openid for a in teams.admins(session, team_id)][:ADMINS_TO_NOTIFY]
    for openid in openids:
        try:
            ctx.api.send_text(openid, text)
        except WeChatAPIError as error:
            log.info("join notice not delivered openid=%s errcode=%s", openid, error.errcode)


def _joined_text(team: Team, membership: Membership) -> str:
    if membership.status == MEMBERSHIP_JOINED:
        return f"您已加入「{team.name}」，欢迎！回复「我的信息」可查看您所在的队伍。"
    return f"已提交加入「{team.name}」的申请，请等待队伍管理员审核，审核结果会通过公众号通知您。"


def _join(ctx: Context, find: Any) -> str:
    """Join the team `find(session)` returns; the reply explains every refusal."""
    request_note: tuple[int, str] | None = None
    try:
        with ctx.services.db.Session.begin() as session:
            volunteer = volunteers.find_by_openid(session, ctx.openid)
            team = find(session)
            if volunteer is None:
                return _not_volunteer_text(team)
            membership = teams.join(session, team, volunteer)
            text = _joined_text(team, membership)
            if membership.status != MEMBERSHIP_JOINED:
                request_note = (
                    team.id,
                    f"「{team.name}」收到新的入队申请：{volunteer.name}（{volunteer.volunteer_no}）。"
                    "点击「组织 → 我的队伍」，回复「入队申请」审核。",
                )
    except teams.TeamError as exc:
        return exc.hint
    if request_note is not None:
        _notify_admins(ctx, *request_note)
    return text


def _not_volunteer_text(team: Team) -> str:
    if team.status != STATUS_APPROVED:
        return teams.TeamNotOpen(team).hint
    return (
        f"您正在申请加入「{team.name}」。{NOT_VOLUNTEER}\n"
        f"注册完成后回复「加入 {team.invite_code}」即可申请。"
    )


def _by_code(code: str) -> Any:
    def find(session: Session) -> Team:
        team = teams.by_invite_code(session, code)
        if team is None:
            raise teams.InviteCodeNotFound(code)
        return team

    return find


@router.pattern(r"加入\s*(?:队伍)?\s*(\S.{0,19})")
def join_by_code(ctx: Context) -> str:
    assert ctx.match is not None
    try:
        code = _clean_code(ctx.match.group(1))
    except ValidationError as exc:
        return f"{exc.hint}\n请回复「加入 邀请码」，如「加入 AB3D5F」。"
    return _join(ctx, _by_code(code))


# -- 志愿者 → 加入队伍: asks for the code, shows the team, 确认 ---------------------------


def _invite_code(text: str, data: Data, ctx: Context) -> dict[str, Any]:
    code = _clean_code(text)
    with ctx.services.db.Session() as session:
        team = teams.by_invite_code(session, code)
        if team is None:
            raise teams.InviteCodeNotFound(code)
        if team.status != STATUS_APPROVED:
            raise teams.TeamNotOpen(team)
        return {"code": code, "team_id": team.id, "name": team.name, "team_no": team.team_no}


def _show_team(value: Any, data: Data) -> str:
    if isinstance(value, dict):
        return f"{value.get('name')}（队伍编号 {value.get('team_no')}）"
    return str(value)


def _can_join(ctx: Context) -> Reply | None:
    with ctx.services.db.Session() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            return Reply(text=NOT_VOLUNTEER)
        if len(teams.volunteer_teams(session, volunteer.id)) >= teams.MAX_TEAMS_PER_VOLUNTEER:
            return Reply(text=teams.TooManyTeams().hint)
    return None


def _confirm_join(ctx: Context, data: Data) -> str:
    team_id = int(data["invite_code"]["team_id"])

    def find(session: Session) -> Team:
        return teams.get(session, team_id)

    with ctx.services.db.Session() as session:
        if volunteers.find_by_openid(session, ctx.openid) is None:
            raise Ineligible(NOT_VOLUNTEER)
    text = _join(ctx, find)
    return text


JOIN = Flow(
    name="team_join",
    title="加入队伍",
    steps=(
        Step(
            "invite_code",
            "要加入的队伍",
            "请输入队伍的邀请码（6位字母和数字，可向队伍管理员索取）：",
            parse_in_context=_invite_code,
            display=_show_team,
            hint=CODE_HINT + "也可以直接扫描队伍的二维码申请加入。",
        ),
    ),
    on_confirm=_confirm_join,
    before_start=_can_join,
    summary_title="请确认要加入的队伍",
)

FLOWS = [JOIN]


@router.click("VOLUNTEER_JOIN_TEAM")
@router.keyword("加入队伍", "加入服务队", "入队")
def join_menu(ctx: Context) -> Reply:
    return ctx.conversations.start(ctx, JOIN.name)


# -- leaving ------------------------------------------------------------------------------


def _my_teams(session: Session, volunteer: Volunteer) -> list[tuple[Team, Membership]]:
    return teams.volunteer_teams(session, volunteer.id)


@router.keyword("退出队伍", "撤回申请", "退队")
def leave_menu(ctx: Context) -> str:
    with ctx.services.db.Session() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            return "您还没有注册志愿者，也没有加入任何队伍。"
        joined = _my_teams(session, volunteer)
        if not joined:
            return "您目前没有加入任何队伍。"
        lines = ["您所在的队伍："]
        lines += [f"{i}. {t.name}（{m.status_label}）" for i, (t, m) in enumerate(joined, 1)]
        lines.append(
            "\n确定退出请回复「退出队伍 序号」，如「退出队伍 1」（待审核的申请也可以这样撤回）。"
        )
        return "\n".join(lines)


@router.pattern(r"(?:退出队伍|撤回申请|退队)\s*(\d{1,2})")
def leave(ctx: Context) -> str:
    assert ctx.match is not None
    index = int(ctx.match.group(1))
    with ctx.services.db.Session.begin() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            return "您还没有注册志愿者，也没有加入任何队伍。"
        joined = _my_teams(session, volunteer)
        if not 1 <= index <= len(joined):
            if not joined:
                return "您目前没有加入任何队伍。"
            return f"没有第 {index} 支队伍，请回复 1 到 {len(joined)} 之间的序号。回复「退出队伍」查看列表。"
        team, membership = joined[index - 1]
        was_pending = membership.status != MEMBERSHIP_JOINED
        teams.leave(session, team.id, volunteer.id)
        if was_pending:
            return f"已撤回加入「{team.name}」的申请。"
        return f"您已退出「{team.name}」。感谢您在队伍中的付出！"


# -- scene QR codes: subscribe-by-scan (via basics.subscribe) and SCAN --------------------


def scene_join(ctx: Context) -> str | None:
    """The reply to scanning a team's QR code, or None when the scene is not a team's."""
    scene = ctx.msg.scene
    with ctx.services.db.Session() as session:
        team = teams.by_scene(session, scene)
        if team is None:
            return None
        team_id = team.id
    return _join(ctx, lambda session: teams.get(session, team_id))


@router.event("scan")
def scan(ctx: Context) -> str | None:
    # An activity's 签到/签退 code first, then a team's.
    return service_checkin.scene_reply(ctx) or scene_join(ctx)
