"""Template value rules (checked before a run, so WeChat's 47003 cannot stop it midway),
template key parsing, and the CLI audience syntax."""

from __future__ import annotations

import pytest

from domain.errors import ValidationError
from sandbox.fake_wechat import _value_fits
from services.notices import Audience, check_value, parse_fields, rule_for

GOOD = [
    ("thing1", "青少年科普进社区"),
    ("thing2", "一" * 20),
    ("time2", "2026年9月20日 09:00"),
    ("time3", "2026-09-20 09:00"),
    ("time4", "09:30"),
    ("time5", "2026年9月20日 09:00~11:30"),
    ("date1", "2026年9月20日"),
    ("date2", "2026-09-20~2026-09-22"),
    ("phrase4", "已报名"),
    ("number5", "30"),
    ("number6", "12.5"),
    ("amount1", "¥12.50"),
    ("amount2", "100元"),
    ("character_string7", "KJ2026-0918_A"),
    ("letter1", "ABC"),
    ("symbol1", "★"),
    ("car_number1", "甘A12345"),
    ("name1", "张三"),
    ("name2", "买买提·艾力"),
    ("phone_number1", "0931-8888888"),
    ("phone_number2", "+8613812345678"),
    ("first", "任意说明文字"),
]
BAD = [
    ("thing1", "一" * 21, "不超过20个字"),
    ("thing1", "", "不能为空"),
    ("thing1", " 前后空格 ", "首尾不能有空格"),
    ("time2", "下周六上午", "时间"),
    ("time2", "2026年2月30日 09:00", "时间"),
    ("time2", "25:00", "时间"),
    ("time2", "2026年9月20日", "时间"),  # a time needs the hour
    ("date1", "09:00", "日期"),
    ("date1", "2026年9月20日 09:00", "日期"),
    ("phrase4", "已经报名成功", "不超过5个汉字"),
    ("phrase4", "OK", "不超过5个汉字"),
    ("number5", "三十", "数字"),
    ("amount1", "十二元", "金额"),
    ("character_string7", "含中文", "字母、数字"),
    ("character_string7", "A" * 33, "字母、数字"),
    ("letter1", "AB1", "字母"),
    ("symbol1", "abc", "符号"),
    ("car_number1", "甘A123456789", "车牌号"),
    ("name1", "张" * 11, "姓名"),
    ("phone_number1", "电话0931", "电话号码"),
]


@pytest.mark.parametrize(("key", "value"), GOOD)
def test_good_values_pass(key: str, value: str) -> None:
    assert check_value(key, value) is None


@pytest.mark.parametrize(("key", "value", "hint"), BAD)
def test_bad_values_get_a_hint(key: str, value: str, hint: str) -> None:
    problem = check_value(key, value)
    assert problem is not None and hint in problem


@pytest.mark.parametrize(("key", "value"), [(k, v) for k, v in GOOD if k != "first"])
def test_what_we_accept_the_fake_wechat_accepts(key: str, value: str) -> None:
    assert _value_fits(key, value), (key, value)


def test_rule_is_chosen_by_the_key_prefix() -> None:
    assert rule_for("thing12").kind == "thing"
    assert rule_for("character_string3").kind == "character_string"
    assert rule_for("keyword1").kind == "other"


def test_parse_fields_accepts_keys_and_wechat_content() -> None:
    assert parse_fields("thing1 活动名称\ntime2：开始时间\n\n") == [
        {"key": "thing1", "label": "活动名称"},
        {"key": "time2", "label": "开始时间"},
    ]
    assert parse_fields("活动名称:{{thing1.DATA}}\n活动地点：{{ thing3.DATA }}") == [
        {"key": "thing1", "label": "活动名称"},
        {"key": "thing3", "label": "活动地点"},
    ]
    with pytest.raises(ValidationError, match="重复"):
        parse_fields("thing1 a\nthing1 b")
    with pytest.raises(ValidationError, match="thing1"):
        parse_fields("活动名称 thing1")
    with pytest.raises(ValidationError, match="至少"):
        parse_fields("  \n")


def test_cli_audience_syntax() -> None:
    assert Audience.parse_pairs(["all"]) == Audience()
    chosen = Audience.parse_pairs(
        ["region=620100", "skill=科学普及", "skill=农业技术", "time=周末", "team=3"]
    )
    assert chosen == Audience("620100", 3, ("科学普及", "农业技术"), ("周末",))
    for bad, hint in [
        (["region=999999"], "未知的地区"),
        (["skill=算命"], "未知的专业领域"),
        (["color=red"], "未知的受众条件"),
        (["team=abc"], "服务队编号"),
        (["region"], "key=value"),
    ]:
        with pytest.raises(ValidationError, match=hint):
            Audience.parse_pairs(bad)
