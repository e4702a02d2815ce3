"""Activities in chat: 近期活动 (the next published ones near the user), details on request."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import xmltodict

from infra.db import Database
from models.activity import Activity
from tests.test_console_support import add_activity, add_team, add_volunteers
from tests.wechat_user import Answer, WeChatUser


def cards(answer: Answer) -> list[dict[str, str]]:
    assert answer.status == 200
    doc = xmltodict.parse(answer.xml)["xml"]
    assert doc["MsgType"] == "news"
    items = doc["Articles"]["item"]
    return list(items if isinstance(items, list) else [items])


def titles(user: WeChatUser) -> list[str]:
    return [item["Title"] for item in cards(user.event("CLICK", "ACTIVITY_RECENT"))]


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
    assert shown[0].startswith("近期活动（第1页）")
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


def test_recent_is_paged_with_covers_and_links(
    make_user: Callable[..., WeChatUser], db: Database
) -> None:
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    ids = [
        add_activity(db, team, title=f"科普活动{n}", starts_in=timedelta(days=n + 1))
        for n in range(9)
    ]
    (openid,) = add_volunteers(db, 1)
    user = make_user(openid)

    first = cards(user.event("CLICK", "ACTIVITY_RECENT"))
    assert len(first) == 8  # WeChat's limit: the header and 7 activities
    assert "下一页" in first[0]["Title"]
    assert [c["Title"].split("]")[0].lstrip("[") for c in first[1:]] == [str(i) for i in ids[:7]]
    for card, activity in zip(first[1:], ids, strict=False):
        assert card["Url"] == f"http://127.0.0.1:8000/a/{activity}"
        assert card["PicUrl"] == "http://127.0.0.1:8000/a/static/cover.png"

    second = cards(user.send_text("下一页"))
    assert second[0]["Title"].startswith("近期活动（第2页）") and "下一页" not in second[0]["Title"]
    assert [c["Title"].split("]")[0].lstrip("[") for c in second[1:]] == [str(i) for i in ids[7:]]
    assert "没有更多活动了" in user.say("下一页")
    assert cards(user.send_text("上一页"))[0]["Title"].startswith("近期活动（第1页）")

    stranger = make_user()
    assert "没有可以翻页的列表" in stranger.say("下一页")


def test_your_skills_first_within_your_region(
    make_user: Callable[..., WeChatUser], db: Database
) -> None:
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    other = add_activity(db, team, title="科普讲座", starts_in=timedelta(days=1))
    mine = add_activity(db, team, title="义诊", starts_in=timedelta(days=2))
    with db.Session.begin() as session:
        found = session.get(Activity, mine)
        assert found is not None
        found.service_field = "医疗卫生"
    (openid,) = add_volunteers(db, 1, skills=("医疗卫生",))
    shown = titles(make_user(openid))
    assert [t.split("]")[0].lstrip("[") for t in shown[1:]] == [str(mine), str(other)]
