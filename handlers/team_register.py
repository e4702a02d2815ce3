"""组织 → 注册: registering a 科技志愿服务队 by chat, under the notice's naming rules."""

from __future__ import annotations

import logging
from typing import Any

from domain import regions
from domain.choices import SKILLS
from domain.contact import parse_mobile, parse_person_name
from domain.errors import Ineligible
from domain.team_names import BRANCH, COMMITTEE, COUNTY, OTHER, PREFECTURE, SOCIETY, SQUAD, UNIT
from domain.text import normalize
from handlers.context import Context
from handlers.team_steps import (
    KIND_OPTIONS,
    SAME_AS_CAPTAIN,
    CountyStep,
    TeamStep,
    county_names,
    full_name,
    has_typed_name,
    host_org_prompt,
    kind_is,
    kind_of,
    name_prompt,
    parent_names,
    parent_search_prompt,
    parse_contact_phone,
    parse_county,
    parse_description,
    parse_host_org,
    parse_kind,
    parse_name,
    parse_parent,
    parse_prefecture,
    prefecture_options,
    prefecture_prompt,
    search_parent,
    show_county,
    show_kind,
    show_phone,
    show_prefecture,
)
from services import teams, volunteers
from wechat.conversation import Data, Flow, Step, StepError
from wechat.messages import Reply
from wechat.router import Router

router = Router("team_register")
log = logging.getLogger(__name__)


CAPTAIN, ADMIN = "captain", "admin"
ROLES = (CAPTAIN, ADMIN)
ROLE_OPTIONS = ("我是队长", "我是管理员（队长另有其人）")


def _contact_phone(text: str, data: Data, ctx: Context) -> str:
    """As parse_contact_phone; 「同上」 from a registrant who is the captain means their phone."""
    if data.get("role") == CAPTAIN and normalize(text).strip() in SAME_AS_CAPTAIN:
        with ctx.services.db.Session() as session:
            registrant = volunteers.find_by_openid(session, ctx.openid)
            if registrant is not None and registrant.phone:
                return registrant.phone
    return parse_contact_phone(text, data)


STEPS: tuple[Step, ...] = (
    Step(
        "kind",
        "注册单位类型",
        "请选择注册单位的类型。按省科协通知，科技志愿服务队按「总队—队—支队—分队」管理，"
        "各类队伍统一命名（** 为您要填写的部分）：",
        parse=parse_kind,
        choices=KIND_OPTIONS,
        display=show_kind,
        resets=("parent_search", "parent", "prefecture_code", "county_code", "name"),
        hint="按单位性质选择；学会的专委会选2，已注册队伍的下级支队选6，已注册支队的下级分队选7，都不符合选8。",
    ),
    TeamStep(
        "parent_search",
        "查找上级队伍",
        "请输入上级队伍名称中的几个字：",
        prompt_for=parent_search_prompt,
        parse_in_context=search_parent,
        when=kind_is(COMMITTEE, BRANCH, SQUAD),
        when_label="支队或分队",
        resets=("parent", "name"),
        in_summary=False,
        hint="上级队伍必须已注册并通过审核。输入名称中的几个字即可，如「农学会」。",
    ),
    Step(
        "parent",
        "上级队伍",
        "找到以下已通过审核的队伍，请选择上级队伍（都不是请回复「返回」重新查找）：",
        parse=parse_parent,
        choices=parent_names,
        when=kind_is(COMMITTEE, BRANCH, SQUAD),
        when_label="支队或分队",
        display=lambda v, d: str(v.get("name")) if isinstance(v, dict) else str(v),
        resets=("name",),
    ),
    TeamStep(
        "prefecture_code",
        "所在市州",
        "请选择所在市州：",
        prompt_for=prefecture_prompt,
        parse_in_context=parse_prefecture,
        choices=prefecture_options,
        display=show_prefecture,
        resets=("county_code",),
        when=kind_is(PREFECTURE, COUNTY, UNIT, BRANCH, SQUAD, OTHER),
        when_label="省级学会及其专委会之外",
    ),
    CountyStep(
        "county_code",
        "所在县区",
        "请选择县（区），队名将为「**县（区）科技志愿服务队」：",
        parse_in_context=parse_county,
        choices=county_names,
        when=kind_is(COUNTY),
        when_label="县（区）科协",
        display=show_county,
    ),
    TeamStep(
        "name",
        "队伍名称",
        "请输入队伍名称：",
        prompt_for=name_prompt,
        parse_in_context=parse_name,
        when=has_typed_name,
        when_label="需填写名称的类型",
        hint="只需输入 ** 部分，系统会按命名规则生成队伍全称；已被注册的名称不能重复使用。",
    ),
    TeamStep(
        "host_org",
        "依托单位",
        "请输入依托单位（组建队伍的单位）全称：",
        prompt_for=host_org_prompt,
        parse=parse_host_org,
        hint="即组建和管理队伍的单位，如「甘肃省农学会」「兰州大学科协」。",
    ),
    Step(
        "role",
        "您的身份",
        "您在本队担任什么职务？队长、管理员都是本队成员，可管理队伍：",
        parse=lambda answer, data: ROLES[ROLE_OPTIONS.index(answer)],
        choices=ROLE_OPTIONS,
        display=lambda v, d: ROLE_OPTIONS[ROLES.index(v)] if v in ROLES else str(v),
        hint="选「我是队长」，队长信息取自您的志愿者注册信息；否则请填写队长的姓名和手机号。",
    ),
    Step(
        "captain_name",
        "队长姓名",
        "请输入队长的真实姓名：",
        parse=lambda t, d: parse_person_name(t),
        when=lambda data: data.get("role") == ADMIN,
        when_label="注册人不是队长",
    ),
    Step(
        "captain_phone",
        "队长手机号",
        "请输入队长的手机号：",
        parse=lambda t, d: parse_mobile(t),
        display=show_phone,
        when=lambda data: data.get("role") == ADMIN,
        when_label="注册人不是队长",
    ),
    Step(
        "contact_phone",
        "联系电话",
        "请输入队伍联系电话（手机或座机，如 0931-8812345）；与队长手机相同请回复「同上」：",
        parse_in_context=_contact_phone,
        display=show_phone,
    ),
    Step(
        "description",
        "队伍简介",
        "请用一两句话介绍队伍（服务内容、服务对象等），不超过200字：",
        parse=parse_description,
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
PROVINCIAL = (SOCIETY, COMMITTEE)
# Steps that make up the name and the place in the tree; every other step is saved as it is,
# into the team's column of the same name.
NAME_STEPS = frozenset({"kind", "parent_search", "parent", "name", "role"})
FORM_STEPS: tuple[Step, ...] = tuple(s for s in STEPS if s.name not in NAME_STEPS)


def _save_registration(ctx: Context, data: Data) -> str:
    kind = kind_of(data)
    name = full_name(data)
    assert name is not None
    parent = data.get("parent") or {}
    details: dict[str, Any] = {step.name: data.get(step.name) for step in FORM_STEPS}
    if kind in PROVINCIAL:  # 省级学会 and their 专委会: no region question
        details["prefecture_code"] = regions.PROVINCE_CODE
    with ctx.services.db.Session.begin() as session:
        registrant = volunteers.find_by_openid(session, ctx.openid)
        if registrant is None:
            raise Ineligible(NOT_VOLUNTEER)
        if data.get("role") == CAPTAIN:  # the captain is the registrant, by their real name
            details["captain_name"], details["captain_phone"] = registrant.name, registrant.phone
        form = teams.TeamForm(kind=kind, name=name, parent_id=parent.get("id"), **details)
        try:
            team = teams.register(
                session,
                openid=ctx.openid,
                form=form,
                registrant_is_captain=data.get("role") == CAPTAIN,
            )
        except teams.NameTaken as exc:
            raise StepError(_NAME_STEP.get(kind, "name"), exc.hint) from None
        except teams.ParentNotFound as exc:
            raise StepError("parent_search", exc.hint) from None
        number, code = team.team_no, team.captain_code
        is_captain = team.captain_volunteer_id is not None
    guidance = (
        "\n特殊命名的队伍将在省科协指导下确定名称，审核时工作人员可能与您联系。"
        if kind == OTHER
        else ""
    )
    return (
        f"提交成功！「{name}」已提交审核。\n队伍编号：{number}\n"
        f"您已成为本队{'队长（管理员）' if is_captain else '管理员'}，"
        f"是本队成员。{guidance}{captain_note(str(data.get('captain_name')), code)}\n\n"
        "接下来：省科协工作人员审核后，结果会通过本公众号通知您。"
        "审核通过后，点击「组织 → 我的队伍」可查看邀请码、审核入队申请、管理成员。"
        "审核前如需撤回，回复「撤回注册」。"
    )


def captain_note(captain_name: str, code: str | None) -> str:
    """What the registrant passes on to the captain they named (none when they are the captain)."""
    if not code:
        return ""
    return (
        f"\n\n队长确认：请将确认码 {code} 转告队长{captain_name}。队长在本公众号完成志愿者注册后，"
        f"回复「确认队长 {code}」即成为本队队长（队长不占管理员名额）。"
        "确认前，您可在「我的队伍」中回复「队长确认码」再次查看。"
    )


NOT_VOLUNTEER = (
    "注册服务队需由实名注册的科技志愿者办理，注册人将成为队长或管理员。"
    "请先点击「志愿者 → 注册」完成志愿者注册，再点击「组织 → 注册」。"
)


def _registrant_is_a_volunteer(ctx: Context) -> Reply | None:
    with ctx.services.db.Session() as session:
        if volunteers.find_by_openid(session, ctx.openid) is None:
            return Reply(text=NOT_VOLUNTEER)
    return None


REGISTER = Flow(
    name="team_register",
    title="服务队注册",
    steps=STEPS,
    on_confirm=_save_registration,
    before_start=_registrant_is_a_volunteer,
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
