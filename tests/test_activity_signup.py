"""Signing up in chat: 报名 N, 候补 N, 取消报名 N, 活动 N and 活动 → 我的活动, as conversations."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest

from config import Settings
from domain.clock import utcnow
from infra.db import Database
from models.activity import FULL, Activity
from sandbox.fake_wechat import TEMPLATE_ACTIVITY_SIGNUP, FakeWeChatState
from tests.activity_support import (
    activity_settings,
    change_activity,
    last_seen_long_ago,
    templates,
    texts,
)
from tests.test_console_support import add_activity, add_team, add_volunteers
from tests.wechat_user import WeChatUser

User = Callable[..., WeChatUser]


@pytest.fixture
def settings(migrated: str, fake_wechat_url: str) -> Settings:
    return activity_settings(migrated, fake_wechat_url)


@pytest.fixture
def team(db: Database) -> int:
    return add_team(db, "甘肃省科普作家协会科技志愿服务队")


def volunteers(make_user: User, db: Database, count: int, **kwargs: object) -> list[WeChatUser]:
    return [make_user(openid) for openid in add_volunteers(db, count, **kwargs)]  # type: ignore[arg-type]


def test_sign_up_see_it_and_cancel(make_user: User, db: Database, team: int) -> None:
    activity = add_activity(db, team, title="青少年科普进社区")
    (user,) = volunteers(make_user, db, 1)

    assert f"回复「报名{activity}」报名参加" in user.say(f"活动{activity}")
    reply = user.say(f"报名{activity}")
    assert "报名成功" in reply and "青少年科普进社区" in reply
    assert "兰州市城关区科技馆" in reply and f"取消报名{activity}" in reply
    assert "无需重复报名" in user.say(f"报名 {activity}")
    assert "您已报名" in user.say(f"活动{activity}")
    assert "已报名" in user.click("ACTIVITY_MINE")

    assert "已取消报名「青少年科普进社区」" in user.say(f"取消报名{activity}")
    assert "您没有报名活动" in user.say(f"取消报名{activity}")
    assert "已取消报名" in user.say("我的活动")
    assert "报名成功" in user.say(f"报名{activity}")  # may sign up again


def test_only_registered_volunteers(make_user: User, db: Database, team: int) -> None:
    activity = add_activity(db, team)
    stranger = make_user()
    reply = stranger.say(f"报名{activity}")
    assert "志愿者 → 注册" in reply and f"报名{activity}" in reply
    assert "还不是注册志愿者" in stranger.click("ACTIVITY_MINE")


def test_requirements_are_checked_with_a_reason(make_user: User, db: Database, team: int) -> None:
    activity = add_activity(db, team)
    (farmer,) = volunteers(make_user, db, 1, skills=("农业技术",))
    change_activity(db, activity, required_skills=["医疗卫生"])
    reply = farmer.say(f"报名{activity}")
    assert "要求具备以下专业领域之一：医疗卫生" in reply and "我的信息" in reply

    change_activity(db, activity, required_skills=None, required_region_code="620500")
    assert "只招募甘肃省天水市的志愿者" in farmer.say(f"报名{activity}")
    change_activity(db, activity, required_region_code="620100")
    assert "报名成功" in farmer.say(f"报名{activity}")


def test_unknown_draft_and_started_activities(make_user: User, db: Database, team: int) -> None:
    (user,) = volunteers(make_user, db, 1)
    draft = add_activity(db, team, status="draft")
    started = add_activity(db, team, starts_in=timedelta(hours=-1))
    assert "没有找到编号为 99999 的活动" in user.say("报名99999")
    assert "已开始或已结束" in user.say(f"报名{draft}")
    assert "已开始或已结束" in user.say(f"报名{started}")


def test_sign_up_closes_at_the_deadline(make_user: User, db: Database, team: int) -> None:
    activity = add_activity(db, team)
    early, late = volunteers(make_user, db, 2)
    change_activity(db, activity, signup_deadline=utcnow() + timedelta(hours=1))
    assert "报名成功" in early.say(f"报名{activity}")
    change_activity(db, activity, signup_deadline=utcnow() - timedelta(minutes=1))
    assert "报名已于" in late.say(f"报名{activity}") and "截止" in late.say(f"报名{activity}")
    assert "报名已截止" in late.say(f"活动{activity}")


def test_full_activity_offers_the_waiting_list_and_promotes_in_order(
    make_user: User, db: Database, team: int, fake_wechat: FakeWeChatState
) -> None:
    activity = add_activity(db, team, title="果树修剪培训")
    change_activity(db, activity, capacity=1)
    first, second, third = volunteers(make_user, db, 3)

    assert "报名成功" in first.say(f"报名{activity}")
    full = second.say(f"报名{activity}")
    assert "1个名额已报满" in full and f"候补 {activity}" in full
    assert "名额已满" in third.say(f"活动{activity}")
    assert "排第1位" in second.say(f"候补{activity}")
    assert "排第2位" in third.say(f"候补 {activity}")
    assert "目前排第1位" in second.say(f"报名{activity}")
    assert "候补第2位" in third.click("ACTIVITY_MINE")

    last_seen_long_ago(db, third.openid)  # the third is told by template when promoted
    assert "已取消报名「果树修剪培训」" in first.say(f"取消报名{activity}")
    told = texts(fake_wechat, second.openid)
    assert len(told) == 1 and "您已从候补名单递补" in told[0]
    assert "已报名" in second.click("ACTIVITY_MINE")
    assert "候补第1位" in third.click("ACTIVITY_MINE")

    assert "已取消报名" in second.say(f"取消报名{activity}")
    (promoted,) = templates(fake_wechat, third.openid)
    assert promoted["template_id"] == TEMPLATE_ACTIVITY_SIGNUP
    assert promoted["data"]["thing1"] == "果树修剪培训" and promoted["data"]["phrase4"] == "已递补"
    assert promoted["url"].endswith(f"/a/{activity}")
    assert texts(fake_wechat, third.openid) == []
    with db.Session() as session:
        found = session.get(Activity, activity)
        assert found is not None and found.status == FULL


def test_leaving_the_waiting_list_promotes_nobody(
    make_user: User, db: Database, team: int, fake_wechat: FakeWeChatState
) -> None:
    activity = add_activity(db, team)
    change_activity(db, activity, capacity=1)
    first, waiting, next_ = volunteers(make_user, db, 3)
    first.say(f"报名{activity}")
    waiting.say(f"候补{activity}")
    next_.say(f"候补{activity}")
    assert "已退出" in waiting.say(f"取消报名{activity}")
    assert "候补第1位" in next_.click("ACTIVITY_MINE")
    assert fake_wechat.messages(next_.openid) == []


def test_my_activities_upcoming_first_then_past_paged(
    make_user: User, db: Database, team: int
) -> None:
    (user,) = volunteers(make_user, db, 1)
    later = add_activity(db, team, title="晚些的活动", starts_in=timedelta(days=9))
    sooner = add_activity(db, team, title="早些的活动", starts_in=timedelta(days=2))
    past = add_activity(db, team, title="过去的活动", starts_in=timedelta(days=3))
    for activity in (later, sooner, past):
        assert "报名成功" in user.say(f"报名{activity}")
    change_activity(
        db,
        past,
        starts_at=utcnow() - timedelta(days=3),
        ends_at=utcnow() - timedelta(days=3) + timedelta(hours=2),
    )
    lines = user.click("ACTIVITY_MINE").splitlines()
    assert lines[0] == "我的活动（第1页）"
    assert [line.split("]")[0] + "]" for line in lines[1:4]] == [
        f"[{sooner}]",
        f"[{later}]",
        f"[{past}]",
    ]
    assert "（活动已结束）" in lines[3]

    for n in range(8):  # more than a page
        extra = add_activity(db, team, title=f"活动{n}", starts_in=timedelta(days=20 + n))
        user.say(f"报名{extra}")
    first_page = user.click("ACTIVITY_MINE")
    assert "下一页" in first_page and first_page.count("｜已报名") == 8
    second_page = user.say("下一页")
    assert second_page.startswith("我的活动（第2页）") and second_page.count("\n[") == 3
    assert "第1页" in user.say("上一页")


def test_deregistering_gives_up_places_to_the_waiting_list(
    make_user: User, db: Database, team: int, fake_wechat: FakeWeChatState
) -> None:
    activity = add_activity(db, team, title="果树修剪培训")
    change_activity(db, activity, capacity=1)
    leaving, waiting = volunteers(make_user, db, 2)
    assert "报名成功" in leaving.say(f"报名{activity}")
    assert "排第1位" in waiting.say(f"候补{activity}")

    assert "确认注销" in leaving.say("注销")
    assert "注销完成" in leaving.say("确认注销")
    (told,) = texts(fake_wechat, waiting.openid)
    assert "您已从候补名单递补" in told
    assert "已报名" in waiting.click("ACTIVITY_MINE")
