"""After the claim (services.needs_followup.sweep, the worker's job): the need is 已完成 when its
activity ends or is marked 已结束 and the poster is asked for feedback (customer-service message
inside 48 hours, else the template), which they give in a short flow kept with the need and shown
in the console; a cancelled activity opens the need again; needs unclaimed for 14 days are
flagged once to the region's operators. Every sweep is idempotent."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from config import Settings
from domain import clock
from extensions import services_of
from infra.db import Database
from models.activity import CANCELLED, FINISHED, Activity
from models.need import CLAIMED, DONE, PUBLISHED, Need
from models.operator import AuditEntry
from sandbox.fake_wechat import TEMPLATE_NEED_PROGRESS, FakeWeChatState
from services import needs_claim, needs_followup, team_console
from services.needs import find_need
from tests.activity_support import last_seen_long_ago, templates, texts
from tests.conftest import base_settings
from tests.needs_claim_support import POSTER, User, admin_of_team, need_row, published_need
from tests.test_console_support import add_operator, login

SOCIETY = "甘肃省农学会科技志愿服务队"


@pytest.fixture
def settings(migrated: str, fake_wechat_url: str) -> Settings:
    return base_settings(
        migrated,
        wechat_api_base_url=fake_wechat_url,
        need_progress_template_id=TEMPLATE_NEED_PROGRESS,
        public_base_url="https://kjzy.example.cn",
    )


def claimed(app: Flask, db: Database, make_user: User, **change: object) -> tuple[str, int]:
    """A need claimed by a team (its activity published); the need number and activity id."""
    need_no = published_need(db, **change)
    admin, team = admin_of_team(app, make_user, SOCIETY)
    with db.Session() as session:
        who = team_console.admin_user(session, admin.openid)
        need = find_need(session, need_no)
        assert who is not None and need is not None
        values = needs_claim.console_values(need, team, who)
    with db.Session.begin() as session:
        result = needs_claim.claim_need(session, need.id, team, who, values, publish=True)
    return need_no, result.activity_id


def move_activity(db: Database, activity_id: int, **values: object) -> None:
    with db.Session.begin() as session:
        session.execute(update(Activity).where(Activity.id == activity_id).values(**values))


def sweep(app: Flask) -> needs_followup.Swept:
    services = services_of(app)
    return needs_followup.sweep(services.api, services.db, services.settings)


def test_an_ended_activity_completes_the_need_and_the_poster_rates_the_service(
    app: Flask, db: Database, make_user: User, fake_wechat: FakeWeChatState
) -> None:
    poster = make_user(POSTER)
    poster.say("我的需求")  # inside the 48-hour window: a customer-service message
    need_no, activity_id = claimed(app, db, make_user)
    assert sweep(app).done == []  # the activity has not ended
    now = clock.utcnow()
    move_activity(
        db, activity_id, starts_at=now - timedelta(hours=3), ends_at=now - timedelta(minutes=1)
    )

    assert sweep(app).done == [need_no]
    need = need_row(db, need_no)
    assert need.status == DONE and need.done_at is not None
    asked = [t for t in texts(fake_wechat, POSTER) if "回复「评价」" in t]
    assert len(asked) == 1 and need_no in asked[0] and SOCIETY in asked[0]
    assert sweep(app).done == []  # idempotent: nobody is asked twice
    assert len([t for t in texts(fake_wechat, POSTER) if "回复「评价」" in t]) == 1

    assert f"回复「评价 {need_no}」" in poster.say("我的需求")
    start = poster.say("评价")
    assert f"【服务评价】需求 {need_no}" in start and "满意度" in start
    assert "1-5" in poster.say("十分")  # not an option: asked again
    assert "意见或建议" in poster.say("4")
    summary = poster.say("讲得很实用希望下次再来")
    assert "4分（满意）" in summary and "讲得很实用" in summary
    assert "当前：4分（满意）" in poster.say("修改 1")
    assert "意见建议" in poster.say("5")  # edited from the summary, back to the summary
    assert "感谢您对需求" in poster.say("确认")

    need = need_row(db, need_no)
    assert (need.satisfaction, need.feedback) == (5, "讲得很实用希望下次再来")
    assert need.feedback_at is not None
    assert "没有待评价" in poster.say("评价")
    assert "已经评价过了（5分）" in poster.say(f"评价 {need_no}")
    assert "已评价 5分" in poster.say("我的需求")

    add_operator(db, "oplanzhou", "region:620100")
    client = app.test_client()
    login(client, "oplanzhou")
    page = client.get(f"/console/needs/{need.id}").get_data(as_text=True)
    assert "5 分（非常满意）" in page and "讲得很实用希望下次再来" in page and SOCIETY in page
    assert "满意度 5 分" in client.get("/console/needs").get_data(as_text=True)


def test_an_activity_marked_finished_completes_the_need_by_template_outside_48_hours(
    app: Flask, db: Database, make_user: User, fake_wechat: FakeWeChatState
) -> None:
    poster = make_user(POSTER)
    poster.say("我的需求")
    last_seen_long_ago(db, POSTER)
    need_no, activity_id = claimed(app, db, make_user)
    move_activity(db, activity_id, status=FINISHED)  # 标记结束 before its end time
    assert sweep(app).done == [need_no]
    (sent,) = templates(fake_wechat, POSTER)
    assert sent["template_id"] == TEMPLATE_NEED_PROGRESS
    assert sent["data"]["character_string2"] == need_no
    assert sent["data"]["phrase3"] == "已完成"
    assert sent["url"] == f"https://kjzy.example.cn/n/{need_no}"
    # Whenever the poster replies, the rating starts; with the score typed along, at once.
    assert "意见或建议" in poster.say(f"评价 {need_no} 3分")
    assert "一般" in poster.say("跳过")
    poster.say("确认")
    need = need_row(db, need_no)
    assert (need.satisfaction, need.feedback) == (3, None)


def test_a_cancelled_activity_opens_the_need_again(
    app: Flask, db: Database, make_user: User, fake_wechat: FakeWeChatState
) -> None:
    make_user(POSTER).say("我的需求")
    need_no, activity_id = claimed(app, db, make_user)
    move_activity(db, activity_id, status=CANCELLED)
    assert sweep(app).reopened == [need_no]
    need = need_row(db, need_no)
    assert need.status == PUBLISHED and need.claimed_team_id is None and need.activity_id is None
    assert any("重新开放" in t and SOCIETY in t for t in texts(fake_wechat, POSTER))
    assert sweep(app).reopened == []
    assert need_no in make_user().say("需求大厅")


def test_needs_unclaimed_for_14_days_are_flagged_once_to_the_regions_operators(
    app: Flask, db: Database, make_user: User, fake_wechat: FakeWeChatState
) -> None:
    old = published_need(db)  # 兰州市城关区
    fresh = published_need(db)
    far = published_need(db, prefecture_code="620500", county_code="620502")  # 天水: no operator
    with db.Session.begin() as session:
        for need_no, days in ((old, 15), (fresh, 13), (far, 20)):
            session.execute(
                update(Need)
                .where(Need.need_no == need_no)
                .values(published_at=clock.utcnow() - timedelta(days=days))
            )
    operators = {
        "county": "oOpCounty000000000000000001",
        "city": "oOpCity00000000000000000001",
        "other": "oOpOther0000000000000000001",
        "sheng": "oOpSheng0000000000000000001",
    }
    add_operator(db, "opcounty", "region:620102", openid=operators["county"])
    add_operator(db, "opcity", "region:620100", openid=operators["city"])
    add_operator(db, "opother", "region:620200", openid=operators["other"])
    add_operator(db, "opsheng", "province", openid=operators["sheng"])
    add_operator(db, "opunbound", "region:620100")  # no openid: sees it in the console only
    make_user(operators["county"]).say("你好")  # inside the 48-hour window: a text

    swept = sweep(app)
    assert sorted(swept.flagged) == sorted([old, far])
    county_texts = [t for t in texts(fake_wechat, operators["county"]) if old in t]
    assert len(county_texts) == 1 and "满14天" in county_texts[0]
    (city,) = templates(fake_wechat, operators["city"])
    assert city["data"]["phrase3"] == "超期未认领" and city["data"]["character_string2"] == old
    assert templates(fake_wechat, operators["other"]) == []
    # 天水 has no regional operator bound to WeChat: the province hears of it.
    (province,) = templates(fake_wechat, operators["sheng"])
    assert province["data"]["character_string2"] == far

    assert sweep(app).flagged == []  # once per need
    assert len(templates(fake_wechat, operators["city"])) == 1
    with db.Session() as session:
        flags = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "need_stale_flag")
        ).all()
        assert sorted(f.summary.split()[1] for f in flags) == sorted([old, far])
        assert need_row(db, fresh).stale_flagged_at is None
    assert need_row(db, old).status == PUBLISHED  # still open to claim


def test_only_the_poster_rates_and_only_a_completed_need(
    app: Flask, db: Database, make_user: User
) -> None:
    need_no, _activity = claimed(app, db, make_user)
    assert "没有找到您提交的这个需求" in make_user().say(f"评价 {need_no}")
    assert "服务完成后才能评价" in make_user(POSTER).say(f"评价 {need_no}")
    assert need_row(db, need_no).status == CLAIMED
