"""修改队名: a team admin renames the team, as a flow of the conversation engine (取消, 返回, the
timeout and 确认改名 come from the engine)."""

from __future__ import annotations

import re
from typing import Any

from domain import team_names
from domain.errors import ValidationError
from domain.team_names import COUNTY, PREFECTURE
from handlers.context import Context
from handlers.team_admin import managed_team, send_notice
from handlers.team_steps import TeamStep
from models.team import Team
from services import teams
from wechat.conversation import Data, Flow, StepError
from wechat.messages import Reply
from wechat.router import Router

router = Router("team_rename")

FIXED_NAMES = (
    "市（州）、县（区）科技志愿服务队和总队的名称由规则确定，不能自行修改；"
    "如有特殊需要，请联系省科协。"
)
EFFECT_NOTE = "改名立即生效，原名称留档备查；名称中含本队名称的下级队伍随之改名，志愿者照常加入。"
SPECIAL_NAMES = (
    "特殊命名（在省科协指导下命名）的改名需省科协审核：请回复「申请特殊命名 新名称」。"
    "审核通过前仍使用原名称，志愿者照常加入。"
)
COMMAND = re.compile(r"^(?:修改队名|队伍改名|改名)\s*")
CONFIRM_WORDS = {"确认改名", "确认", "确定"}


def _rule(data: Data) -> str:
    return team_names.kind(str(data["kind"])).pattern


def _prompt(data: Data) -> str:
    return (
        f"现在的队名：「{data['team_name']}」\n"
        f"请输入新队名，只需填写 ** 部分。本队的命名规则：「{_rule(data)}」。\n{EFFECT_NOTE}"
    )


def _new_name(text: str, data: Data, ctx: Context) -> str:
    typed = COMMAND.sub("", text.strip())
    if typed in CONFIRM_WORDS:
        raise ValidationError("没有待确认的改名。请先输入新队名（只需填写 ** 部分）。")
    name = team_names.compose_name(str(data["kind"]), typed, str(data.get("parent_name") or ""))
    if team_names.name_key(name) == team_names.name_key(str(data["team_name"])):
        raise ValidationError(f"新名称与现在的名称相同。本队的命名规则：「{_rule(data)}」。")
    with ctx.services.db.Session() as session:
        teams.check_name_free(session, name, except_team=int(data["team_id"]))
    return name


def _summary(data: Data) -> str:
    return (
        f"新队名：「{data['name']}」\n原队名：「{data['team_name']}」\n\n{EFFECT_NOTE}"
        "确认修改请回复「确认改名」，放弃请回复「取消」。"
    )


def _rename(ctx: Context, data: Data) -> str:
    team_id = int(data["team_id"])
    with ctx.services.db.Session.begin() as session:
        if not teams.is_admin(session, team_id, ctx.openid):
            return "您已不是该队伍的管理员，改名未保存。"
        try:
            renamed = teams.rename(session, team_id, str(data["name"]), by=f"wechat:{ctx.openid}")
        except teams.NameTaken as exc:
            raise StepError("name", exc.hint) from None
    for old, new, admins in renamed.followers:
        for openid in admins:
            send_notice(ctx, openid, f"您管理的「{old}」已随上级队伍改名为「{new}」。")
    done = f"改名成功！队伍名称已改为「{data['name']}」。"
    if renamed.followers:
        done += f"\n{len(renamed.followers)} 支下级队伍已同步改名，已通知其管理员。"
    return done


RENAME = Flow(
    name="team_rename",
    title="修改队名",
    steps=(
        TeamStep(
            "name",
            "新队名",
            "请输入新队名：",
            prompt_for=_prompt,
            parse_in_context=_new_name,
            hint="只需输入 ** 部分，系统按命名规则生成全称；已被注册的名称不能使用。",
        ),
    ),
    on_confirm=_rename,
    summary=_summary,
    confirm_word="确认改名",
)
FLOWS = [RENAME]


def _about(session: Any, team: Team) -> Data:
    parent = teams.parent_of(session, team)
    return {
        "team_id": team.id,
        "team_name": team.name,
        "kind": team.kind,
        "parent_name": parent.name if parent else "",
    }


def _start(ctx: Context, typed: str | None) -> Reply | str:
    try:
        with ctx.services.db.Session() as session:
            team = managed_team(ctx, session)
            if team.kind in (PREFECTURE, COUNTY, team_names.ROOT):
                return FIXED_NAMES
            if team.kind == team_names.OTHER:
                return SPECIAL_NAMES
            about = _about(session, team)
    except teams.TeamError as exc:
        return exc.hint
    return ctx.conversations.start(ctx, RENAME.name, about=about, answer=typed)


@router.keyword("修改队名", "队伍改名", "改名")
def rename(ctx: Context) -> Reply | str:
    return _start(ctx, None)


@router.pattern(r"(?:修改队名|队伍改名|改名)\s*(.+)")
def rename_with_name(ctx: Context) -> Reply | str:
    assert ctx.match is not None
    return _start(ctx, ctx.match.group(1))


@router.keyword("确认改名")
def nothing_to_confirm(ctx: Context) -> str:
    return "没有待确认的改名。请先回复「修改队名 新名称」。"


@router.keyword("申请特殊命名")
def special_name_usage(ctx: Context) -> str:
    return SPECIAL_NAMES


@router.pattern(r"申请特殊命名\s*(.+)")
def request_special_name(ctx: Context) -> str:
    assert ctx.match is not None
    try:
        with ctx.services.db.Session.begin() as session:
            team = managed_team(ctx, session)
            old = team.name
            asked = teams.request_special_name(session, team.id, ctx.match.group(1), by=ctx.openid)
            name = asked.requested_name
    except ValidationError as exc:
        return exc.hint
    return (
        f"已提交省科协审核：新名称「{name}」。\n"
        f"审核通过前仍使用原名称「{old}」，志愿者照常加入；结果会通过本公众号通知您。"
    )
