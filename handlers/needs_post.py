"""活动 → 需求对接: the entry menu, and 「提交需求」, a flow of the conversation engine in which
anyone who follows the account posts a need (back, cancel, edit, confirm and timeout come from
the engine). The poster gets the need number; review and claiming are told to them later.
"""

from __future__ import annotations

import logging
import re
from datetime import date
from typing import Any

from domain import clock, regions
from domain.choices import SKILLS
from domain.contact import mask_mobile, parse_free_text, parse_mobile, parse_person_name
from domain.errors import Ineligible, ValidationError
from domain.hours import parse_day
from handlers.context import Context
from models.need import REQUESTER_KINDS
from services import needs
from wechat.conversation import Flow, Step
from wechat.conversation.flow import Data
from wechat.messages import Reply
from wechat.router import Router

log = logging.getLogger(__name__)
router = Router("needs_post")

LONG_TERM = "长期"
MENU = (
    "需求对接：社区、乡村、学校、企业、科普场馆需要科技志愿服务，可在这里提出需求，"
    "审核通过后由科技志愿服务队认领。\n"
    "1. 回复「提交需求」提出服务需求\n"
    "2. 回复「需求大厅」查看已发布的需求\n"
    "3. 回复「我的需求」查看您提交的需求及进度\n"
    "志愿者回复「技能展示」可设置是否向服务队展示专业技能（默认不展示）"
)
_RANGE_SPLIT = re.compile(r"\s*(?:至|到|~|～|—|--)\s*")
MAX_SPAN_DAYS = 366


def _requester(text: str, _data: Data) -> str:
    return parse_free_text(text, 100, "需求方名称")


def _prefecture_names(_data: Data) -> list[str]:
    return [p.name for p in regions.prefectures()]


def _prefecture(answer: str, _data: Data) -> str:
    division = regions.find_prefecture(answer)
    if division is None:  # pragma: no cover - the answer comes from the option list
        raise ValidationError("请选择市州。")
    return division.code


def _has_counties(data: Data) -> bool:
    code = data.get("prefecture_code")
    return isinstance(code, str) and bool(regions.counties(code))


def _county_names(data: Data) -> list[str]:
    return [c.name for c in regions.counties(data.get("prefecture_code") or "")]


def _county(answer: str, data: Data) -> str:
    division = regions.find_county(data["prefecture_code"], answer)
    if division is None:  # pragma: no cover - the answer comes from the option list
        raise ValidationError("请选择县区。")
    return division.code


def _show_division(code: Any, _data: Data) -> str:
    division = regions.get(str(code))
    return division.name if division else str(code)


def _description(text: str, _data: Data) -> str:
    return parse_free_text(text, 500, "需求内容")


def parse_when(text: str) -> dict[str, str] | str:
    """「长期」, or 「2026-12-05 至 2026-12-20」 (one date: that day); dates not in the past."""
    value = text.strip()
    if value in (LONG_TERM, "长期需要", "不限"):
        return LONG_TERM
    parts = [p for p in _RANGE_SPLIT.split(value) if p]
    if not 1 <= len(parts) <= 2:
        raise ValidationError("请按「2026-12-05 至 2026-12-20」输入日期，或回复「长期」。")
    first = parse_day(parts[0])
    last = parse_day(parts[-1])
    if last < first:
        raise ValidationError("结束日期不能早于开始日期。")
    if first < clock.beijing_date():
        raise ValidationError("开始日期已经过去了，请输入今后的日期，或回复「长期」。")
    if (last - first).days > MAX_SPAN_DAYS:
        raise ValidationError("时间跨度超过一年，请回复「长期」。")
    return {"starts_on": first.isoformat(), "ends_on": last.isoformat()}


def _when(text: str, _data: Data) -> dict[str, str] | str:
    return parse_when(text)


def _show_when(value: Any, _data: Data) -> str:
    if isinstance(value, dict):
        return f"{value['starts_on']} 至 {value['ends_on']}"
    return str(value)


def _people(text: str, _data: Data) -> int:
    digits = text.strip().removesuffix("人").removesuffix("名").strip()
    if not digits.isdigit() or not 1 <= int(digits) <= needs.PEOPLE_MAX:
        raise ValidationError(f"请输入需要的志愿者人数（1-{needs.PEOPLE_MAX} 的数字）。")
    return int(digits)


def _contact_name(text: str, _data: Data) -> str:
    return parse_person_name(text)


def _phone(text: str, _data: Data) -> str:
    return parse_mobile(text)


def _show_phone(value: Any, _data: Data) -> str:
    return mask_mobile(str(value))


def draft_of(data: Data) -> needs.NeedDraft:
    when = data["when"]
    starts_on = date.fromisoformat(when["starts_on"]) if isinstance(when, dict) else None
    ends_on = date.fromisoformat(when["ends_on"]) if isinstance(when, dict) else None
    return needs.NeedDraft(
        requester_name=data["requester_name"],
        requester_kind=data["requester_kind"],
        prefecture_code=data["prefecture_code"],
        county_code=data.get("county_code"),
        field=data["field"],
        description=data["description"],
        starts_on=starts_on,
        ends_on=ends_on,
        people_needed=data["people_needed"],
        contact_name=data["contact_name"],
        contact_phone=data["contact_phone"],
    )


def _confirm(ctx: Context, data: Data) -> str:
    try:
        with ctx.services.db.Session.begin() as session:
            need = needs.post_need(session, ctx.openid, draft_of(data))
            need_no = need.need_no
    except needs.NeedError as error:
        raise Ineligible(str(error)) from None
    log.info("need %s posted", need_no)
    return (
        f"需求已提交，需求编号 {need_no}。\n"
        "所在地区科协审核后会通知您；发布后科技志愿服务队可以认领，认领和完成时也会通知您。\n"
        "回复「我的需求」可随时查看进度。"
    )


POST = Flow(
    name="needs_post",
    title="提交需求",
    intro="请填写服务需求，共 10 项；联系电话只提供给审核人员和认领的队伍，公开时隐去中间四位。",
    steps=(
        Step(
            "requester_name",
            "需求方",
            "请输入需求方名称（单位或社区、村的名称）：",
            parse=_requester,
        ),
        Step("requester_kind", "需求方类型", "请选择需求方类型：", choices=REQUESTER_KINDS),
        Step(
            "prefecture_code",
            "所在市州",
            "请选择需求所在的市州：",
            parse=_prefecture,
            choices=_prefecture_names,
            display=_show_division,
            resets=("county_code",),
        ),
        Step(
            "county_code",
            "所在县区",
            "请选择需求所在的县区：",
            parse=_county,
            choices=_county_names,
            when=_has_counties,
            display=_show_division,
        ),
        Step("field", "服务领域", "请选择需要的服务领域：", choices=SKILLS),
        Step(
            "description",
            "需求内容",
            "请描述需要什么服务（对象、内容、地点，500字以内）：",
            parse=_description,
        ),
        Step(
            "when",
            "服务时间",
            "请输入需要服务的日期，如「2026-12-05 至 2026-12-20」；没有固定时间请回复「长期」：",
            parse=_when,
            display=_show_when,
        ),
        Step("people_needed", "需要人数", "需要多少名志愿者？请输入数字：", parse=_people),
        Step("contact_name", "联系人", "请输入联系人姓名：", parse=_contact_name),
        Step(
            "contact_phone",
            "联系电话",
            "请输入联系人的手机号码：",
            parse=_phone,
            display=_show_phone,
        ),
    ),
    on_confirm=_confirm,
    summary_title="请核对需求信息，确认后提交审核",
)

FLOWS = [POST]


@router.click("NEEDS_MATCH")
@router.keyword("需求对接")
def menu(ctx: Context) -> str:
    return MENU


@router.keyword("提交需求", "发布需求", "提出需求")
def post(ctx: Context) -> Reply:
    return ctx.conversations.start(ctx, POST.name)


@router.keyword("我的需求")
def mine(ctx: Context) -> str:
    with ctx.services.db.Session() as session:
        posted = needs.needs_of_poster(session, ctx.openid)
        lines = [needs.poster_line(need) for need in posted[:10]]
    if not lines:
        return "您还没有提交过需求。回复「提交需求」提出服务需求。"
    return "您提交的需求：\n" + "\n".join(lines)
