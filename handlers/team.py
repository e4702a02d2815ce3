"""组织: registering a 科技志愿服务队 by chat, team admins' menu (我的队伍), and the `teams` CLI."""

from __future__ import annotations

import json
import logging
import re
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from typing import Any

import click
from flask import current_app
from flask.cli import AppGroup
from sqlalchemy.orm import Session

from domain import clock, regions, team_names
from domain.choices import SKILLS
from domain.contact import mask_mobile, parse_free_text, parse_mobile, parse_person_name
from domain.errors import ValidationError
from domain.team_names import COMMITTEE, COUNTY, KINDS, OTHER, PREFECTURE, SOCIETY, SQUAD, UNIT
from domain.text import normalize
from handlers.context import Context
from models.team import (
    LEVEL_BRANCH,
    LEVEL_TEAM,
    STATUS_APPROVED,
    STATUS_PENDING,
    STATUS_REJECTED,
    Team,
)
from models.volunteer import ACTIVE, Volunteer
from services import teams, volunteers
from wechat.conversation import AnswerPolicy, Data, Flow, Step, StepError
from wechat.errors import WeChatAPIError
from wechat.messages import Reply
from wechat.router import Router

router = Router("team")
log = logging.getLogger(__name__)

# -- database lookups from inside a step --------------------------------------------------
#
# A few answers must be checked against the database while the user types them (is this name
# taken? which registered 队 is the parent?): their steps use `parse_in_context`, whose parser
# also receives the message's context.


@contextmanager
def lookup_session(ctx: Context) -> Iterator[Session]:
    with ctx.services.db.Session() as session:
        yield session


# -- steps whose prompt depends on earlier answers ----------------------------------------


@dataclass(frozen=True)
class TeamStep(Step):
    """A Step whose question is written from the earlier answers (`prompt_for`)."""

    prompt_for: Callable[[Data], str] | None = None

    def render_prompt(self, data: Data) -> str:
        if self.prompt_for is None:
            return super().render_prompt(data)
        return replace(self, prompt=self.prompt_for(data), prompt_for=None).render_prompt(data)


@dataclass(frozen=True)
class CountyStep(TeamStep):
    """The county of a 县（区） team: a county of another 市州 gets a hint saying so."""

    def accept(self, text: str, data: Data, ctx: Context, answers: AnswerPolicy) -> Any:
        try:
            return super().accept(text, data, ctx, answers)
        except ValidationError:
            elsewhere = _county_elsewhere(text, data.get("prefecture_code") or "")
            if elsewhere is None:
                raise
            county, prefecture = elsewhere
            chosen = regions.get(data.get("prefecture_code") or "")
            raise ValidationError(
                f"「{county.name}」属于{prefecture.name}，不在{chosen.name if chosen else '所选市州'}。"
                "请从下列县区中选择；如需更改市州，请回复「返回」。\n"
                + "\n".join(f"{i}. {o}" for i, o in enumerate(self.options(data), 1))
            ) from None


def _county_elsewhere(
    text: str, prefecture_code: str
) -> tuple[regions.Division, regions.Division] | None:
    for prefecture in regions.prefectures():
        if prefecture.code == prefecture_code:
            continue
        county = regions.find_county(prefecture.code, text)
        if county is not None:
            return county, prefecture
    return None


# -- the registration flow ----------------------------------------------------------------

KIND_OPTIONS = tuple(k.option for k in KINDS)
PROVINCE_OPTION = "全省（省级单位）"


def _kind_of(data: Data) -> str:
    return str(data.get("kind") or "")


def _is(*kinds: str) -> Callable[[Data], bool]:
    def applies(data: Data) -> bool:
        return _kind_of(data) in kinds

    return applies


def _typed_name(data: Data) -> bool:
    return bool(data.get("kind")) and team_names.kind(_kind_of(data)).typed_part


def _kind(answer: str, data: Data) -> str:
    return KINDS[KIND_OPTIONS.index(answer)].key


def _parent_level(data: Data) -> str:
    return LEVEL_TEAM if _kind_of(data) == COMMITTEE else LEVEL_BRANCH


def _parent_search_prompt(data: Data) -> str:
    if _kind_of(data) == COMMITTEE:
        return (
            "专委会支队隶属于本学会的科技志愿服务队。请输入学会名称（或其中几个字，如「农学会」），"
            "我们在已通过审核的学会科技志愿服务队中查找："
        )
    return "分队隶属于已注册的支队。请输入上级支队名称中的几个字，我们在已通过审核的支队中查找："


def _search_parent(text: str, data: Data, ctx: Context) -> list[dict[str, Any]]:
    words = normalize(text)
    if not words:
        raise ValidationError("请输入名称中的几个字。")
    committee = _kind_of(data) == COMMITTEE
    with lookup_session(ctx) as session:
        found = teams.search(
            session,
            words,
            level=_parent_level(data),
            kind=SOCIETY if committee else None,
            limit=9,
        )
    if not found:
        if committee:
            raise ValidationError(
                f"没有找到名称含「{words}」、已通过审核的学会科技志愿服务队。"
                "专委会支队需所属学会先注册「**学会科技志愿服务队」并通过审核。"
                "请换个关键词再试，或回复「取消」。"
            )
        raise ValidationError(
            f"没有找到名称含「{words}」、已通过审核的支队。分队需建在已注册的支队之下，"
            "请换个关键词再试，或回复「取消」。"
        )
    if len(found) > 8:
        raise ValidationError("找到的队伍较多，请输入更完整的名称。")
    return [{"id": team.id, "name": team.name} for team in found]


def _parent_names(data: Data) -> list[str]:
    return [str(p["name"]) for p in data.get("parent_search") or []]


def _parent(answer: str, data: Data) -> dict[str, Any]:
    for found in data.get("parent_search") or []:
        if found["name"] == answer:
            return dict(found)
    raise ValidationError("请从列表中选择上级队伍。")  # pragma: no cover - answer is an option


def _parent_name(data: Data) -> str:
    parent = data.get("parent") or {}
    return str(parent.get("name") or "")


def _prefecture_options(data: Data) -> list[str]:
    names = [p.name for p in regions.prefectures()]
    if _kind_of(data) in (PREFECTURE, COUNTY):
        return names
    return [PROVINCE_OPTION, *names]


def _prefecture_prompt(data: Data) -> str:
    if _kind_of(data) == PREFECTURE:
        return "请选择市（州），队名将为「**市（州）科技志愿服务队」："
    if _kind_of(data) == COUNTY:
        return "请先选择县（区）所属的市（州）："
    return "请选择队伍所在地区（省级学会、省直单位、高校等请选「全省（省级单位）」）："


def _check_free(ctx: Context, name: str) -> None:
    with lookup_session(ctx) as session:
        teams.check_name_free(session, name)


def _prefecture(answer: str, data: Data, ctx: Context) -> str:
    if answer == PROVINCE_OPTION:
        return regions.PROVINCE_CODE
    division = regions.find_prefecture(answer)
    if division is None:  # pragma: no cover - answer comes from the option list
        raise ValidationError("请选择市州。")
    if _kind_of(data) == PREFECTURE:
        _check_free(ctx, team_names.region_team_name(division.name))
    if _kind_of(data) == COUNTY and not regions.counties(division.code):
        raise ValidationError(
            f"{division.name}不设县（区），市级科协请回复「返回」，把类型改为「市（州）科协」。"
        )
    return division.code


def _county_names(data: Data) -> list[str]:
    return [c.name for c in regions.counties(data.get("prefecture_code") or "")]


def _county(answer: str, data: Data, ctx: Context) -> str:
    division = regions.find_county(data["prefecture_code"], answer)
    if division is None:  # pragma: no cover - answer comes from the option list
        raise ValidationError("请选择县区。")
    _check_free(ctx, team_names.region_team_name(division.name))
    return division.code


def full_name(data: Data) -> str | None:
    """The team's full name as composed so far, or None."""
    kind = _kind_of(data)
    code = data.get("county_code") if kind == COUNTY else data.get("prefecture_code")
    if kind in (PREFECTURE, COUNTY):
        division = regions.get(code) if code else None
        return team_names.region_team_name(division.name) if division else None
    name = data.get("name")
    return str(name) if name else None


def _name_prompt(data: Data) -> str:
    kind = _kind_of(data)
    if kind == SOCIETY:
        return (
            "请输入学会（协会、研究会）的全称，如「甘肃省农学会」。\n"
            "队名将为「**学会科技志愿服务队」，如「甘肃省农学会科技志愿服务队」。"
        )
    if kind == COMMITTEE:
        return f"请输入专委会名称，如「植物保护」。\n队名将为「{_parent_name(data)}**专委会支队」。"
    if kind == UNIT:
        return (
            "请输入单位名称，如「兰州大学」「甘肃省科技馆」「××有限公司」。\n"
            "队名将为「**科技志愿服务队」，如「兰州大学科技志愿服务队」。"
        )
    if kind == SQUAD:
        return f"请输入分队名称，如「天水」。\n队名将为「{_parent_name(data)}**分队」。"
    return (
        "请输入队伍全称。\n不在上述范围或有特殊命名需求的队伍，将在省科协指导下确定名称，"
        "审核时工作人员会与您联系。"
    )


def compose_name(kind: str, text: str, parent_name: str = "") -> str:
    """The full name for a kind from what the user typed (ValidationError with a hint)."""
    if kind == SOCIETY:
        return team_names.society_name(text)
    if kind == COMMITTEE:
        return team_names.committee_name(parent_name, text)
    if kind == UNIT:
        return team_names.unit_name(text)
    if kind == SQUAD:
        return team_names.squad_name(parent_name, text)
    if kind == OTHER:
        return team_names.free_name(text)
    raise ValidationError("市（州）、县（区）科技志愿服务队的名称由所在地区决定。")


def _name(text: str, data: Data, ctx: Context) -> str:
    name = compose_name(_kind_of(data), text, _parent_name(data))
    _check_free(ctx, name)
    return name


def _host_org_prompt(data: Data) -> str:
    name = full_name(data)
    banner = f"队伍全称：「{name}」，该名称可以注册。\n\n" if name else ""
    return banner + "请输入依托单位（组建队伍的单位）全称："


def _host_org(text: str, data: Data) -> str:
    return parse_free_text(text, 100, "依托单位名称")


_LANDLINE = re.compile(r"(0\d{2,3})-?(\d{7,8})(?:-(\d{1,6}))?")
SAME_AS_CAPTAIN = {"同上", "同队长", "同队长手机", "同队长电话"}


def parse_contact_phone(text: str, data: Data) -> str:
    """A mobile number, a landline (0931-8812345, extension allowed) or 「同上」 (the captain's)."""
    value = normalize(text).replace(" ", "").replace("—", "-").replace("－", "-")
    if value in SAME_AS_CAPTAIN and data.get("captain_phone"):
        return str(data["captain_phone"])
    landline = _LANDLINE.fullmatch(value.replace("(", "").replace(")", "-").strip("-"))
    if landline:
        area, number, extension = landline.groups()
        return f"{area}-{number}" + (f"-{extension}" if extension else "")
    try:
        return parse_mobile(value)
    except ValidationError:
        raise ValidationError(
            "请输入手机号或带区号的座机号码，如 13812345678 或 0931-8812345；与队长手机相同请回复「同上」。"
        ) from None


def _show_phone(value: Any, data: Data) -> str:
    text = str(value)
    return mask_mobile(text) if text.startswith("1") else text


def _show_kind(value: Any, data: Data) -> str:
    return team_names.kind(str(value)).label


def _show_prefecture(value: Any, data: Data) -> str:
    if value == regions.PROVINCE_CODE:
        return PROVINCE_OPTION
    division = regions.get(str(value))
    text = division.name if division else str(value)
    if _kind_of(data) == PREFECTURE:
        text += f"（队伍名称：{full_name(data)}）"
    return text


def _show_county(value: Any, data: Data) -> str:
    division = regions.get(str(value))
    text = division.name if division else str(value)
    if _kind_of(data) == COUNTY:
        text += f"（队伍名称：{full_name(data)}）"
    return text


def _description(text: str, data: Data) -> str:
    return parse_free_text(text, 200, "队伍简介")


STEPS: tuple[Step, ...] = (
    Step(
        "kind",
        "注册单位类型",
        "请选择注册单位的类型。按省科协通知，科技志愿服务队按「总队—队—支队—分队」管理，"
        "各类队伍统一命名（** 为您要填写的部分）：",
        parse=_kind,
        choices=KIND_OPTIONS,
        display=_show_kind,
        resets=("parent_search", "parent", "prefecture_code", "county_code", "name"),
        hint="按单位性质选择；学会的专委会选2，已注册支队的下级分队选6，都不符合选7。",
    ),
    TeamStep(
        "parent_search",
        "查找上级队伍",
        "请输入上级队伍名称中的几个字：",
        prompt_for=_parent_search_prompt,
        parse_in_context=_search_parent,
        when=_is(COMMITTEE, SQUAD),
        when_label="专委会支队或分队",
        resets=("parent", "name"),
        in_summary=False,
        hint="上级队伍必须已注册并通过审核。输入名称中的几个字即可，如「农学会」。",
    ),
    Step(
        "parent",
        "上级队伍",
        "找到以下已通过审核的队伍，请选择上级队伍（都不是请回复「返回」重新查找）：",
        parse=_parent,
        choices=_parent_names,
        when=_is(COMMITTEE, SQUAD),
        when_label="专委会支队或分队",
        display=lambda v, d: str(v.get("name")) if isinstance(v, dict) else str(v),
        resets=("name",),
    ),
    TeamStep(
        "prefecture_code",
        "所在市州",
        "请选择所在市州：",
        prompt_for=_prefecture_prompt,
        parse_in_context=_prefecture,
        choices=_prefecture_options,
        display=_show_prefecture,
        resets=("county_code",),
    ),
    CountyStep(
        "county_code",
        "所在县区",
        "请选择县（区），队名将为「**县（区）科技志愿服务队」：",
        parse_in_context=_county,
        choices=_county_names,
        when=_is(COUNTY),
        when_label="县（区）科协",
        display=_show_county,
    ),
    TeamStep(
        "name",
        "队伍名称",
        "请输入队伍名称：",
        prompt_for=_name_prompt,
        parse_in_context=_name,
        when=_typed_name,
        when_label="需填写名称的类型",
        hint="只需输入 ** 部分，系统会按命名规则生成队伍全称；已被注册的名称不能重复使用。",
    ),
    TeamStep(
        "host_org",
        "依托单位",
        "请输入依托单位（组建队伍的单位）全称：",
        prompt_for=_host_org_prompt,
        parse=_host_org,
        hint="即组建和管理队伍的单位，如「甘肃省农学会」「兰州大学科协」。",
    ),
    Step(
        "captain_name",
        "队长姓名",
        "请输入队长的真实姓名：",
        parse=lambda t, d: parse_person_name(t),
    ),
    Step(
        "captain_phone",
        "队长手机号",
        "请输入队长的手机号：",
        parse=lambda t, d: parse_mobile(t),
        display=_show_phone,
    ),
    Step(
        "contact_phone",
        "联系电话",
        "请输入队伍联系电话（手机或座机，如 0931-8812345）；与队长手机相同请回复「同上」：",
        parse=parse_contact_phone,
        display=_show_phone,
    ),
    Step(
        "description",
        "队伍简介",
        "请用一两句话介绍队伍（服务内容、服务对象等），不超过200字：",
        parse=_description,
    ),
    Step(
        "service_areas",
        "服务领域",
        "请选择队伍的服务领域（可多选）：",
        choices=SKILLS,
        multiple=True,
        hint="回复多个数字，用空格或顿号分开，例如「1 2」。",
    ),
)

_NAME_STEP = {PREFECTURE: "prefecture_code", COUNTY: "county_code"}
# Steps that make up the name and the place in the tree; every other step is saved as it is,
# into the team's column of the same name.
NAME_STEPS = frozenset({"kind", "parent_search", "parent", "name"})
FORM_STEPS: tuple[Step, ...] = tuple(s for s in STEPS if s.name not in NAME_STEPS)


def _save_registration(ctx: Context, data: Data) -> str:
    kind = _kind_of(data)
    name = full_name(data)
    assert name is not None
    parent = data.get("parent") or {}
    details: dict[str, Any] = {step.name: data.get(step.name) for step in FORM_STEPS}
    form = teams.TeamForm(kind=kind, name=name, parent_id=parent.get("id"), **details)
    with ctx.services.db.Session.begin() as session:
        try:
            team = teams.register(session, openid=ctx.openid, form=form)
        except teams.NameTaken as exc:
            raise StepError(_NAME_STEP.get(kind, "name"), exc.hint) from None
        except teams.ParentNotFound as exc:
            raise StepError("parent_search", exc.hint) from None
        number = team.team_no
    guidance = (
        "\n特殊命名的队伍将在省科协指导下确定名称，审核时工作人员可能与您联系。"
        if kind == OTHER
        else ""
    )
    return (
        f"提交成功！「{name}」已提交审核。\n队伍编号：{number}\n您已成为本队管理员。{guidance}\n\n"
        "接下来：省科协工作人员审核后，结果会通过本公众号通知您。"
        "审核通过后，点击「组织 → 我的队伍」可查看邀请码、审核入队申请、管理成员。"
    )


REGISTER = Flow(
    name="team_register",
    title="服务队注册",
    steps=STEPS,
    on_confirm=_save_registration,
    intro=(
        "欢迎注册科技志愿服务队！填写过程中可随时回复「返回」上一步、「取消」退出、「帮助」查看说明。"
    ),
    summary_title="请核对队伍注册信息",
)

FLOWS = [REGISTER]


@router.click("TEAM_REGISTER")
@router.keyword("注册队伍", "队伍注册", "注册服务队")
def register(ctx: Context) -> Reply:
    return ctx.conversations.start(ctx, REGISTER.name)


# -- team admins in chat ------------------------------------------------------------------

SELECTION_SECONDS = 24 * 3600
RENAME_SECONDS = 30 * 60
NOT_ADMIN = (
    "抱歉，只有队伍管理员可以查看和管理队伍信息（包括成员名单）。"
    "如需了解队伍情况，请联系队伍管理员。"
)


def _admin_state(ctx: Context) -> dict[str, Any]:
    raw = ctx.services.redis.get(ctx.services.keys.team_admin(ctx.openid))
    if not raw:
        return {}
    try:
        state = json.loads(raw)
    except ValueError:
        return {}
    return state if isinstance(state, dict) else {}


def _save_admin_state(ctx: Context, state: dict[str, Any]) -> None:
    ctx.services.redis.set(
        ctx.services.keys.team_admin(ctx.openid), json.dumps(state), ex=SELECTION_SECONDS
    )


def _team_list(session: Session, admin_of: list[Team]) -> str:
    lines = [f"您管理 {len(admin_of)} 支队伍："]
    lines += [f"{i}. {t.name}（{t.status_label}）" for i, t in enumerate(admin_of, 1)]
    lines.append("\n请回复「选择队伍 序号」查看和管理，如「选择队伍 1」。")
    return "\n".join(lines)


def _managed_team(ctx: Context, session: Session) -> Team | str:
    """The team this admin is managing, or the text to answer instead."""
    admin_of = teams.admin_teams(session, ctx.openid)
    if not admin_of:
        return NOT_ADMIN
    if len(admin_of) == 1:
        return admin_of[0]
    chosen = _admin_state(ctx).get("team_id")
    for team in admin_of:
        if team.id == chosen:
            return team
    return _team_list(session, admin_of)


def _admins_text(session: Session, team: Team) -> str:
    names = []
    for admin in teams.admins(session, team.id):
        volunteer = session.get(Volunteer, admin.volunteer_id) if admin.volunteer_id else None
        if volunteer is not None and volunteer.name:
            names.append(f"{volunteer.name}（{volunteer.volunteer_no}）")
        elif admin.openid == team.registrant_openid:
            names.append("注册人")
        else:
            names.append("未注册志愿者的管理员")
    return "、".join(names)


def team_card(session: Session, team: Team, *, several: bool = False) -> str:
    parent = teams.parent_of(session, team)
    requests = len(teams.join_requests(session, team.id))
    region = volunteers.region_text(team.prefecture_code, team.county_code)
    lines = [
        f"【{team.name}】",
        f"队伍编号：{team.team_no}",
        f"状态：{team.status_label}",
        f"类型：{team.kind_label}",
        f"层级：{team.level}",
        f"上级队伍：{parent.name if parent else '—'}",
        f"所在地区：{region}",
        f"队长：{team.captain_name or '—'} {mask_mobile(team.captain_phone) if team.captain_phone else ''}".rstrip(),
        f"成员：{teams.member_count(session, team.id)}人（待审核申请 {requests} 条）",
        f"邀请码：{team.invite_code}",
        f"入队方式：{'自动通过' if team.auto_approve else '管理员审核'}",
        f"管理员：{_admins_text(session, team)}",
    ]
    if team.status == STATUS_PENDING:
        lines.append("\n队伍正在等待省科协审核，审核通过后志愿者才能加入。")
    elif team.status == STATUS_REJECTED:
        lines.append(
            f"\n驳回原因：{team.reject_reason or '未说明'}\n可按意见修改后，点击「组织 → 注册」重新提交。"
        )
    lines += [
        "",
        "回复以下指令管理本队：",
        "「入队申请」审核入队申请",
        "「成员列表」查看成员",
        "「添加管理员 志愿者编号」「移除管理员 志愿者编号」",
        "「修改队名 新名称」修改队名",
        "「下级队伍」查看下级队伍",
        "「自动通过 开」或「自动通过 关」设置入队方式",
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
    with ctx.services.db.Session() as session:
        admin_of = teams.admin_teams(session, ctx.openid)
        if not admin_of:
            return NOT_ADMIN
        if not 1 <= index <= len(admin_of):
            return f"没有第 {index} 支队伍，请回复 1 到 {len(admin_of)} 之间的序号。"
        team = admin_of[index - 1]
        _save_admin_state(ctx, {"team_id": team.id})
        return team_card(session, team, several=len(admin_of) > 1)


def _with_team(action: Callable[[Context, Session, Team], str]) -> Callable[[Context], str]:
    """Run an admin action on the managed team (read-write), or explain why not."""

    def handler(ctx: Context) -> str:
        try:
            with ctx.services.db.Session.begin() as session:
                team = _managed_team(ctx, session)
                if isinstance(team, str):
                    return team
                return action(ctx, session, team)
        except teams.TeamError as exc:
            return exc.hint

    handler.__name__ = action.__name__
    return handler


def _send(ctx: Context, openid: str | None, text: str) -> None:
    """A customer-service message, best effort: the reply to the admin matters more."""
    if not openid:
        return
    try:
        ctx.api.send_text(openid, text)
    except WeChatAPIError as error:
        log.info("team notice not delivered openid=%s errcode=%s", openid, error.errcode)


def _requests_text(session: Session, team: Team) -> str:
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
@_with_team
def join_requests(ctx: Context, session: Session, team: Team) -> str:
    return _requests_text(session, team)


def _decide_request(ctx: Context, approve: bool) -> str:
    assert ctx.match is not None
    index = int(ctx.match.group(1))
    notice: tuple[str | None, str] | None = None
    with ctx.services.db.Session.begin() as session:
        team = _managed_team(ctx, session)
        if isinstance(team, str):
            return team
        requests = teams.join_requests(session, team.id)
        if not 1 <= index <= len(requests):
            if not requests:
                return f"「{team.name}」目前没有待审核的入队申请。"
            return f"没有第 {index} 条申请，当前共有 {len(requests)} 条待审核申请。回复「入队申请」查看。"
        member = requests[index - 1]
        if approve:
            teams.approve_member(session, member.membership_id)
        else:
            teams.reject_member(session, member.membership_id)
        volunteer = session.get(Volunteer, member.volunteer_id)
        remaining = len(requests) - 1
        team_name = team.name
        if volunteer is not None:
            notice = (
                volunteer.openid,
                f"您申请加入「{team_name}」已通过审核，欢迎加入！"
                if approve
                else f"很抱歉，「{team_name}」的管理员未通过您的入队申请。",
            )
    if notice is not None:
        _send(ctx, *notice)
    done = "已通过" if approve else "已拒绝"
    rest = f"还有 {remaining} 条待审核，回复「入队申请」查看。" if remaining else "申请已全部处理。"
    return f"{done} {member.name}（{member.volunteer_no}）的入队申请。{rest}"


@router.pattern(r"(?:通过|同意)\s*(\d{1,3})")
def approve_request(ctx: Context) -> str:
    return _decide_request(ctx, approve=True)


@router.pattern(r"(?:拒绝|驳回)\s*(\d{1,3})")
def reject_request(ctx: Context) -> str:
    return _decide_request(ctx, approve=False)


@router.keyword("全部通过")
def approve_all(ctx: Context) -> str:
    notices: list[tuple[str | None, str]] = []
    with ctx.services.db.Session.begin() as session:
        team = _managed_team(ctx, session)
        if isinstance(team, str):
            return team
        requests = teams.join_requests(session, team.id)
        for member in requests:
            teams.approve_member(session, member.membership_id)
            volunteer = session.get(Volunteer, member.volunteer_id)
            if volunteer is not None:
                notices.append(
                    (volunteer.openid, f"您申请加入「{team.name}」已通过审核，欢迎加入！")
                )
        team_name = team.name
    for notice in notices:
        _send(ctx, *notice)
    if not requests:
        return f"「{team_name}」目前没有待审核的入队申请。"
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
def member_list(ctx: Context) -> str:
    return _member_page(ctx, 1)


@router.pattern(r"(?:成员列表|成员名单|队员名单)\s*(?:第)?\s*(\d{1,3})\s*页?")
def member_list_page(ctx: Context) -> str:
    assert ctx.match is not None
    return _member_page(ctx, int(ctx.match.group(1)))


def _member_page(ctx: Context, page: int) -> str:
    with ctx.services.db.Session() as session:
        team = _managed_team(ctx, session)
        if isinstance(team, str):
            return team
        return _members_text(session, team, page)


def _volunteer_by_number(session: Session, number: str) -> Volunteer:
    volunteer = volunteers.find_by_number(session, normalize(number))
    if volunteer is None or volunteer.status != ACTIVE:
        raise teams.AdminError(
            f"没有找到志愿者编号「{normalize(number).upper()}」，请核对（志愿者可在「我的信息」中查看编号）。"
        )
    return volunteer


@router.pattern(r"添加管理员\s*(\S+)")
def add_admin(ctx: Context) -> str:
    assert ctx.match is not None
    number = ctx.match.group(1)
    try:
        with ctx.services.db.Session.begin() as session:
            team = _managed_team(ctx, session)
            if isinstance(team, str):
                return team
            volunteer = _volunteer_by_number(session, number)
            teams.add_admin(session, team.id, volunteer)
            text = f"已将 {volunteer.name}（{volunteer.volunteer_no}）设为「{team.name}」的管理员。"
            notice = f"您已被设为「{team.name}」的管理员。点击「组织 → 我的队伍」管理队伍。"
    except teams.TeamError as exc:
        return exc.hint
    _send(ctx, volunteer.openid, notice)
    return text


@router.pattern(r"(?:移除|删除)管理员\s*(\S+)")
def remove_admin(ctx: Context) -> str:
    assert ctx.match is not None
    number = ctx.match.group(1)
    try:
        with ctx.services.db.Session.begin() as session:
            team = _managed_team(ctx, session)
            if isinstance(team, str):
                return team
            volunteer = _volunteer_by_number(session, number)
            teams.remove_admin(session, team.id, volunteer.openid or "")
            return (
                f"已取消 {volunteer.name}（{volunteer.volunteer_no}）的「{team.name}」管理员身份。"
            )
    except teams.TeamError as exc:
        return exc.hint


@router.keyword("添加管理员", "移除管理员")
def admin_usage(ctx: Context) -> str:
    return (
        "请在指令后加上志愿者编号，如「添加管理员 KJ0123456789」或「移除管理员 KJ0123456789」。"
        "志愿者可在「志愿者 → 我的信息」中查看自己的编号。"
    )


def _rename_usage(team: Team) -> str:
    kind = team_names.kind(team.kind)
    return (
        f"请回复「修改队名 新名称」，只需填写 ** 部分。本队的命名规则：「{kind.pattern}」。\n"
        "改名后队伍将重新进入「待审核」状态，审核通过前志愿者不能加入。"
    )


@router.keyword("修改队名", "队伍改名", "改名")
@_with_team
def rename_usage(ctx: Context, session: Session, team: Team) -> str:
    if team.kind in (PREFECTURE, COUNTY, team_names.ROOT):
        return "市（州）、县（区）科技志愿服务队和总队的名称由规则确定，不能自行修改；如有特殊需要，请联系省科协。"
    return _rename_usage(team)


@router.pattern(r"(?:修改队名|队伍改名|改名)\s*(.+)")
def rename_preview(ctx: Context) -> str:
    assert ctx.match is not None
    text = ctx.match.group(1)
    with ctx.services.db.Session() as session:
        team = _managed_team(ctx, session)
        if isinstance(team, str):
            return team
        if team.kind in (PREFECTURE, COUNTY, team_names.ROOT):
            return "市（州）、县（区）科技志愿服务队和总队的名称由规则确定，不能自行修改；如有特殊需要，请联系省科协。"
        parent = teams.parent_of(session, team)
        try:
            name = compose_name(team.kind, text, parent.name if parent else "")
            if team_names.name_key(name) == team.name_key:
                return f"新名称与现在的名称相同。\n\n{_rename_usage(team)}"
            teams.check_name_free(session, name, except_team=team.id)
        except ValidationError as exc:
            return f"{exc.hint}\n\n{_rename_usage(team)}"
        _save_admin_state(
            ctx, {"team_id": team.id, "rename": name, "rename_until": time.time() + RENAME_SECONDS}
        )
        return (
            f"新队名：「{name}」\n原队名：「{team.name}」\n\n"
            "改名后队伍将重新进入「待审核」状态，审核通过前志愿者不能加入。"
            "确认修改请回复「确认改名」。"
        )


@router.keyword("确认改名")
def rename_confirm(ctx: Context) -> str:
    state = _admin_state(ctx)
    name = state.get("rename")
    if not name or float(state.get("rename_until") or 0) < time.time():
        return "没有待确认的改名。请先回复「修改队名 新名称」。"
    try:
        with ctx.services.db.Session.begin() as session:
            team = _managed_team(ctx, session)
            if isinstance(team, str):
                return team
            if team.id != state.get("team_id"):
                return "您当前管理的队伍已切换，请重新回复「修改队名 新名称」。"
            teams.rename(session, team.id, str(name))
    except teams.TeamError as exc:
        return exc.hint
    _save_admin_state(ctx, {"team_id": state.get("team_id")})
    return f"已提交改名：「{name}」。省科协审核通过后生效，结果会通过公众号通知您。"


@router.keyword("下级队伍", "下属队伍", "子队伍")
@_with_team
def sub_teams(ctx: Context, session: Session, team: Team) -> str:
    found = teams.children(session, team.id)
    if not found:
        return (
            f"「{team.name}」暂无下级队伍。\n"
            "学会的专委会可在「组织 → 注册」选择「学会的专业委员会」注册支队；"
            "支队可选择「已注册支队的下级分队」注册分队。"
        )
    lines = [f"【{team.name}】的下级队伍（{len(found)} 支）："]
    for i, child in enumerate(found, 1):
        count = teams.member_count(session, child.id)
        lines.append(f"{i}. {child.name}（{child.level}，{child.status_label}，成员 {count} 人）")
    return "\n".join(lines)


@router.pattern(r"自动通过\s*(开|关|开启|关闭|是|否)")
def auto_approve(ctx: Context) -> str:
    assert ctx.match is not None
    on = ctx.match.group(1) in {"开", "开启", "是"}
    with ctx.services.db.Session.begin() as session:
        team = _managed_team(ctx, session)
        if isinstance(team, str):
            return team
        teams.set_auto_approve(session, team.id, on)
        if on:
            return f"已开启：志愿者申请加入「{team.name}」将自动通过，无需审核。"
        return f"已关闭自动通过：志愿者申请加入「{team.name}」需管理员审核。"


# -- operators' CLI: flask --app app teams ... --------------------------------------------

teams_cli = AppGroup("teams", help="Volunteer teams: the 总队, registrations to review, QR codes.")


def _services() -> Any:
    return current_app.extensions["services"]


def _resolve(session: Session, ref: str) -> Team:
    team = teams.find(session, ref)
    if team is None:
        click.echo(
            f"no team {ref!r} (give its id, team number, invite code or exact name)", err=True
        )
        sys.exit(1)
    return team


@teams_cli.command("seed")
def seed_command() -> None:
    """Create the root team 甘肃省科技志愿服务总队 (approved) unless it exists."""
    with _services().db.Session.begin() as session:
        team = teams.seed_root(session)
        click.echo(f"{team.name}\t{team.team_no}\t{team.status_label}")


@teams_cli.command("pending")
def pending_command() -> None:
    """List teams waiting for approval, oldest first."""
    with _services().db.Session() as session:
        waiting = teams.pending(session)
        for team in waiting:
            parent = teams.parent_of(session, team)
            flags = "\t需指导命名" if team.needs_guidance else ""
            click.echo(
                f"{team.id}\t{team.team_no}\t{team.name}\t{team.level}\t{team.kind_label}\t"
                f"上级：{parent.name if parent else '—'}\t{clock.show(team.created_at)}{flags}"
            )
        click.echo(f"{len(waiting)} pending")


def _decide(ref: str, decide: Callable[[Session, Team], Team], template_id: str | None) -> None:
    services = _services()
    try:
        with services.db.Session.begin() as session:
            team = decide(session, _resolve(session, ref))
    except teams.TeamError as exc:
        click.echo(exc.hint, err=True)
        sys.exit(1)
    click.echo(f"{team.name}\t{team.team_no}\t{team.status_label}")
    how = teams.deliver_decision(services.api, team, template_id=template_id)
    click.echo(f"registrant notified: {how}")


TEMPLATE_OPTION = click.option(
    "--template-id",
    envvar="TEAM_NOTICE_TEMPLATE_ID",
    default=None,
    help="Template for the notice when a customer-service message cannot reach the registrant.",
)


@teams_cli.command("approve")
@click.argument("team")
@TEMPLATE_OPTION
def approve_command(team: str, template_id: str | None) -> None:
    """Approve a pending (or rejected) team and notify its registrant."""
    _decide(team, lambda s, t: teams.approve(s, t.id), template_id)


@teams_cli.command("reject")
@click.argument("team")
@click.option("--reason", required=True, help="Why, in Chinese: shown to the registrant.")
@TEMPLATE_OPTION
def reject_command(team: str, reason: str, template_id: str | None) -> None:
    """Reject a pending team with a reason and notify its registrant."""
    _decide(team, lambda s, t: teams.reject(s, t.id, reason), template_id)


@teams_cli.command("qrcode")
@click.argument("team")
def qrcode_command(team: str) -> None:
    """Create the team's permanent scene QR code (scanning it asks to join) and print its URL."""
    services = _services()
    with services.db.Session() as session:
        found = _resolve(session, team)
    if found.status != STATUS_APPROVED:
        click.echo(
            f"note: {found.name} is {found.status_label}; joining opens once approved", err=True
        )
    try:
        answer = services.api.create_qrcode(teams.scene_for(found), permanent=True)
    except WeChatAPIError as error:
        click.echo(f"WeChat refused the QR code: errcode {error.errcode} {error.errmsg}", err=True)
        sys.exit(1)
    click.echo(f"{found.name}\t{teams.scene_for(found)}")
    click.echo(f"image: {answer['show_url']}")
    click.echo(f"content: {answer.get('url', '')}")
