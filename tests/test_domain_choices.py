from __future__ import annotations

import re

import pytest

from domain.choices import (
    BELOW_HIGH_SCHOOL,
    EDUCATION_LEVELS,
    EDUCATION_OPTIONS,
    OCCUPATIONS,
    SERVICE_TIMES,
    SKILLS,
    format_options,
    parse_choice,
    parse_education,
    parse_multi_choice,
)
from domain.errors import Ineligible, ValidationError
from domain.numerals import small_number

CJK = re.compile(r"[\u4e00-\u9fff]")


def hint_of(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    assert not isinstance(exc.value, Ineligible)
    assert CJK.search(exc.value.hint), exc.value.hint
    return exc.value.hint


def test_option_lists() -> None:
    assert EDUCATION_LEVELS == ("高中/中专/中职", "大专", "本科", "硕士研究生", "博士研究生")
    assert BELOW_HIGH_SCHOOL == "初中及以下"
    assert EDUCATION_OPTIONS[:-1] == EDUCATION_LEVELS
    assert EDUCATION_OPTIONS[-1] == BELOW_HIGH_SCHOOL
    assert OCCUPATIONS == (
        "科研人员",
        "企业科技人员",
        "教师",
        "医务人员",
        "科普场馆辅导员",
        "青少年科技辅导员",
        "高校学生",
        "农技人员",
        "其他",
    )
    assert SKILLS == (
        "科学普及",
        "农业技术",
        "医疗卫生",
        "信息技术",
        "生态环保",
        "应急安全",
        "工程技术",
        "教育培训",
        "文化传播",
        "其他",
    )
    assert SERVICE_TIMES == ("工作日白天", "工作日晚上", "周末", "节假日", "不定期")
    for options in (EDUCATION_OPTIONS, OCCUPATIONS, SKILLS, SERVICE_TIMES):
        assert len(set(options)) == len(options)


def test_format_options() -> None:
    assert format_options(SERVICE_TIMES) == (
        "1. 工作日白天\n2. 工作日晚上\n3. 周末\n4. 节假日\n5. 不定期"
    )


@pytest.mark.parametrize(
    "text, options, expected",
    [
        ("1", OCCUPATIONS, "科研人员"),
        (" 9 ", OCCUPATIONS, "其他"),
        ("９", OCCUPATIONS, "其他"),
        ("3。", OCCUPATIONS, "教师"),
        ("3.", OCCUPATIONS, "教师"),
        ("③", OCCUPATIONS, "教师"),
        ("第3项", OCCUPATIONS, "教师"),
        ("10", SKILLS, "其他"),
        ("教师", OCCUPATIONS, "教师"),
        ("「教师」", OCCUPATIONS, "教师"),
        ("科普场馆", OCCUPATIONS, "科普场馆辅导员"),  # prefix
        ("青少年", OCCUPATIONS, "青少年科技辅导员"),
        ("企业", OCCUPATIONS, "企业科技人员"),
        ("农技", OCCUPATIONS, "农技人员"),
        ("老师", OCCUPATIONS, "教师"),  # alias
        ("大学生", OCCUPATIONS, "高校学生"),
        ("学生", OCCUPATIONS, "高校学生"),
        ("其他职业", OCCUPATIONS, "其他"),  # option inside the answer
        ("高中", EDUCATION_LEVELS, "高中/中专/中职"),
        ("中专", EDUCATION_LEVELS, "高中/中专/中职"),
        ("高中/中专/中职", EDUCATION_LEVELS, "高中/中专/中职"),
        ("高中 中专 中职", EDUCATION_LEVELS, "高中/中专/中职"),
        ("硕士", EDUCATION_LEVELS, "硕士研究生"),
        ("大学本科", EDUCATION_LEVELS, "本科"),
        ("专科", EDUCATION_LEVELS, "大专"),
        ("科普", SKILLS, "科学普及"),
        ("it", SKILLS, "信息技术"),
        ("晚上", SERVICE_TIMES, "工作日晚上"),
        ("周末", SERVICE_TIMES, "周末"),
        ("Apple", ("apple", "pear"), "apple"),  # letter case is ignored
    ],
)
def test_parse_choice(text: str, options: tuple[str, ...], expected: str) -> None:
    assert parse_choice(text, options) == expected


def test_parse_choice_custom_aliases() -> None:
    assert parse_choice("我", ("你", "他"), aliases={"我": "他"}) == "他"
    # Aliases pointing outside the options are ignored.
    with pytest.raises(ValidationError):
        parse_choice("我", ("你", "他"), aliases={"我": "她"})


@pytest.mark.parametrize(
    "text, options, fragment",
    [
        ("", OCCUPATIONS, "1-9"),
        ("0", OCCUPATIONS, "1到9"),
        ("10", OCCUPATIONS, "没有第10项"),
        ("-1", OCCUPATIONS, "没有找到"),
        ("宇航员", OCCUPATIONS, "没有找到「宇航员」"),
        ("研究生", EDUCATION_LEVELS, "硕士研究生、博士研究生"),  # ambiguous
        ("辅导员", OCCUPATIONS, "科普场馆辅导员、青少年科技辅导员"),
        ("工作日", SERVICE_TIMES, "对应多个选项"),
    ],
)
def test_parse_choice_rejects(text: str, options: tuple[str, ...], fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_choice(text, options)
    assert fragment in hint_of(exc)


def test_parse_choice_hint_lists_options() -> None:
    with pytest.raises(ValidationError) as exc:
        parse_choice("火星", SERVICE_TIMES)
    assert "1. 工作日白天" in exc.value.hint
    assert "5. 不定期" in exc.value.hint


def test_parse_choice_needs_options() -> None:
    with pytest.raises(ValueError):
        parse_choice("1", ())


@pytest.mark.parametrize(
    "text, options, expected",
    [
        ("1 3 5", SERVICE_TIMES, ["工作日白天", "周末", "不定期"]),
        ("1,3,5", SERVICE_TIMES, ["工作日白天", "周末", "不定期"]),
        ("1、3、5", SERVICE_TIMES, ["工作日白天", "周末", "不定期"]),
        ("1，3", SERVICE_TIMES, ["工作日白天", "周末"]),
        ("1；3;", SERVICE_TIMES, ["工作日白天", "周末"]),
        ("135", SERVICE_TIMES, ["工作日白天", "周末", "不定期"]),
        ("531", SERVICE_TIMES, ["工作日白天", "周末", "不定期"]),  # option order kept
        ("3 3 1", SERVICE_TIMES, ["工作日白天", "周末"]),  # deduplicated
        ("１　３", SERVICE_TIMES, ["工作日白天", "周末"]),
        ("4", SERVICE_TIMES, ["节假日"]),
        ("周末 节假日", SERVICE_TIMES, ["周末", "节假日"]),
        ("周末、节假日", SERVICE_TIMES, ["周末", "节假日"]),
        ("周末和节假日", SERVICE_TIMES, ["周末", "节假日"]),
        ("节假日,1", SERVICE_TIMES, ["工作日白天", "节假日"]),
        ("1 10", SKILLS, ["科学普及", "其他"]),
        ("10", SKILLS, ["其他"]),
        ("科普 信息技术", SKILLS, ["科学普及", "信息技术"]),
        ("科学普及信息技术", SKILLS, ["科学普及", "信息技术"]),  # options inside the answer
        ("IT、环保", SKILLS, ["信息技术", "生态环保"]),
        ("789", OCCUPATIONS, ["高校学生", "农技人员", "其他"]),
    ],
)
def test_parse_multi_choice(text: str, options: tuple[str, ...], expected: list[str]) -> None:
    assert parse_multi_choice(text, options) == expected


@pytest.mark.parametrize(
    "text, options, fragment",
    [
        ("", SERVICE_TIMES, "例如「1 3」"),
        ("，、", SERVICE_TIMES, "例如「1 3」"),
        ("1 6", SERVICE_TIMES, "没有第6项，请回复1到5之间的数字"),
        ("0", SERVICE_TIMES, "1到5"),
        ("106", SERVICE_TIMES, "1到5"),  # a 0 inside: not split into digits
        ("135", SKILLS, "没有第135项"),  # 10 options: 135 is one number
        ("11", SKILLS, "1到10"),
        ("周末 火星", SERVICE_TIMES, "没有找到「火星」"),
        ("工作日", SERVICE_TIMES, "对应多个选项"),
    ],
)
def test_parse_multi_choice_rejects(text: str, options: tuple[str, ...], fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_multi_choice(text, options)
    assert fragment in hint_of(exc)


def test_parse_multi_choice_counts() -> None:
    assert parse_multi_choice("1 2", SKILLS, min_count=2) == ["科学普及", "农业技术"]
    with pytest.raises(ValidationError) as exc:
        parse_multi_choice("1", SKILLS, min_count=2)
    assert "至少选择2项" in hint_of(exc)
    with pytest.raises(ValidationError) as exc:
        parse_multi_choice("1 2 3 4", SKILLS, max_count=3)
    assert "最多可以选择3项" in hint_of(exc)
    assert parse_multi_choice("", SKILLS, min_count=0) == []


def test_conjunction_is_not_a_separator_when_an_option_contains_it() -> None:
    options = ("初中及以下", "高中")
    assert parse_multi_choice("初中及以下", options) == ["初中及以下"]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("1", "高中/中专/中职"),
        ("3", "本科"),
        ("5", "博士研究生"),
        ("本科", "本科"),
        ("博士", "博士研究生"),
        ("中职", "高中/中专/中职"),
    ],
)
def test_parse_education(text: str, expected: str) -> None:
    assert parse_education(text) == expected


@pytest.mark.parametrize("text", ["6", "初中及以下", "初中", "初中毕业", "小学"])
def test_parse_education_below_high_school_is_ineligible(text: str) -> None:
    with pytest.raises(Ineligible) as exc:
        parse_education(text)
    assert "高中及以上" in exc.value.hint


@pytest.mark.parametrize("text", ["7", "研究生", "幼儿园"])
def test_parse_education_invalid(text: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_education(text)
    hint_of(exc)


# -- numbers as said aloud (speech recognition) ---------------------------------------------


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("三", "医疗卫生"),
        ("第三个", "医疗卫生"),
        ("第十项", "其他"),
        ("二", "农业技术"),
        ("两", "农业技术"),
    ],
)
def test_one_choice_by_a_chinese_numeral(said: str, expected: str) -> None:
    assert parse_choice(said, SKILLS) == expected


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        ("三和五", ["医疗卫生", "生态环保"]),
        ("第一个和第三个", ["科学普及", "医疗卫生"]),
        ("一、十", ["科学普及", "其他"]),
        ("十 二", ["农业技术", "其他"]),
    ],
)
def test_several_choices_by_chinese_numerals(said: str, expected: list[str]) -> None:
    assert parse_multi_choice(said, SKILLS) == expected


def test_a_chinese_numeral_is_never_split_into_digits() -> None:
    # 「12」 typed means 1 and 2 when there are at most 9 options; 「十二」 is twelve.
    assert parse_multi_choice("12", SERVICE_TIMES) == ["工作日白天", "工作日晚上"]
    with pytest.raises(ValidationError, match="没有第12项"):
        parse_multi_choice("十二", SERVICE_TIMES)


@pytest.mark.parametrize(
    ("text", "number"),
    [("一", 1), ("两", 2), ("九", 9), ("十", 10), ("十一", 11), ("十九", 19), ("二十", 20)],
)
def test_small_chinese_numbers(text: str, number: int) -> None:
    assert small_number(text) == number


@pytest.mark.parametrize("text", ["", "零", "二十一", "三十", "一二", "十十", "两十", "张三"])
def test_not_a_small_chinese_number(text: str) -> None:
    assert small_number(text) is None
