"""The notice's naming rules as a table: what a user types for each kind of team, and the full
name or the reason it is refused (issue 12: at least 40 names, valid and invalid for each kind)."""

from __future__ import annotations

import re

import pytest

from domain import regions
from domain.errors import ValidationError
from domain.team_names import (
    BRANCH,
    COMMITTEE,
    COUNTY,
    OTHER,
    PREFECTURE,
    SOCIETY,
    SQUAD,
    UNIT,
    compose_name,
    region_team_name,
)

SOC = "甘肃省农学会科技志愿服务队"
COMMITTEE_BRANCH = f"{SOC}植物保护专委会支队"

# (kind, parent, typed, full name when accepted, else None, a phrase of the refusal)
TABLE: list[tuple[str, str, str, str | None, str]] = [
    # 省级学会、协会、研究会: 「**学会科技志愿服务队」, provincial only
    (SOCIETY, "", "甘肃省农学会", SOC, ""),
    (SOCIETY, "", "甘肃省计算机学会", "甘肃省计算机学会科技志愿服务队", ""),
    (SOCIETY, "", "甘肃省老科技工作者协会", "甘肃省老科技工作者协会科技志愿服务队", ""),
    (SOCIETY, "", "甘肃省科普作家研究会", "甘肃省科普作家研究会科技志愿服务队", ""),
    (SOCIETY, "", "甘肃省农学会科技志愿服务队", SOC, ""),  # the suffix typed too
    (SOCIETY, "", "甘肃省 农学会", SOC, ""),
    (SOCIETY, "", "兰州市农学会", None, "不是省级学会"),
    (SOCIETY, "", "中国农学会", None, "不是省级学会"),
    (SOCIETY, "", "兰州大学", None, "以「学会」「协会」或「研究会」结尾"),
    (SOCIETY, "", "甘肃省农学会总队学会", None, "不能含有「总队」"),
    (SOCIETY, "", "学会", None, "至少4个字"),
    (SOCIETY, "", "甘肃省农学会🌾", None, "表情"),
    # 专委会: 「<学会队名><X>专委会支队」
    (COMMITTEE, SOC, "植物保护", COMMITTEE_BRANCH, ""),
    (COMMITTEE, SOC, "植物保护专业委员会", COMMITTEE_BRANCH, ""),
    (COMMITTEE, SOC, "植物保护专委会支队", COMMITTEE_BRANCH, ""),
    (COMMITTEE, SOC, f"{SOC}植物保护专委会", COMMITTEE_BRANCH, ""),
    (COMMITTEE, SOC, "青年科技志愿服务", None, "不能含有「科技志愿服务」"),
    (COMMITTEE, SOC, "植", None, "至少2个字"),
    # 单位: 「<单位>科技志愿服务队」, no region names, no level words
    (UNIT, "", "兰州大学", "兰州大学科技志愿服务队", ""),
    (UNIT, "", "兰州大学科协", "兰州大学科技志愿服务队", ""),
    (UNIT, "", "兰州大学科学技术协会", "兰州大学科技志愿服务队", ""),
    (UNIT, "", "甘肃省科技馆", "甘肃省科技馆科技志愿服务队", ""),
    (UNIT, "", "兰州新区（高新区）园区", "兰州新区（高新区）园区科技志愿服务队", ""),
    (UNIT, "", "兰州市第一中学", "兰州市第一中学科技志愿服务队", ""),
    (UNIT, "", "兰州市", None, "是地区名称"),
    (UNIT, "", "兰州", None, "是地区名称"),
    (UNIT, "", "城关区", None, "是地区名称"),
    (UNIT, "", "城关", None, "是地区名称"),
    (UNIT, "", "张家川", None, "是地区名称"),
    (UNIT, "", "临夏州", None, "是地区名称"),
    (UNIT, "", "东乡", None, "是地区名称"),
    (UNIT, "", "甘肃省", None, "是地区名称"),
    (UNIT, "", "兰州市科技志愿服务队", None, "是地区名称"),
    (UNIT, "", "甘肃省科技志愿服务总队", None, "不能含有「科技志愿服务」"),
    (UNIT, "", "兰州大学科技志愿服务总队", None, "不能含有「科技志愿服务」"),
    (UNIT, "", "兰州大学志愿服务队", None, "不能含有「队」"),
    (UNIT, "", "兰州大学支队", None, "不能含有「支队」"),
    (UNIT, "", "兰州大学@", None, "不能使用「@」"),
    (UNIT, "", "兰", None, "至少2个字"),
    # 分队: 「<支队名><Y>分队」
    (SQUAD, COMMITTEE_BRANCH, "天水", f"{COMMITTEE_BRANCH}天水分队", ""),
    (SQUAD, COMMITTEE_BRANCH, "天水分队", f"{COMMITTEE_BRANCH}天水分队", ""),
    (SQUAD, COMMITTEE_BRANCH, "天水支队", None, "不能含有「支队」"),
    (SQUAD, COMMITTEE_BRANCH, "秦州队", None, "不能含有「队」"),
    # 特殊命名: free, but not a region's team or the 总队
    (OTHER, "", "陇原银发科技服务团", "陇原银发科技服务团", ""),
    (OTHER, "", "兰州市科技志愿服务队", None, "是地区名称"),
    (OTHER, "", "甘肃省科技志愿服务总队", None, "总队名称"),
    # 市（州）/县（区）: named from the chosen region only (test_region_teams_… below)
    (PREFECTURE, "", "兰州大学", None, "名称由所在地区决定"),
    (COUNTY, "", "城关", None, "名称由所在地区决定"),
]


def test_the_table_is_big_enough() -> None:
    assert len(TABLE) >= 40
    for kind in (SOCIETY, COMMITTEE, UNIT, SQUAD, OTHER):  # (region kinds: refusals only)
        verdicts = {full is None for k, _, _, full, _ in TABLE if k == kind}
        assert verdicts == {True, False}, kind


@pytest.mark.parametrize(("kind", "parent", "typed", "full", "reason"), TABLE)
def test_name(kind: str, parent: str, typed: str, full: str | None, reason: str) -> None:
    if full is not None:
        assert compose_name(kind, typed, parent) == full
        return
    with pytest.raises(ValidationError) as refused:
        compose_name(kind, typed, parent)
    assert reason in refused.value.hint


@pytest.mark.parametrize(
    ("division", "name"), [("天水市", "天水市科技志愿服务队"), ("秦安县", "秦安县科技志愿服务队")]
)
def test_region_teams_are_named_after_their_region(division: str, name: str) -> None:
    assert region_team_name(division) == name


# 「临夏回族自治州」 → 「临夏」, 「积石山保安族东乡族撒拉族自治县」 → 「积石山」, 「兰州市」 → 「兰州」
_SHORT = re.compile(
    r"^(.{2,}?)(?:(?:(?:回|藏|裕固|蒙古|哈萨克|保安|东乡|撒拉)?族)*自治[县州]|[市州县区])$"
)


def test_every_region_name_with_or_without_its_ending_is_reserved_for_the_region_teams() -> None:
    divisions = [
        division
        for prefecture in regions.prefectures()
        for division in (prefecture, *regions.counties(prefecture.code))
    ]
    assert len(divisions) == 14 + 86
    for division in divisions:
        found = _SHORT.match(division.name)
        if found is None:  # 「环县」「岷县」: no shorter form
            short, typed_forms = division.name, {division.name}
        else:
            short = found.group(1)
            typed_forms = {division.name, short, short + division.name[-1]}
        for typed in typed_forms:
            with pytest.raises(ValidationError, match="是地区名称"):
                compose_name(UNIT, typed)
        # A unit named after its region plus its own name is fine.
        assert compose_name(UNIT, f"{short}第一中学") == f"{short}第一中学科技志愿服务队"


BRANCH_TABLE = [
    ("兰州大学科技志愿服务队", "化学化工", "兰州大学科技志愿服务队化学化工支队", ""),
    ("天水市科技志愿服务队", "秦州区支队", "天水市科技志愿服务队秦州区支队", ""),
    ("兰州大学科技志愿服务队", "化学化工队", None, "不能含有「队」"),
    ("兰州大学科技志愿服务队", "科技志愿服务", None, "不能含有「科技志愿服务」"),
]


@pytest.mark.parametrize(("parent", "typed", "full", "reason"), BRANCH_TABLE)
def test_branch_names(parent: str, typed: str, full: str | None, reason: str) -> None:
    if full is not None:
        assert compose_name(BRANCH, typed, parent) == full
        return
    with pytest.raises(ValidationError) as refused:
        compose_name(BRANCH, typed, parent)
    assert reason in refused.value.hint
