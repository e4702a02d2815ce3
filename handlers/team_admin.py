"""组织 → 我的队伍: team admins manage their team in chat (card, join requests, members, admins,
rename as a flow of the engine, sub-teams, joining mode)."""

from __future__ import annotations

import logging
from collections.abc import Callable

from sqlalchemy.orm import Session

from domain import clock
from domain.contact import mask_mobile
from domain.text import normalize
from handlers.context import Context
from models.team import (
    STATUS_PENDING,
    STATUS_REJECTED,
    Team,
)
from models.volunteer import ACTIVE, Volunteer
from services import teams, volunteers
from wechat.errors import WeChatAPIError
from wechat.router import Router

router = Router("team_admin")
log = logging.getLogger(__name__)

# -- team admins in chat ------------------------------------------------------------------

NOT_ADMIN = (
    "抱歉，只有队伍管理员可以查看和管理队伍信息（包括成员名单）。"
    "如需了解队伍情况，请联系队伍管理员。"
)


def _team_list(session: Session, admin_of: list[Team]) -> str:
    lines = [f"您管理 {len(admin_of)} 支队伍："]
    lines += [f"{i}. {t.name}（{t.status_label}）" for i, t in enumerate(admin_of, 1)]
    lines.append("\n请回复「选择队伍 序号」查看和管理，如「选择队伍 1」。")
    return "\n".join(lines)


class NotManaging(teams.TeamError):
    """No team to act on: not an admin, or an admin of several who has not chosen one."""


def managed_team(ctx: Context, session: Session) -> Team:
    """The team this admin is managing; NotManaging (with what to answer) otherwise."""
    admin_of = teams.admin_teams(session, ctx.openid)
    if not admin_of:
        raise NotManaging(NOT_ADMIN)
    if len(admin_of) == 1:
        return admin_of[0]
    chosen = teams.selected_team(session, ctx.openid)
    if chosen is None:
        raise NotManaging(_team_list(session, admin_of))
    return chosen


def _admins_text(session: Session, team: Team) -> str:
    names = []
    captain = teams.captain_openid(session, team)
    for admin in teams.admins(session, team.id):
        volunteer = session.get(Volunteer, admin.volunteer_id) if admin.volunteer_id else None
        role = "，队长" if admin.openid == captain else ""
        if volunteer is not None and volunteer.name:
            names.append(f"{volunteer.name}（{volunteer.volunteer_no}{role}）")
        elif admin.openid == team.registrant_openid:
            names.append("注册人")
        else:
            names.append("未注册志愿者的管理员")
    return "、".join(names)


def _captain_text(session: Session, team: Team) -> str:
    """The 队长 line: the confirmed captain's volunteer number, or what waits for them."""
    phone = mask_mobile(team.captain_phone) if team.captain_phone else ""
    captain = teams.captain_of(session, team)
    if captain is not None:
        return f"队长：{captain.name}（{captain.volunteer_no}） {phone}".rstrip()
    line = f"队长：{team.captain_name or '—'} {phone}".rstrip()
    if team.captain_code and teams.captain_openid(session, team) is None:
        line += "（待本人确认，回复「队长确认码」查看）"
    return line


def team_card(session: Session, team: Team, *, several: bool = False) -> str:
    parent = teams.parent_of(session, team)
    requests = len(teams.join_requests(session, team.id))
    waiting = sum(1 for c in teams.children(session, team.id) if c.status == STATUS_PENDING)
    region = volunteers.region_text(team.prefecture_code, team.county_code)
    lines = [
        f"【{team.name}】",
        f"队伍编号：{team.team_no}",
        f"状态：{team.status_label}",
        f"类型：{team.kind_label}",
        f"层级：{team.level}",
        f"上级队伍：{parent.name if parent else '—'}",
        f"所在地区：{region}",
        _captain_text(session, team),
        f"成员：{teams.member_count(session, team.id)}人（待审核申请 {requests} 条）",
        f"邀请码：{team.invite_code}",
        f"入队方式：{'自动通过' if team.auto_approve else '管理员审核'}",
        f"管理员：{_admins_text(session, team)}",
    ]
    if waiting:
        lines.append(f"待审核下级队伍：{waiting} 支（回复「待审核」查看并审核）")
    if team.status == STATUS_PENDING:
        lines.append("\n队伍正在等待省科协审核，审核通过后志愿者才能加入。")
    elif team.status == STATUS_REJECTED:
        lines.append(
            f"\n驳回原因：{team.reject_reason or '未说明'}\n可按意见修改后，点击「组织 → 注册」重新提交。"
        )
    lines += [
        "",
        "回复以下指令管理本队：",
        "「待审核」查看待审核的入队申请和下级队伍",
        "「入队申请」审核入队申请",
        "「成员列表」查看成员",
        "「添加管理员 志愿者编号」「移除管理员 志愿者编号」",
        "「修改队名 新名称」修改队名",
        "「下级队伍」查看下级队伍",
        "「自动通过 开」或「自动通过 关」设置入队方式",
        "「发布活动」为本队发布志愿服务活动",
        "「可认领需求」查看本地区待认领的服务需求",
        "「管理后台」在手机上打开队伍管理后台",
    ]
    if several:
        lines.append("「选择队伍 序号」切换到您管理的其他队伍")
    return "\n".join(lines)


def _my_memberships(session: Session, openid: str) -> str:
    volunteer = volunteers.find_by_openid(session, openid)
    if volunteer is None:
        return (
            "您还没有管理或加入任何队伍。\n"
            "· 单位注册科技志愿服务队：点击「组织 → 注册」\n"
            "· 个人加入队伍：先在「志愿者 → 注册」注册志愿者，再点击「志愿者 → 加入队伍」"
        )
    joined = teams.volunteer_teams(session, volunteer.id)
    if not joined:
        return (
            "您目前没有加入任何队伍，也不是队伍管理员。\n"
            "点击「志愿者 → 加入队伍」，或回复「加入 邀请码」申请加入队伍；"
            "单位注册队伍请点击「组织 → 注册」。"
        )
    lines = ["您加入的队伍："]
    lines += [f"{i}. {t.name}（{m.status_label}）" for i, (t, m) in enumerate(joined, 1)]
    lines.append("\n您不是这些队伍的管理员，队伍事务请联系队伍管理员。回复「退出队伍」可退出队伍。")
    return "\n".join(lines)


@router.click("TEAM_MINE")
@router.keyword("我的队伍", "我的服务队", "队伍管理")
def my_teams(ctx: Context) -> str:
    with ctx.services.db.Session() as session:
        admin_of = teams.admin_teams(session, ctx.openid)
        if not admin_of:
            return _my_memberships(session, ctx.openid)
        if len(admin_of) == 1:
            return team_card(session, admin_of[0])
        return _team_list(session, admin_of)


@router.pattern(r"选择(?:队伍)?\s*(\d{1,2})")
def choose_team(ctx: Context) -> str:
    assert ctx.match is not None
    index = int(ctx.match.group(1))
    with ctx.services.db.Session.begin() as session:
        admin_of = teams.admin_teams(session, ctx.openid)
        if not admin_of:
            return NOT_ADMIN
        if not 1 <= index <= len(admin_of):
            return f"没有第 {index} 支队伍，请回复 1 到 {len(admin_of)} 之间的序号。"
        team = admin_of[index - 1]
        teams.select_team(session, ctx.openid, team.id)
        return team_card(session, team, several=len(admin_of) > 1)


Notices = list[tuple[str | None, str]]
Action = Callable[[Context, Session, Team, Notices], str]


def with_team(action: Action) -> Callable[[Context], str]:
    """Run an admin action on the managed team in one transaction, or answer why not. The
    action may queue messages to other users, sent once the transaction is committed."""

    def handler(ctx: Context) -> str:
        notices: Notices = []
        try:
            with ctx.services.db.Session.begin() as session:
                reply = action(ctx, session, managed_team(ctx, session), notices)
        except teams.TeamError as exc:
            return exc.hint
        for openid, text in notices:
            send_notice(ctx, openid, text)
        return reply

    handler.__name__ = action.__name__
    return handler


def send_notice(ctx: Context, openid: str | None, text: str) -> None:
    """A customer-service message, best effort: the reply to the admin matters more."""
    if not openid:
        return
    try:
        ctx.services.api.send_text(openid, text)
    except WeChatAPIError as error:
        log.info("team notice not delivered openid=%s errcode=%s", openid, error.errcode)


def requests_text(session: Session, team: Team) -> str:
    requests = teams.join_requests(session, team.id)
    if not requests:
        return f"「{team.name}」目前没有待审核的入队申请。"
    lines = [f"【{team.name}】待审核的入队申请（{len(requests)} 条）："]
    for i, member in enumerate(requests, 1):
        skills = "、".join(member.skills) or "—"
        lines.append(
            f"{i}. {member.name} {member.phone_masked} {skills}（{member.volunteer_no}，{clock.show(member.since, '%m-%d')}申请）"
        )
    lines.append("\n回复「通过 序号」或「拒绝 序号」处理，如「通过 1」；「全部通过」通过全部申请。")
    return "\n".join(lines)


@router.keyword("入队申请", "待审核申请", "审核申请")
@with_team
def join_requests(ctx: Context, session: Session, team: Team, notices: Notices) -> str:
    return requests_text(session, team)


def _decision_notice(team_name: str, approve: bool) -> str:
    if approve:
        return f"您申请加入「{team_name}」已通过审核，欢迎加入！"
    return f"很抱歉，「{team_name}」的管理员未通过您的入队申请。"


def _decide_request(
    ctx: Context, session: Session, team: Team, notices: Notices, *, approve: bool
) -> str:
    assert ctx.match is not None
    index = int(ctx.match.group(1))
    requests = teams.join_requests(session, team.id)
    if not requests:
        return f"「{team.name}」目前没有待审核的入队申请。"
    if not 1 <= index <= len(requests):
        return (
            f"没有第 {index} 条申请，当前共有 {len(requests)} 条待审核申请。回复「入队申请」查看。"
        )
    member = requests[index - 1]
    if approve:
        teams.approve_member(session, member.membership_id)
    else:
        teams.reject_member(session, member.membership_id)
    volunteer = session.get(Volunteer, member.volunteer_id)
    if volunteer is not None:
        notices.append((volunteer.openid, _decision_notice(team.name, approve)))
    remaining = len(requests) - 1
    done = "已通过" if approve else "已拒绝"
    rest = f"还有 {remaining} 条待审核，回复「入队申请」查看。" if remaining else "申请已全部处理。"
    return f"{done} {member.name}（{member.volunteer_no}）的入队申请。{rest}"


@router.pattern(r"(?:通过|同意)\s*(\d{1,3})")
@with_team
def approve_request(ctx: Context, session: Session, team: Team, notices: Notices) -> str:
    return _decide_request(ctx, session, team, notices, approve=True)


@router.pattern(r"(?:拒绝|驳回)\s*(\d{1,3})")
@with_team
def reject_request(ctx: Context, session: Session, team: Team, notices: Notices) -> str:
    return _decide_request(ctx, session, team, notices, approve=False)


@router.keyword("全部通过")
@with_team
def approve_all(ctx: Context, session: Session, team: Team, notices: Notices) -> str:
    requests = teams.join_requests(session, team.id)
    if not requests:
        return f"「{team.name}」目前没有待审核的入队申请。"
    for member in requests:
        teams.approve_member(session, member.membership_id)
        volunteer = session.get(Volunteer, member.volunteer_id)
        if volunteer is not None:
            notices.append((volunteer.openid, _decision_notice(team.name, True)))
    return f"已通过 {len(requests)} 条入队申请。"


def _members_text(session: Session, team: Team, page: int) -> str:
    result = teams.members(session, team.id, page)
    if result.total == 0:
        return f"「{team.name}」还没有成员。志愿者回复「加入 {team.invite_code}」即可申请加入。"
    lines = [f"【{team.name}】成员（共 {result.total} 人，第 {result.page}/{result.pages} 页）："]
    first = (result.page - 1) * teams.MEMBER_PAGE_SIZE
    for i, member in enumerate(result.items, first + 1):
        skills = "、".join(member.skills) or "—"
        lines.append(f"{i}. {member.name} {member.phone_masked} {skills}（{member.volunteer_no}）")
    if result.page < result.pages:
        lines.append(f"\n回复「成员列表 {result.page + 1}」查看下一页。")
    return "\n".join(lines)


@router.keyword("成员列表", "成员名单", "队员名单", "队伍成员")
@with_team
def member_list(ctx: Context, session: Session, team: Team, notices: Notices) -> str:
    return _members_text(session, team, 1)


@router.pattern(r"(?:成员列表|成员名单|队员名单)\s*(?:第)?\s*(\d{1,3})\s*页?")
@with_team
def member_list_page(ctx: Context, session: Session, team: Team, notices: Notices) -> str:
    assert ctx.match is not None
    return _members_text(session, team, int(ctx.match.group(1)))


def _volunteer_by_number(session: Session, number: str) -> Volunteer:
    volunteer = volunteers.find_by_number(session, normalize(number))
    if volunteer is None or volunteer.status != ACTIVE:
        raise teams.AdminError(
            f"没有找到志愿者编号「{normalize(number).upper()}」，请核对（志愿者可在「我的信息」中查看编号）。"
        )
    return volunteer


@router.pattern(r"添加管理员\s*(\S+)")
@with_team
def add_admin(ctx: Context, session: Session, team: Team, notices: Notices) -> str:
    assert ctx.match is not None
    volunteer = _volunteer_by_number(session, ctx.match.group(1))
    teams.add_admin(session, team.id, volunteer)
    notices.append(
        (
            volunteer.openid,
            f"您已被设为「{team.name}」的管理员。点击「组织 → 我的队伍」管理队伍。",
        )
    )
    return f"已将 {volunteer.name}（{volunteer.volunteer_no}）设为「{team.name}」的管理员。"


@router.pattern(r"(?:移除|删除)管理员\s*(\S+)")
@with_team
def remove_admin(ctx: Context, session: Session, team: Team, notices: Notices) -> str:
    assert ctx.match is not None
    volunteer = _volunteer_by_number(session, ctx.match.group(1))
    teams.remove_admin(session, team.id, volunteer.openid or "")
    return f"已取消 {volunteer.name}（{volunteer.volunteer_no}）的「{team.name}」管理员身份。"


@router.keyword("添加管理员", "移除管理员")
def admin_usage(ctx: Context) -> str:
    return (
        "请在指令后加上志愿者编号，如「添加管理员 KJ0123456789」或「移除管理员 KJ0123456789」。"
        "志愿者可在「志愿者 → 我的信息」中查看自己的编号。"
    )


@router.keyword("下级队伍", "下属队伍", "子队伍")
@with_team
def sub_teams(ctx: Context, session: Session, team: Team, notices: Notices) -> str:
    found = teams.children(session, team.id)
    if not found:
        return (
            f"「{team.name}」暂无下级队伍。\n"
            "任何已通过审核的队都可在「组织 → 注册」选择「已注册队伍的下级支队」注册支队"
            "（学会的专委会选「学会的专业委员会」）；支队可选择「已注册支队的下级分队」注册分队。"
        )
    lines = [f"【{team.name}】的下级队伍（{len(found)} 支）："]
    for i, child in enumerate(found, 1):
        count = teams.member_count(session, child.id)
        lines.append(f"{i}. {child.name}（{child.level}，{child.status_label}，成员 {count} 人）")
    if any(child.status == STATUS_PENDING for child in found):
        lines.append(
            "\n待审核的下级队伍由本队管理员审核：回复「批准下级 序号」通过，"
            "「驳回下级 序号 原因」驳回。"
        )
    return "\n".join(lines)


@router.pattern(r"自动通过\s*(开|关|开启|关闭|是|否)")
@with_team
def auto_approve(ctx: Context, session: Session, team: Team, notices: Notices) -> str:
    assert ctx.match is not None
    on = ctx.match.group(1) in {"开", "开启", "是"}
    teams.set_auto_approve(session, team.id, on)
    if on:
        return f"已开启：志愿者申请加入「{team.name}」将自动通过，无需审核。"
    return f"已关闭自动通过：志愿者申请加入「{team.name}」需管理员审核。"
