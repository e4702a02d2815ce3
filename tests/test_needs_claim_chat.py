"""认领 in chat: a team admin claims a published need as a conversation (pre-filled from the
need, edited in the summary, confirmed); the claim becomes a published activity of the team in
the need's region, the need shows 已认领 with the team's name, the poster is told, the claim is
audited. Only one team gets a need, also when two admins confirm at the same moment."""

from __future__ import annotations

import threading
from datetime import timedelta

from flask import Flask
from sqlalchemy import select

from domain import clock, team_names
from infra.db import Database
from models.activity import RECRUITING, Activity
from models.need import CLAIMED, PUBLISHED
from models.operator import AuditEntry
from sandbox.fake_wechat import FakeWeChatState
from tests.needs_claim_support import (
    POSTER,
    User,
    admin_of_team,
    claim_in_chat,
    need_row,
    published_need,
    texts_to,
)
from tests.wechat_user import WeChatUser

SOCIETY = "甘肃省农学会科技志愿服务队"


def test_a_team_admin_claims_a_need_in_chat_and_it_becomes_an_activity(
    app: Flask, db: Database, make_user: User, fake_wechat: FakeWeChatState
) -> None:
    need_no = published_need(db)
    make_user(POSTER).say("我的需求")  # the poster wrote lately: told by customer-service message
    admin, team = admin_of_team(app, make_user, SOCIETY)

    listed = admin.say("可认领需求")
    assert need_no in listed and "城关区东岗社区" in listed and f"认领 {need_no}" in listed
    detail = make_user().say(f"需求 {need_no}")
    assert f"认领 {need_no}" in detail  # the hall tells admins how to claim

    start = admin.say(f"认领 {need_no}")
    assert f"【认领需求 {need_no}】为「{SOCIETY}」认领" in start
    assert "城关区" in start and "13812345678" not in start
    assert "活动地点" in start  # title, type, times and people come from the need
    admin.say("东岗街道社区服务中心二楼")
    summary = admin.say("王管理 0931-8812345")
    assert "城关区东岗社区应急安全志愿服务" in summary and "应急科普" in summary
    assert "09:00" in summary and "17:00" in summary and "招募人数：4" in summary
    # Any pre-filled line can be changed from the summary, like any flow.
    assert "活动名称" in admin.say("修改 1")
    assert "确认后认领需求并发布活动" in admin.say("防诈骗和安全用电进社区")

    done = admin.say("确认")
    assert f"已为「{SOCIETY}」认领需求 {need_no}" in done
    assert "李红梅 13812345678" in done  # the claiming team gets the contact

    need = need_row(db, need_no)
    assert need.status == CLAIMED and need.claimed_team_id == team.id
    assert need.claimed_at is not None and need.activity_id is not None
    with db.Session() as session:
        activity = session.get(Activity, need.activity_id)
        assert activity is not None
        assert activity.title == "防诈骗和安全用电进社区" and activity.status == RECRUITING
        assert (activity.team_id, activity.prefecture_code, activity.county_code) == (
            team.id,
            "620100",
            "620102",
        )
        assert activity.capacity == 4 and activity.service_field == "应急安全"
        assert activity.created_by_openid == admin.openid
        assert need.starts_on is not None
        assert clock.beijing_date(activity.starts_at) == need.starts_on
        assert need_no in activity.description
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.actor.like("队管:%"))
        ).all()
        assert "team_need_claim" in actions and "activity_create" in actions

    told = "\n".join(texts_to(fake_wechat, POSTER))
    assert f"已由「{SOCIETY}」认领" in told
    page = app.test_client().get(f"/n/{need_no}").get_data(as_text=True)
    assert "已认领" in page and SOCIETY in page
    assert f"回复「认领 {need_no}」" not in page  # no longer offered
    detail = make_user().say(f"需求 {need_no}")
    assert "已认领" in detail and f"认领队伍：{SOCIETY}" in detail
    assert need_no not in make_user().say("需求大厅")  # the hall lists open needs only
    assert "防诈骗和安全用电进社区" in make_user().say(f"活动{need.activity_id}")


def test_a_need_is_claimed_once_and_the_second_admin_is_told_by_whom(
    app: Flask, db: Database, make_user: User
) -> None:
    need_no = published_need(db)
    first, _ = admin_of_team(app, make_user, SOCIETY)
    second, _ = admin_of_team(app, make_user, "甘肃省医学会科技志愿服务队")
    claim_in_chat(first, need_no)
    claim_in_chat(second, need_no)
    assert "已为" in first.say("确认")
    refused = second.say("确认")
    assert f"需求 {need_no} 已由「{SOCIETY}」认领" in refused
    with db.Session() as session:
        assert len(session.scalars(select(Activity)).all()) == 1
    # The flow is over; claiming again is refused at once.
    assert f"已由「{SOCIETY}」认领" in second.say(f"认领 {need_no}")


def test_two_admins_confirming_at_the_same_moment_get_one_claim(
    app: Flask, db: Database, make_user: User
) -> None:
    need_no = published_need(db)
    admins = [
        admin_of_team(app, make_user, name)[0]
        for name in (SOCIETY, "甘肃省医学会科技志愿服务队", "甘肃省药学会科技志愿服务队")
    ]
    for admin in admins:
        claim_in_chat(admin, need_no)
    clients = [app.test_client() for _ in admins]
    users = [
        WeChatUser(client, admin.protocol, admin.openid)
        for client, admin in zip(clients, admins, strict=True)
    ]
    ready = threading.Barrier(len(users))
    replies: dict[str, str] = {}

    def confirm(user: WeChatUser) -> None:
        ready.wait(10)
        replies[user.openid] = user.say("确认")

    threads = [threading.Thread(target=confirm, args=(user,)) for user in users]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert len(replies) == len(users)
    won = [text for text in replies.values() if "已为" in text]
    lost = [text for text in replies.values() if f"需求 {need_no} 已由「" in text]
    assert len(won) == 1 and len(lost) == len(users) - 1, replies
    need = need_row(db, need_no)
    with db.Session() as session:
        activities = session.scalars(select(Activity)).all()
    assert [a.id for a in activities] == [need.activity_id]
    assert need.status == CLAIMED


def test_who_may_claim_what(app: Flask, db: Database, make_user: User) -> None:
    tianshui_need = published_need(db, prefecture_code="620500", county_code="620502")
    lanzhou_need = published_need(db)
    admin, _ = admin_of_team(
        app,
        make_user,
        "兰州市科技志愿服务队",
        kind=team_names.PREFECTURE,
        prefecture_code="620100",
    )
    listed = admin.say("可认领需求")
    assert lanzhou_need in listed and tianshui_need not in listed
    refused = admin.say(f"认领 {tianshui_need}")
    assert "不在「兰州市科技志愿服务队」的服务地区内" in refused
    assert "只有已审核通过" in make_user().say(f"认领 {lanzhou_need}")
    pending, _ = admin_of_team(app, make_user, "甘肃省化学会科技志愿服务队", approved=False)
    assert "只有已审核通过" in pending.say(f"认领 {lanzhou_need}")
    assert "没有找到" in admin.say("认领 XQ000000000000")
    # A need not yet published cannot be claimed, even by number.
    with db.Session.begin() as session:
        from services.needs import find_need

        need = find_need(session, lanzhou_need)
        assert need is not None
        need.status = "pending"
    assert "没有找到" in admin.say(f"认领 {lanzhou_need}")
    assert need_row(db, tianshui_need).status == PUBLISHED


def test_a_long_term_need_asks_for_the_times(app: Flask, db: Database, make_user: User) -> None:
    need_no = published_need(db, starts_on=None, ends_on=None)
    admin, _ = admin_of_team(app, make_user, SOCIETY)
    admin.say(f"认领 {need_no}")
    assert "开始时间" in admin.say("东岗街道社区服务中心二楼")
    day = clock.beijing_date() + timedelta(days=3)
    assert "结束时间" in admin.say(f"{day.month}月{day.day}日 9:00")
    assert "报名截止" in admin.say("11:30")  # a new start time asks for the deadline again
    assert "联系人和电话" in admin.say("跳过")
    summary = admin.say("王管理 0931-8812345")
    assert "11:30" in summary
    assert "已为" in admin.say("确认")
    assert need_row(db, need_no).status == CLAIMED
