"""帮助 and the fallback reply point to every menu entry (加入队伍, 服务时长, 需求对接 included)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.wechat_user import WeChatUser

MENU = json.loads((Path(__file__).parent.parent / "menus.json").read_text(encoding="utf-8"))
ENTRIES = [
    f"「{top['name']} → {sub['name']}」"
    for top in MENU["button"]
    for sub in top.get("sub_button", [])
    if sub.get("key") != "HELP"
]


def test_the_menu_has_the_entries_new_users_missed() -> None:
    for entry in ("「志愿者 → 加入队伍」", "「志愿者 → 服务时长」", "「活动 → 需求对接」"):
        assert entry in ENTRIES


@pytest.mark.parametrize("ask", ["帮助", "click:HELP", "随便说点什么"])
def test_help_and_fallback_name_every_menu_entry(wechat_user: WeChatUser, ask: str) -> None:
    reply = wechat_user.click(ask[6:]) if ask.startswith("click:") else wechat_user.say(ask)
    missing = [entry for entry in ENTRIES if entry not in reply]
    assert not missing, reply
    assert "加入 邀请码" in reply
