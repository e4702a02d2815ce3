"""validate_menu against WeChat's menu rules, and matching menu keys to handlers."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wechat.menu import (
    check_handlers,
    click_keys,
    load_menu,
    menu_from_selfmenu_info,
    menu_keys,
    validate_menu,
)

GOOD_MENU: dict[str, Any] = {
    "button": [
        {"type": "click", "name": "志愿报名", "key": "VOLUNTEER_REGISTER"},
        {
            "name": "活动服务",
            "sub_button": [
                {"type": "click", "name": "近期活动", "key": "ACTIVITY_LIST"},
                {"type": "click", "name": "我的报名", "key": "ACTIVITY_MINE"},
                {"type": "view", "name": "服务指南", "url": "https://example.org/guide"},
                {"type": "scancode_push", "name": "扫码签到", "key": "ACTIVITY_CHECKIN"},
            ],
        },
        {
            "name": "关于我们",
            "sub_button": [
                {"type": "click", "name": "联系我们", "key": "ABOUT_CONTACT"},
                {
                    "type": "miniprogram",
                    "name": "小程序",
                    "url": "https://example.org",
                    "appid": "wx286b93c14bbf93aa",
                    "pagepath": "pages/index",
                },
            ],
        },
    ]
}


def top(index: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda menu: menu["button"][index]


def sub(index: int, sub_index: int) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda menu: menu["button"][index]["sub_button"][sub_index]


def broken(change: Callable[[dict[str, Any]], None]) -> dict[str, Any]:
    menu = copy.deepcopy(GOOD_MENU)
    change(menu)
    return menu


def test_good_menu_has_no_problems() -> None:
    assert validate_menu(GOOD_MENU) == []


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        pytest.param(lambda m: m.pop("button"), "'button' list", id="no-button-list"),
        pytest.param(lambda m: m.update(button=[]), "0 top-level buttons", id="no-buttons"),
        pytest.param(
            lambda m: m["button"].append({"type": "click", "name": "四", "key": "FOURTH_KEY"}),
            "4 top-level buttons",
            id="four-buttons",
        ),
        pytest.param(
            lambda m: top(1)(m).update(sub_button=[]), "0 sub_buttons", id="empty-sub-buttons"
        ),
        pytest.param(
            lambda m: top(1)(m)["sub_button"].extend(
                [{"type": "click", "name": f"多{i}", "key": f"EXTRA_{i}"} for i in range(2)]
            ),
            "6 sub_buttons",
            id="six-sub-buttons",
        ),
        pytest.param(
            lambda m: top(1)(m).update(type="click"), "has no type", id="parent-with-type"
        ),
        pytest.param(
            lambda m: top(0)(m).update(name="科技志愿服务报名"), "at most 16", id="top-name-bytes"
        ),
        pytest.param(
            lambda m: sub(1, 0)(m).update(name="近" * 21), "at most 60", id="sub-name-bytes"
        ),
        pytest.param(lambda m: top(0)(m).pop("name"), "needs a name", id="no-name"),
        pytest.param(
            lambda m: top(0)(m).update(type="clack"), "type 'clack' is not", id="bad-type"
        ),
        pytest.param(lambda m: top(0)(m).pop("type"), "type None is not", id="no-type"),
        pytest.param(lambda m: top(0)(m).pop("key"), "click button needs a key", id="no-key"),
        pytest.param(lambda m: top(0)(m).update(key="K" * 129), "at most 128", id="key-too-long"),
        pytest.param(
            lambda m: sub(1, 3)(m).pop("key"), "scancode_push button needs a key", id="scan-key"
        ),
        pytest.param(lambda m: sub(1, 2)(m).pop("url"), "needs a url", id="view-no-url"),
        pytest.param(
            lambda m: sub(1, 2)(m).update(url="example.org/guide"),
            "must start with http",
            id="view-url-scheme",
        ),
        pytest.param(
            lambda m: sub(1, 2)(m).update(url="https://example.org/" + "a" * 1010),
            "at most 1024",
            id="view-url-too-long",
        ),
        pytest.param(
            lambda m: sub(2, 1)(m).pop("pagepath"), "needs pagepath", id="miniprogram-fields"
        ),
        pytest.param(
            lambda m: sub(2, 0)(m).update(key="VOLUNTEER_REGISTER"),
            "'VOLUNTEER_REGISTER' is used by more than one",
            id="duplicate-key",
        ),
        pytest.param(
            lambda m: sub(1, 0)(m).update(sub_button=[]), "cannot have sub_buttons", id="nested"
        ),
    ],
)
def test_each_rule_is_caught(change: Callable[[dict[str, Any]], None], expected: str) -> None:
    problems = validate_menu(broken(change))

    assert any(expected in problem for problem in problems), problems


def test_names_count_utf8_bytes() -> None:
    five_chinese = broken(lambda m: top(0)(m).update(name="五个汉字啊"))  # 15 bytes
    six_chinese = broken(lambda m: top(0)(m).update(name="六个汉字啊啊"))  # 18 bytes

    assert validate_menu(five_chinese) == []
    assert len(validate_menu(six_chinese)) == 1


def test_every_problem_is_reported() -> None:
    def break_twice(menu: dict[str, Any]) -> None:
        top(0)(menu).pop("key")
        sub(1, 2)(menu).update(url="ftp://example.org")

    assert len(validate_menu(broken(break_twice))) == 2


def test_load_menu_reads_utf8_json(tmp_path: Path) -> None:
    path = tmp_path / "menu.json"
    path.write_text(json.dumps(GOOD_MENU, ensure_ascii=False), encoding="utf-8")

    assert load_menu(path) == GOOD_MENU


def test_load_menu_rejects_a_list(tmp_path: Path) -> None:
    path = tmp_path / "menu.json"
    path.write_text("[]", encoding="utf-8")

    with pytest.raises(ValueError):
        load_menu(path)


def test_click_keys_and_menu_keys() -> None:
    assert click_keys(GOOD_MENU) == [
        "VOLUNTEER_REGISTER",
        "ACTIVITY_LIST",
        "ACTIVITY_MINE",
        "ABOUT_CONTACT",
    ]
    assert "ACTIVITY_CHECKIN" in menu_keys(GOOD_MENU)


def test_check_handlers_accepts_a_matching_set() -> None:
    handled = {*click_keys(GOOD_MENU), "ACTIVITY_CHECKIN", "help", "subscribe"}

    assert check_handlers(GOOD_MENU, handled) == []


def test_check_handlers_reports_both_directions() -> None:
    handled = {"VOLUNTEER_REGISTER", "ACTIVITY_LIST", "ACTIVITY_MINE", "OLD_FEATURE", "取消"}

    problems = check_handlers(GOOD_MENU, handled)

    assert problems == [
        "menu key 'ABOUT_CONTACT' has no handler",
        "handled key 'OLD_FEATURE' is not in the menu",
    ]


def test_menu_from_selfmenu_info() -> None:
    info = {
        "is_menu_open": 1,
        "selfmenu_info": {
            "button": [
                {"type": "click", "name": "报名", "key": "VOLUNTEER_REGISTER"},
                {
                    "name": "活动",
                    "sub_button": {"list": [{"type": "click", "name": "a", "key": "A_B"}]},
                },
            ]
        },
    }

    assert menu_from_selfmenu_info(info) == {
        "button": [
            {"type": "click", "name": "报名", "key": "VOLUNTEER_REGISTER"},
            {"name": "活动", "sub_button": [{"type": "click", "name": "a", "key": "A_B"}]},
        ]
    }
    assert menu_from_selfmenu_info({"is_menu_open": 0}) == {"button": []}
