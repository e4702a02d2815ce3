"""活动 → 需求对接 in chat: posting a need as a conversation, 我的需求, and the 需求大厅 (the
volunteer's region and skills first, paged with 下一页, contact masked)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

from sqlalchemy import select

from domain import clock
from infra.db import Database
from models.need import PENDING, Need
from models.volunteer import Volunteer
from services.needs import NeedDraft, find_need, post_need, publish_need
from services.operators import Scope
from tests.test_console_support import add_volunteers
from tests.wechat_user import WeChatUser

User = Callable[..., WeChatUser]
POSTER = "oNeedPoster00000000000000001"


def test_the_menu_offers_posting_and_the_hall(wechat_user: WeChatUser) -> None:
    reply = wechat_user.click("NEEDS_MATCH")
    assert "提交需求" in reply and "需求大厅" in reply and "即将上线" not in reply


def test_a_need_is_posted_as_a_conversation(make_user: User, db: Database) -> None:
    poster = make_user(POSTER)
    start = clock.beijing_date() + timedelta(days=3)
    end = start + timedelta(days=10)

    assert "需求方名称" in poster.say("提交需求")
    assert "需求方类型" in poster.say("城关区东岗街道东岗社区")
    assert "市州" in poster.say("社区")
    assert "县区" in poster.say("兰州市")
    assert "服务领域" in poster.say("城关区")
    assert "需要什么服务" in poster.say("应急安全")
    assert "日期" in poster.say("给社区老人讲防电信诈骗和用电安全")
    assert "格式" in poster.say("下个月")  # a hint, nothing lost
    assert "不能早于" in poster.say(f"{end} 至 {start}")
    assert "多少名志愿者" in poster.say(f"{start} 至 {end}")
    assert "数字" in poster.say("很多")
    assert "联系人姓名" in poster.say("3人")
    assert "手机号码" in poster.say("李红梅")
    assert "座机" in poster.say("0931-8812345")
    summary = poster.say("138 1234 5678")
    assert "城关区东岗街道东岗社区" in summary and "138****5678" in summary
    assert "13812345678" not in summary
    reply = poster.say("确认")
    assert "需求编号 XQ" in reply

    with db.Session() as session:
        need = session.scalars(select(Need)).one()
        assert need.status == PENDING and need.poster_openid == POSTER
        assert (need.prefecture_code, need.county_code) == ("620100", "620102")
        assert (need.starts_on, need.ends_on, need.people_needed) == (start, end, 3)
        assert need.contact_phone == "13812345678"
        need_no = need.need_no
    assert need_no in reply

    mine = poster.say("我的需求")
    assert need_no in mine and "待审核" in mine
    # Not yet published: others do not see it, the poster does.
    assert "尚未发布" in make_user("oSomeoneElse000000000000001").say(f"需求 {need_no}")
    assert "138****5678" in poster.say(f"需求 {need_no}")


def test_long_term_and_a_city_without_counties(make_user: User, db: Database) -> None:
    poster = make_user(POSTER)
    poster.say("提交需求")
    poster.say("酒钢三中")
    poster.say("学校")
    assert "服务领域" in poster.say("嘉峪关市")  # no 县区 to ask for
    poster.say("科学普及")
    poster.say("开一堂航天科普课")
    assert "多少名志愿者" in poster.say("长期")
    poster.say("2")
    assert "手机号码" in poster.say("王老师")
    summary = poster.say("13912345678")
    assert "长期" in summary and "嘉峪关市" in summary
    poster.say("取消")
    with db.Session() as session:
        assert session.scalars(select(Need)).first() is None


DRAFT = NeedDraft(
    requester_name="社区",
    requester_kind="社区",
    prefecture_code="620100",
    county_code="620102",
    field="科学普及",
    description="科普讲座",
    starts_on=None,
    ends_on=None,
    people_needed=2,
    contact_name="李红梅",
    contact_phone="13812345678",
)


def publish(db: Database, draft: NeedDraft) -> str:
    with db.Session.begin() as session:
        need = post_need(session, POSTER, draft)
        publish_need(need, Scope(), "sheng")
        return need.need_no


def test_the_hall_shows_the_volunteers_region_and_skills_first(
    make_user: User, db: Database
) -> None:
    far = publish(
        db,
        replace(
            DRAFT,
            requester_name="天水某村",
            prefecture_code="620500",
            county_code="620502",
            field="农业技术",
        ),
    )
    city_other_skill = publish(
        db, replace(DRAFT, requester_name="七里河某校", county_code="620103", field="农业技术")
    )
    city_skill = publish(db, replace(DRAFT, requester_name="七里河某社区", county_code="620103"))
    here = publish(db, replace(DRAFT, requester_name="城关某社区", field="医疗卫生"))
    with db.Session.begin() as session:
        post_need(session, POSTER, replace(DRAFT, requester_name="未审核的需求"))
    for i in range(3):
        publish(
            db,
            replace(
                DRAFT, requester_name=f"陇南需求{i}", prefecture_code="621200", county_code="621202"
            ),
        )

    (openid,) = add_volunteers(db, 1, county_code="620102", skills=("科学普及",))
    volunteer = make_user(openid)
    first = volunteer.say("需求大厅")
    order = [first.index(number) for number in (here, city_skill, city_other_skill)]
    assert order == sorted(order)
    assert "未审核的需求" not in first and "下一页" in first
    assert "13812345678" not in first
    second = volunteer.say("下一页")
    assert "第2页" in second and far in second and "下一页" not in second
    assert "没有更多" in volunteer.say("下一页")

    with db.Session() as session:
        shown = find_need(session, here)
        assert shown is not None
    detail = volunteer.say(f"需求{here}")
    assert "城关某社区" in detail and "李** 138****5678" in detail


def test_the_skills_consent_is_off_by_default_and_can_be_changed(
    make_user: User, db: Database
) -> None:
    assert "注册" in make_user("oNotAVolunteer0000000000001").say("技能展示")
    (openid,) = add_volunteers(db, 1)
    volunteer = make_user(openid)
    assert "未同意（默认）" in volunteer.say("技能展示")
    assert "已同意" in volunteer.say("同意展示技能")
    with db.Session() as session:
        assert session.scalars(select(Volunteer.skills_visible)).one() is True
    assert "已同意" in volunteer.say("技能展示")
    assert "已撤回" in volunteer.say("取消展示技能")
    with db.Session() as session:
        assert session.scalars(select(Volunteer.skills_visible)).one() is False
