"""A team admin publishes an activity in chat (组织 → 我的队伍 → 发布活动), as a conversation."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from sqlalchemy import select

from config import Settings
from domain import clock
from infra.db import Database
from models.activity import RECRUITING, Activity
from tests.activity_support import activity_settings
from tests.test_console_support import add_team, add_volunteers
from tests.wechat_user import WeChatUser

User = Callable[..., WeChatUser]
ADMIN = "oTeamAdmin000000000000000001"


@pytest.fixture
def settings(migrated: str, fake_wechat_url: str) -> Settings:
    return activity_settings(migrated, fake_wechat_url)


def day_after_tomorrow() -> str:
    day = clock.beijing_date() + timedelta(days=2)
    return f"{day.month}月{day.day}日"


def test_team_admin_publishes_and_volunteers_sign_up(make_user: User, db: Database) -> None:
    team = add_team(
        db,
        "兰州市农学会科技志愿服务队",
        prefecture_code="620100",
        county_code="620102",
        registrant=ADMIN,
    )
    admin = make_user(ADMIN)
    day = day_after_tomorrow()

    assert "活动名称" in admin.say("发布活动")
    assert "活动类型" in admin.say("冬季果树修剪培训")
    assert "服务领域" in admin.say("2")
    assert "活动地点" in admin.say("农业技术")
    assert "开始时间" in admin.say("城关区青白石街道果园")
    assert "格式" in admin.say("后天上午")  # a hint, and nothing is lost
    assert "结束时间" in admin.say(f"{day} 9:00")
    assert "应晚于开始时间" in admin.say("8:00")
    assert "招募人数" in admin.say("12:00")
    assert "报名截止" in admin.say("20人")
    assert "专业领域" in admin.say("跳过")
    assert "联系人" in admin.say("跳过")
    assert "活动简介" in admin.say("张老师 13912345678")
    summary = admin.say("讲解冬季修剪要点，现场示范。")
    assert "冬季果树修剪培训" in summary and " 09:00" in summary and " 12:00" in summary
    assert "20" in summary and "确认" in summary
    reply = admin.say("确认")
    assert "已发布" in reply and "报名" in reply

    with db.Session() as session:
        activity = session.scalars(select(Activity)).one()
        assert activity.status == RECRUITING and activity.team_id == team
        assert activity.capacity == 20 and activity.service_field == "农业技术"
        assert activity.created_by_openid == ADMIN and activity.county_code == "620102"
        assert clock.show(activity.starts_at, "%H:%M") == "09:00"  # typed in Beijing time
        assert (activity.ends_at - activity.starts_at) == timedelta(hours=3)
        activity_id = activity.id
    assert f"活动编号 {activity_id}" in reply

    (openid,) = add_volunteers(db, 1)
    assert "报名成功" in make_user(openid).say(f"报名{activity_id}")


def test_only_team_admins_publish(make_user: User, db: Database) -> None:
    (openid,) = add_volunteers(db, 1)
    assert "只有已审核通过的科技志愿服务队的管理员" in make_user(openid).say("发布活动")
    add_team(db, "兰州市农学会科技志愿服务队", approved=False, registrant=ADMIN)
    assert "只有已审核通过" in make_user(ADMIN).say("发布活动")


def test_cancel_keeps_nothing(make_user: User, db: Database) -> None:
    add_team(db, "兰州市农学会科技志愿服务队", registrant=ADMIN)
    admin = make_user(ADMIN)
    admin.say("发布活动")
    admin.say("冬季果树修剪培训")
    admin.say("取消")
    with db.Session() as session:
        assert session.scalars(select(Activity)).all() == []


def test_an_admin_of_several_teams_publishes_for_the_chosen_one(
    make_user: User, db: Database
) -> None:
    add_team(db, "兰州市农学会科技志愿服务队", registrant=ADMIN)
    add_team(db, "兰州市医学会科技志愿服务队", registrant=ADMIN)
    admin = make_user(ADMIN)
    assert "选择队伍" in admin.click("TEAM_MINE")
    assert "选择队伍 序号" in admin.say("发布活动")
    assert "「发布活动」为本队发布志愿服务活动" in admin.say("选择队伍 2")
    assert "活动名称" in admin.say("发布活动")
