"""The team registration's steps: prompts written from earlier answers, parsers that look up
the database, how answers are shown. The flow itself is in team_register.py."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any

from domain import regions, team_names
from domain.contact import mask_mobile, parse_free_text, parse_mobile
from domain.errors import ValidationError
from domain.team_names import BRANCH, COMMITTEE, COUNTY, KINDS, PREFECTURE, SOCIETY, SQUAD, UNIT
from domain.text import normalize
from handlers.context import Context
from models.team import (
    LEVEL_BRANCH,
    LEVEL_TEAM,
)
from services import teams
from wechat.conversation import AnswerPolicy, Data, Step

log = logging.getLogger(__name__)

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


def kind_of(data: Data) -> str:
    return str(data.get("kind") or "")


def kind_is(*kinds: str) -> Callable[[Data], bool]:
    def applies(data: Data) -> bool:
        return kind_of(data) in kinds

    return applies


def has_typed_name(data: Data) -> bool:
    return bool(data.get("kind")) and team_names.kind(kind_of(data)).typed_part


def parse_kind(answer: str, data: Data) -> str:
    return KINDS[KIND_OPTIONS.index(answer)].key


def _parent_level(data: Data) -> str:
    return LEVEL_BRANCH if kind_of(data) == SQUAD else LEVEL_TEAM


def parent_search_prompt(data: Data) -> str:
    if kind_of(data) == COMMITTEE:
        return (
            "专委会支队隶属于本学会的科技志愿服务队。请输入学会名称（或其中几个字，如「农学会」），"
            "我们在已通过审核的学会科技志愿服务队中查找："
        )
    if kind_of(data) == BRANCH:
        return (
            "支队隶属于已注册的队（市州、县区、单位、学会等科技志愿服务队）。"
            "请输入上级队伍名称中的几个字，我们在已通过审核的队伍中查找："
        )
    return "分队隶属于已注册的支队。请输入上级支队名称中的几个字，我们在已通过审核的支队中查找："


def search_parent(text: str, data: Data, ctx: Context) -> list[dict[str, Any]]:
    words = normalize(text)
    if not words:
        raise ValidationError("请输入名称中的几个字。")
    committee = kind_of(data) == COMMITTEE
    with ctx.services.db.Session() as session:
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
        if kind_of(data) == BRANCH:
            raise ValidationError(
                f"没有找到名称含「{words}」、已通过审核的队伍。支队需建在已注册的队之下，"
                "请换个关键词再试，或回复「取消」。"
            )
        raise ValidationError(
            f"没有找到名称含「{words}」、已通过审核的支队。分队需建在已注册的支队之下，"
            "请换个关键词再试，或回复「取消」。"
        )
    if len(found) > 8:
        raise ValidationError("找到的队伍较多，请输入更完整的名称。")
    return [{"id": team.id, "name": team.name} for team in found]


def parent_names(data: Data) -> list[str]:
    return [str(p["name"]) for p in data.get("parent_search") or []]


def parse_parent(answer: str, data: Data) -> dict[str, Any]:
    for found in data.get("parent_search") or []:
        if found["name"] == answer:
            return dict(found)
    raise ValidationError("请从列表中选择上级队伍。")  # pragma: no cover - answer is an option


def _parent_name(data: Data) -> str:
    parent = data.get("parent") or {}
    return str(parent.get("name") or "")


def prefecture_options(data: Data) -> list[str]:
    names = [p.name for p in regions.prefectures()]
    if kind_of(data) in (PREFECTURE, COUNTY):
        return names
    return [PROVINCE_OPTION, *names]


def prefecture_prompt(data: Data) -> str:
    if kind_of(data) == PREFECTURE:
        return "请选择市（州），队名将为「**市（州）科技志愿服务队」："
    if kind_of(data) == COUNTY:
        return "请先选择县（区）所属的市（州）："
    return "请选择队伍所在地区（省级学会、省直单位、高校等请选「全省（省级单位）」）："


def _check_free(ctx: Context, name: str) -> None:
    with ctx.services.db.Session() as session:
        teams.check_name_free(session, name)


def parse_prefecture(answer: str, data: Data, ctx: Context) -> str:
    if answer == PROVINCE_OPTION:
        return regions.PROVINCE_CODE
    division = regions.find_prefecture(answer)
    if division is None:  # pragma: no cover - answer comes from the option list
        raise ValidationError("请选择市州。")
    if kind_of(data) == PREFECTURE:
        _check_free(ctx, team_names.region_team_name(division.name))
    if kind_of(data) == COUNTY and not regions.counties(division.code):
        raise ValidationError(
            f"{division.name}不设县（区），市级科协请回复「返回」，把类型改为「市（州）科协」。"
        )
    return division.code


def county_names(data: Data) -> list[str]:
    return [c.name for c in regions.counties(data.get("prefecture_code") or "")]


def parse_county(answer: str, data: Data, ctx: Context) -> str:
    division = regions.find_county(data["prefecture_code"], answer)
    if division is None:  # pragma: no cover - answer comes from the option list
        raise ValidationError("请选择县区。")
    _check_free(ctx, team_names.region_team_name(division.name))
    return division.code


def full_name(data: Data) -> str | None:
    """The team's full name as composed so far, or None."""
    kind = kind_of(data)
    code = data.get("county_code") if kind == COUNTY else data.get("prefecture_code")
    if kind in (PREFECTURE, COUNTY):
        division = regions.get(code) if code else None
        return team_names.region_team_name(division.name) if division else None
    name = data.get("name")
    return str(name) if name else None


def name_prompt(data: Data) -> str:
    kind = kind_of(data)
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
    if kind == BRANCH:
        return f"请输入支队名称，如「化学化工」。\n队名将为「{_parent_name(data)}**支队」。"
    if kind == SQUAD:
        return f"请输入分队名称，如「天水」。\n队名将为「{_parent_name(data)}**分队」。"
    return (
        "请输入队伍全称。\n不在上述范围或有特殊命名需求的队伍，将在省科协指导下确定名称，"
        "审核时工作人员会与您联系。"
    )


def parse_name(text: str, data: Data, ctx: Context) -> str:
    name = team_names.compose_name(kind_of(data), text, _parent_name(data))
    _check_free(ctx, name)
    return name


def host_org_prompt(data: Data) -> str:
    name = full_name(data)
    banner = f"队伍全称：「{name}」，该名称可以注册。\n\n" if name else ""
    return banner + "请输入依托单位（组建队伍的单位）全称："


def parse_host_org(text: str, data: Data) -> str:
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


def show_phone(value: Any, data: Data) -> str:
    text = str(value)
    return mask_mobile(text) if text.startswith("1") else text


def show_kind(value: Any, data: Data) -> str:
    return team_names.kind(str(value)).label


def show_prefecture(value: Any, data: Data) -> str:
    if value == regions.PROVINCE_CODE:
        return PROVINCE_OPTION
    division = regions.get(str(value))
    text = division.name if division else str(value)
    if kind_of(data) == PREFECTURE:
        text += f"（队伍名称：{full_name(data)}）"
    return text


def show_county(value: Any, data: Data) -> str:
    division = regions.get(str(value))
    text = division.name if division else str(value)
    if kind_of(data) == COUNTY:
        text += f"（队伍名称：{full_name(data)}）"
    return text


def parse_description(text: str, data: Data) -> str:
    return parse_free_text(text, 200, "队伍简介")
