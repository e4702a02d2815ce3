"""The notice's naming rules, one composed name per kind, and how names are compared."""

from __future__ import annotations

import pytest

from domain import team_names
from domain.errors import ValidationError

SOCIETY_TEAM = "甘肃省农学会科技志愿服务队"
BRANCH = "甘肃省农学会科技志愿服务队植物保护专委会支队"


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("甘肃省农学会", SOCIETY_TEAM),
        ("甘肃省农学会科技志愿服务队", SOCIETY_TEAM),  # the whole name typed
        (" 甘肃省 农学会 ", SOCIETY_TEAM),
        ("甘肃省计算机协会", "甘肃省计算机协会科技志愿服务队"),
        ("甘肃省科普作家研究会", "甘肃省科普作家研究会科技志愿服务队"),
        ("「甘肃省农学会」", SOCIETY_TEAM),
    ],
)
def test_society_names(typed: str, expected: str) -> None:
    assert team_names.society_name(typed) == expected


@pytest.mark.parametrize(
    ("typed", "hint"),
    [
        ("兰州大学", "学会"),  # not a society
        ("学会", "至少4个字"),
        ("", "请输入"),
        ("甘肃省农学会😀", "表情"),
        ("甘肃省农学会#", "「#」"),
        ("甘肃省(农)学会)", "括号不成对"),
    ],
)
def test_society_name_hints(typed: str, hint: str) -> None:
    with pytest.raises(ValidationError) as caught:
        team_names.society_name(typed)
    assert hint in caught.value.hint


@pytest.mark.parametrize(
    "typed",
    [
        "植物保护",
        "植物保护专委会",
        "植物保护专业委员会",
        "植物保护专委会支队",
        "植物保护委员会",
        "甘肃省农学会植物保护专委会",
        BRANCH,
    ],
)
def test_committee_names_take_only_the_committee_part(typed: str) -> None:
    assert team_names.committee_name(SOCIETY_TEAM, typed) == BRANCH


def test_committee_name_needs_a_part() -> None:
    with pytest.raises(ValidationError) as caught:
        team_names.committee_name(SOCIETY_TEAM, "专委会")
    assert "至少2个字" in caught.value.hint


@pytest.mark.parametrize(
    ("division", "expected"),
    [
        ("天水市", "天水市科技志愿服务队"),
        ("临夏回族自治州", "临夏回族自治州科技志愿服务队"),
        ("秦安县", "秦安县科技志愿服务队"),
        ("城关区", "城关区科技志愿服务队"),
    ],
)
def test_region_team_names(division: str, expected: str) -> None:
    assert team_names.region_team_name(division) == expected


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        ("兰州大学", "兰州大学科技志愿服务队"),
        ("兰州大学科协", "兰州大学科技志愿服务队"),
        ("兰州大学科学技术协会", "兰州大学科技志愿服务队"),
        ("兰州大学科技志愿服务队", "兰州大学科技志愿服务队"),
        ("甘肃省科技馆", "甘肃省科技馆科技志愿服务队"),
        ("兰州新区(科技园)", "兰州新区（科技园）科技志愿服务队"),
        ("兰州 ABC Tech 公司", "兰州ABC Tech公司科技志愿服务队"),
    ],
)
def test_unit_names(typed: str, expected: str) -> None:
    assert team_names.unit_name(typed) == expected


@pytest.mark.parametrize(("typed"), ["天水", "天水分队", BRANCH + "天水分队"])
def test_squad_names(typed: str) -> None:
    assert team_names.squad_name(BRANCH, typed) == BRANCH + "天水分队"


def test_free_names_are_kept_as_typed_but_checked() -> None:
    assert team_names.free_name("陇原银发科技服务团") == "陇原银发科技服务团"
    with pytest.raises(ValidationError):
        team_names.free_name("服务团")


def test_full_names_have_a_length_limit() -> None:
    with pytest.raises(ValidationError) as caught:
        team_names.squad_name("甲" * 95, "天水市秦州区")
    assert "不能超过" in caught.value.hint


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ("兰州新区（科技园）科技志愿服务队", "兰州新区(科技园)科技志愿服务队"),
        ("兰州新区（科技园）科技志愿服务队", "兰州新区 【科技园】 科技志愿服务队"),
        ("兰州ABC科技志愿服务队", "兰州ａｂｃ科技志愿服务队"),
        ("甘肃省 农学会科技志愿服务队", "甘肃省农学会科技志愿服务队"),
        ("甘肃省农学会科技志愿服务队", "甘肃省农学会科技志愿服务队\u3000"),
    ],
)
def test_names_differing_only_in_brackets_width_and_spaces_are_the_same(a: str, b: str) -> None:
    assert team_names.name_key(a) == team_names.name_key(b)


def test_different_names_have_different_keys() -> None:
    assert team_names.name_key("兰州大学科技志愿服务队") != team_names.name_key(
        "兰州理工大学科技志愿服务队"
    )


def test_each_kind_has_its_level_and_rule() -> None:
    levels = {k.key: k.level for k in team_names.KINDS}
    assert levels == {
        "society": "队",
        "committee": "支队",
        "prefecture": "队",
        "county": "队",
        "unit": "队",
        "branch": "支队",  # any 队 may have 支队 (issue 12 rule 3)
        "squad": "分队",
        "other": "队",
    }
    assert all("**" in k.pattern for k in team_names.KINDS if k.key != "other")
    assert team_names.kind("root").level == "总队"
    assert team_names.kind_label("society") == "省级学会、协会、研究会"
