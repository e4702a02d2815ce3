from __future__ import annotations

import re

import pytest

from domain.contact import (
    mask_mobile,
    parse_free_text,
    parse_mobile,
    parse_person_name,
)
from domain.errors import Ineligible, ValidationError
from domain.text import clip, has_emoji, normalize

CJK = re.compile(r"[\u4e00-\u9fff]")


def hint_of(exc: pytest.ExceptionInfo[ValidationError]) -> str:
    assert not isinstance(exc.value, Ineligible)
    assert CJK.search(exc.value.hint), exc.value.hint
    assert str(exc.value) == exc.value.hint
    return exc.value.hint


# --- text.normalize / has_emoji / clip -------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("  你好  ", "你好"),
        ("１３８　１２３４　５６７８", "138 1234 5678"),
        ("ＡＢＣａｂｃ！？（）", "ABCabc!?()"),
        ("兰州，城关。", "兰州,城关。"),
        ("a \t\n  b", "a b"),
        ("买买提•艾力", "买买提·艾力"),
        ("买买提‧艾力", "买买提·艾力"),
        ("买买提・艾力", "买买提·艾力"),
        ("买买提･艾力", "买买提·艾力"),
        ("买买提\u2219艾力", "买买提·艾力"),
        ("买买提\u00b7艾力", "买买提·艾力"),
        ("张\u200b三\ufeff", "张三"),
        ("甘肃省科协", "甘肃省科协"),
        ("", ""),
    ],
)
def test_normalize(text: str, expected: str) -> None:
    assert normalize(text) == expected


@pytest.mark.parametrize(
    "text, expected",
    [
        ("你好😀", True),
        ("👍", True),
        ("❤️", True),
        ("⭐", True),
        ("🇨🇳", True),
        ("1️⃣", True),
        ("你好", False),
        ("兰州市城关区，科普（2）", False),
        ("·、。「」", False),
        ("", False),
    ],
)
def test_has_emoji(text: str, expected: bool) -> None:
    assert has_emoji(text) is expected


@pytest.mark.parametrize(
    "text, n, expected",
    [
        ("甘肃省科学技术协会", 20, "甘肃省科学技术协会"),
        ("甘肃省科学技术协会", 9, "甘肃省科学技术协会"),
        ("甘肃省科学技术协会", 5, "甘肃省科…"),
        ("甘肃省", 1, "…"),
        ("甘肃省", 0, ""),
    ],
)
def test_clip(text: str, n: int, expected: str) -> None:
    assert clip(text, n) == expected
    assert len(clip(text, n)) <= max(n, 0)


# --- mobile ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("13812345678", "13812345678"),
        ("138 1234 5678", "13812345678"),
        ("138-1234-5678", "13812345678"),
        ("+86 138 1234 5678", "13812345678"),
        ("+86-13812345678", "13812345678"),
        ("8613812345678", "13812345678"),
        ("0086 13812345678", "13812345678"),
        ("(+86) 138 1234 5678", "13812345678"),
        ("１３９１２３４５６７８", "13912345678"),
        ("＋８６　１９９１２３４５６７８", "19912345678"),
        ("18919046220", "18919046220"),
        (" 15012345678 ", "15012345678"),
    ],
)
def test_parse_mobile_accepts(text: str, expected: str) -> None:
    assert parse_mobile(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "",
        "1381234567",  # 10 digits
        "138123456789",  # 12 digits
        "12812345678",  # 12x is not a mobile prefix
        "11812345678",
        "23812345678",
        "138abcd5678",
        "+85 13812345678",
        "138123456７８a",
        "手机13812345678",
        "١٣٨١٢٣٤٥٦٧٨",
    ],
)
def test_parse_mobile_rejects(text: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_mobile(text)
    assert "手机号" in hint_of(exc)


@pytest.mark.parametrize("text", ["0931-8888888", "09318888888", "010-62379323"])
def test_parse_mobile_rejects_landlines_with_own_hint(text: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_mobile(text)
    assert "座机" in hint_of(exc)


@pytest.mark.parametrize(
    "number, expected",
    [("13812345678", "138****5678"), ("18919046220", "189****6220"), ("123", "***")],
)
def test_mask_mobile(number: str, expected: str) -> None:
    assert mask_mobile(number) == expected


# --- names -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("张三", "张三"),
        (" 张 三 ", "张三"),
        ("欧阳娜娜", "欧阳娜娜"),
        ("阿卜杜拉·买买提", "阿卜杜拉·买买提"),
        ("买买提·艾力", "买买提·艾力"),
        ("买买提•艾力", "买买提·艾力"),
        ("买买提・艾力", "买买提·艾力"),
        ("买买提 · 艾力", "买买提·艾力"),
        ("买买提.艾力", "买买提·艾力"),
        ("阿依古丽·买买提·艾力", "阿依古丽·买买提·艾力"),
        ("王一", "王一"),
        ("䶮䶮", "䶮䶮"),  # extension A
        ("张𠀾", "张𠀾"),  # extension B
        ("一二三四五六七八九十一二三四五六七八九十", "一二三四五六七八九十一二三四五六七八九十"),
    ],
)
def test_parse_person_name_accepts(text: str, expected: str) -> None:
    assert parse_person_name(text) == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "真实姓名"),
        ("   ", "真实姓名"),
        ("张", "至少2个字"),
        ("一二三四五六七八九十一二三四五六七八九十一", "最多20个字"),
        ("张三1", "数字"),
        ("张三１", "数字"),
        ("Zhang San", "汉字"),
        ("张三A", "汉字"),
        ("张三😀", "汉字"),
        ("张三！", "汉字"),
        ("张-三", "汉字"),
        ("·买买提", "中间"),
        ("买买提·", "中间"),
        ("买买提··艾力", "中间"),
        ("·", "中间"),
    ],
)
def test_parse_person_name_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_person_name(text)
    assert fragment in hint_of(exc)


# --- free text -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text, expected",
    [
        ("甘肃省科学技术协会", "甘肃省科学技术协会"),
        ("  兰州大学　物理学院 ", "兰州大学 物理学院"),
        ("ＡＢＣ公司（兰州）", "ABC公司(兰州)"),
        ("一二三四五", "一二三四五"),
        ("第一行\n第二行", "第一行 第二行"),
    ],
)
def test_parse_free_text_accepts(text: str, expected: str) -> None:
    assert parse_free_text(text, 10, "工作单位") == expected


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("", "请填写工作单位"),
        (" \u3000\n", "请填写工作单位"),
        ("一二三四五六七八九十一", "工作单位最多10个字"),
        ("兰州大学😀", "表情"),
        ("兰州\x07大学", "无法识别"),
        ("兰州\u202e大学", "无法识别"),
        ("兰州\ue000大学", "无法识别"),
    ],
)
def test_parse_free_text_rejects(text: str, fragment: str) -> None:
    with pytest.raises(ValidationError) as exc:
        parse_free_text(text, 10, "工作单位")
    hint = hint_of(exc)
    assert fragment in hint
    assert "工作单位" in hint
