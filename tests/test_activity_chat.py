"""Activities in chat: 近期活动 (the next published ones near the user), details on request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import xmltodict

from infra.db import Database
from tests.test_console_support import add_activity, add_team, add_volunteers
from tests.wechat_user import WeChatUser


def titles(user: WeChatUser) -> list[str]:
    answer = user.event("CLICK", "ACTIVITY_RECENT")
    assert answer.status == 200
    doc = xmltodict.parse(answer.xml)["xml"]
    assert doc["MsgType"] == "news"
    items = doc["Articles"]["item"]
    return [item["Title"] for item in (items if isinstance(items, list) else [items])]


def test_no_activity_yet(wechat_user: WeChatUser) -> None:
    assert "近期暂无已发布的活动" in wechat_user.click("ACTIVITY_RECENT")


def test_nearest_first_then_soonest(make_user: Callable[..., WeChatUser], db: Database) -> None:
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    far = add_activity(
        db,
        team,
        title="天水果树修剪",
        prefecture_code="620500",
        county_code="620502",
        starts_in=timedelta(days=1),
    )
    province = add_activity(
        db,
        team,
        title="全省科普直播",
        prefecture_code=None,
        county_code=None,
        starts_in=timedelta(days=2),
    )
    city = add_activity(
        db, team, title="七里河科普讲座", county_code="620103", starts_in=timedelta(days=3)
    )
    later_here = add_activity(db, team, title="城关区应急科普", starts_in=timedelta(days=20))
    here = add_activity(db, team, title="城关区科技咨询", starts_in=timedelta(days=5))
    add_activity(db, team, title="草稿活动", status="draft")
    add_activity(db, team, title="已结束的活动", starts_in=timedelta(days=-3))
    add_activity(db, team, title="已取消的活动", status="cancelled")

    (openid,) = add_volunteers(db, 1, prefecture_code="620100", county_code="620102")
    shown = titles(make_user(openid))
    assert shown[0].startswith("近期科技志愿服务活动")
    assert [t.split("]")[0].lstrip("[") for t in shown[1:]] == [
        str(here),
        str(later_here),
        str(city),
        str(province),
        str(far),
    ]
    assert "城关区科技咨询" in shown[1] and "兰州市城关区" in shown[1]
    assert "全省" in shown[4]

    stranger = titles(make_user())  # not registered: province-wide first, then soonest
    assert [t.split("]")[0].lstrip("[") for t in stranger[1:]] == [
        str(province),
        str(far),
        str(city),
        str(here),
        str(later_here),
    ]


def test_details_on_request(wechat_user: WeChatUser, db: Database) -> None:
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    activity = add_activity(db, team, title="城关区科技咨询")
    draft = add_activity(db, team, title="草稿活动", status="draft")

    reply = wechat_user.say(f"活动{activity}")
    assert "【城关区科技咨询】" in reply
    assert "甘肃省科普作家协会科技志愿服务队" in reply
    assert "兰州市城关区科技馆" in reply and "李老师" in reply
    assert wechat_user.say(f"活动 {activity}") == reply
    assert "没有找到编号为" in wechat_user.say(f"活动{draft}")
    assert "没有找到编号为 99999" in wechat_user.say("活动详情 99999")
