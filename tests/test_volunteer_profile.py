"""志愿者 → 我的信息, 修改信息 and 注销."""

from __future__ import annotations

import json

import redis
from sqlalchemy import select

from config import Settings
from infra.db import Database
from models import Volunteer
from tests import volunteer_steps as steps
from tests.wechat_user import WeChatUser


def _only(db: Database) -> Volunteer:
    with db.Session() as session:
        return session.scalars(select(Volunteer)).one()


def test_profile_before_registering_points_to_the_menu(wechat_user: WeChatUser) -> None:
    assert "志愿者 → 注册" in wechat_user.click("VOLUNTEER_PROFILE")


def test_profile_is_masked(wechat_user: WeChatUser, db: Database) -> None:
    steps.register(wechat_user)
    reply = wechat_user.click("VOLUNTEER_PROFILE")
    assert _only(db).volunteer_no in reply
    assert "1101**********002X" in reply and steps.GOOD_ID not in reply
    assert "138****5678" in reply and "13812345678" not in reply
    assert "甘肃省兰州市城关区" in reply
    assert "修改信息" in reply and "注销" in reply


def test_edit_one_field_with_the_same_validation(wechat_user: WeChatUser, db: Database) -> None:
    steps.register(wechat_user)
    reply = wechat_user.say("修改信息")
    assert "身份证号不能修改" in reply
    assert "手机号" in wechat_user.say("手机号")
    assert "手机号" in wechat_user.say("12345")
    summary = wechat_user.say("13900001111")
    assert "139****1111" in summary and "请核对修改内容" in summary
    assert "修改成功" in wechat_user.say("确认")
    assert _only(db).phone == "13900001111"


def test_edit_region_asks_prefecture_then_county(wechat_user: WeChatUser, db: Database) -> None:
    steps.register(wechat_user)
    wechat_user.say("修改信息")
    assert "市州" in wechat_user.say("所在地区")
    assert "县区" in wechat_user.say("酒泉市")
    assert "请核对修改内容" in wechat_user.say("敦煌市")
    wechat_user.say("确认")
    volunteer = _only(db)
    assert (volunteer.prefecture_code, volunteer.county_code) == ("620900", "620982")


def test_edit_requires_registration(wechat_user: WeChatUser) -> None:
    assert "还没有注册" in wechat_user.say("修改信息")


def test_deregistration_deletes_personal_data(wechat_user: WeChatUser, db: Database) -> None:
    steps.register(wechat_user)
    number = _only(db).volunteer_no
    warning = wechat_user.say("注销")
    assert "确认注销" in warning and "无法恢复" in warning
    assert _only(db).name == "张三"  # nothing happens before confirmation
    assert "个人信息已删除" in wechat_user.say("确认注销")
    volunteer = _only(db)
    assert volunteer.volunteer_no == number
    assert volunteer.status == "deregistered"
    for column in (
        "openid",
        "name",
        "id_number_cipher",
        "id_number_hash",
        "id_number_masked",
        "phone",
        "birth_date",
        "gender",
        "skills",
        "employer",
    ):
        assert getattr(volunteer, column) is None, column
    assert "还没有注册" in wechat_user.click("VOLUNTEER_PROFILE")


def test_after_deregistration_the_same_person_can_register_again(
    wechat_user: WeChatUser, db: Database
) -> None:
    steps.register(wechat_user)
    wechat_user.say("注销")
    wechat_user.say("确认注销")
    assert "注册成功" in steps.register(wechat_user)


def _conversation_key(settings: Settings, user: WeChatUser) -> str:
    return settings.redis_prefix + f"conv:{user.openid}"


def test_bare_confirm_word_only_shows_the_warning(wechat_user: WeChatUser, db: Database) -> None:
    steps.register(wechat_user)
    reply = wechat_user.say("确认注销")
    assert "无法恢复" in reply and "确认注销" in reply
    assert _only(db).status == "active" and _only(db).name == "张三"


def test_deregistration_confirm_after_the_timeout_deletes_nothing(
    wechat_user: WeChatUser, db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    steps.register(wechat_user)
    wechat_user.say("注销")
    key = _conversation_key(settings, wechat_user)
    doc = json.loads(redis_client.get(key) or b"{}")
    assert doc["flow"] == "volunteer_deregister"
    doc["expires_at"] = 0  # idle past the timeout
    redis_client.set(key, json.dumps(doc))
    assert "超时" in wechat_user.say("确认注销")
    assert _only(db).status == "active"


def test_deregistration_cancelled_then_confirm_word_deletes_nothing(
    wechat_user: WeChatUser, db: Database
) -> None:
    steps.register(wechat_user)
    wechat_user.say("注销")
    assert "已取消「注销志愿者」" in wechat_user.say("取消")
    assert "无法恢复" in wechat_user.say("确认注销")  # the warning again, nothing deleted
    assert _only(db).status == "active"
    assert "已取消" in wechat_user.say("返回")  # going back from the warning leaves it
    assert _only(db).status == "active"


def test_deregistration_needs_the_exact_confirm_word(wechat_user: WeChatUser, db: Database) -> None:
    steps.register(wechat_user)
    wechat_user.say("注销")
    assert "请回复「确认注销」" in wechat_user.say("确认")
    assert "请回复「确认注销」" in wechat_user.say("好的")
    assert _only(db).status == "active"
    assert "个人信息已删除" in wechat_user.say("确认注销")
    assert _only(db).status == "deregistered"


def test_deregistration_drops_a_parked_form(
    wechat_user: WeChatUser, db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    steps.register(wechat_user)
    wechat_user.say("修改信息")
    wechat_user.say("手机号")
    wechat_user.click("TEAM_REGISTER")  # parks the edit
    assert "修改志愿者信息" in wechat_user.say("取消")  # the parked edit is still there
    assert "无法恢复" in wechat_user.say("注销")
    assert "个人信息已删除" in wechat_user.say("确认注销")
    assert redis_client.get(_conversation_key(settings, wechat_user)) is None
    assert "没有未完成" in wechat_user.say("继续")


def test_unregistered_user_deregistering_is_told_so(wechat_user: WeChatUser) -> None:
    assert "还没有注册" in wechat_user.say("注销")
    assert "还没有注册" in wechat_user.say("确认注销")
