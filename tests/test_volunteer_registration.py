"""Transcripts of the volunteer registration (志愿者 → 注册) through the real webhook."""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import date

import pytest
import redis
from flask import Flask
from sqlalchemy import select

from config import Settings
from domain.idcard import compute_check_digit
from infra.db import Database
from models import Volunteer
from tests import volunteer_steps as steps
from tests.test_webhook import account_in_mode
from tests.wechat_user import WeChatUser
from wechat.protocol import Mode

SECOND_ID = "620102199001010011"


def _id_for_birth(birth: date) -> str:
    first17 = f"620102{birth:%Y%m%d}001"
    return first17 + compute_check_digit(first17)


def _volunteers(db: Database) -> list[Volunteer]:
    with db.Session() as session:
        return list(session.scalars(select(Volunteer)))


def test_happy_path_saves_one_volunteer_with_encrypted_id(
    wechat_user: WeChatUser, db: Database, settings: Settings
) -> None:
    summary = steps.answer_until(wechat_user)
    assert "1101**********002X" in summary
    assert steps.GOOD_ID not in summary
    assert "138****5678" in summary
    assert "甘肃省兰州市" in summary and "城关区" in summary
    done = wechat_user.say("确认")
    assert "注册成功" in done

    [volunteer] = _volunteers(db)
    assert volunteer.volunteer_no in done
    assert volunteer.volunteer_no.startswith("KJ") and len(volunteer.volunteer_no) == 12
    assert volunteer.name == "张三"
    assert volunteer.gender == "女"
    assert volunteer.birth_date == date(1949, 12, 31)
    assert volunteer.id_number_masked == "1101**********002X"
    assert volunteer.id_number_cipher and steps.GOOD_ID not in volunteer.id_number_cipher
    assert volunteer.id_number_hash and steps.GOOD_ID not in volunteer.id_number_hash
    assert volunteer.education == "本科"
    assert (volunteer.prefecture_code, volunteer.county_code) == ("620100", "620102")
    assert volunteer.employer is None
    assert volunteer.occupation == "科研人员"
    assert volunteer.skills == ["科学普及", "医疗卫生"]
    assert volunteer.specialty == "果树栽培"
    assert volunteer.service_times == ["周末"]
    assert volunteer.consented_at is not None


@pytest.mark.parametrize("mode", [Mode.PLAIN, Mode.COMPATIBLE, Mode.SAFE])
def test_registration_works_in_every_mode(
    app: Flask, make_user: Callable[..., WeChatUser], mode: Mode, db: Database
) -> None:
    account_in_mode(app, mode)
    assert "注册成功" in steps.register(make_user(mode=mode))
    assert len(_volunteers(db)) == 1


@pytest.mark.parametrize(
    ("step", "bad", "hint"),
    [
        ("consent", "也许吧", "选项"),
        ("name", "张3", "数字"),
        ("name", "张", "2"),
        ("name", "😀😀", "汉字"),
        ("name", "张" * 5000, "20"),
        ("name", "John Smith", "汉字"),
        ("id_number", "11010519491231002Y", "18位"),
        ("id_number", "110105194912310021", "校验位"),
        ("id_number", "110105491231002", "15位"),
        ("id_number", "11010519491331002X", "出生日期"),
        ("id_number", "12345", "18位"),
        ("phone", "12812345678", "手机号"),
        ("phone", "1381234567", "手机号"),
        ("education", "9", "1"),
        ("prefecture_code", "北京", "选项"),
        ("prefecture_code", "99", "1"),
        ("county_code", "朝阳区", "选项"),
        ("occupation", "宇航员", "选项"),
        ("skills", "1 42", "1"),
        ("specialty", "x" * 300, "200"),
        ("service_times", "", "数字"),
    ],
)
def test_invalid_answer_gets_hint_and_flow_continues(
    wechat_user: WeChatUser, step: str, bad: str, hint: str
) -> None:
    prompt = steps.answer_until(wechat_user, stop_before=step)
    reply = wechat_user.say(bad)
    assert hint in reply, reply
    assert "Traceback" not in reply
    good = dict((name, answer) for name, answer, _ in steps.ANSWERS)[step]
    expect = next(e for name, _, e in steps.ANSWERS if name == step)
    assert expect in wechat_user.say(good), f"could not go on after a bad {step}: {prompt}"


def test_under_18_is_refused_kindly_and_nothing_is_kept(
    wechat_user: WeChatUser, db: Database, redis_client: redis.Redis, settings: Settings
) -> None:
    today = date.today()
    minor = _id_for_birth(date(today.year - 17, 1, 1))
    steps.answer_until(wechat_user, stop_before="id_number")
    reply = wechat_user.say(minor)
    assert "18周岁" in reply and "未被保存" in reply
    assert redis_client.get(settings.redis_prefix + f"conv:{wechat_user.openid}") is None
    assert _volunteers(db) == []
    assert "没能理解" in wechat_user.say("张三")


def test_exactly_18_today_is_accepted(wechat_user: WeChatUser) -> None:
    today = date.today()
    birthday = date(today.year - 18, today.month, min(today.day, 28))
    steps.answer_until(wechat_user, stop_before="id_number")
    assert "手机号" in wechat_user.say(_id_for_birth(birthday))


def test_below_high_school_is_refused_and_nothing_is_kept(
    wechat_user: WeChatUser, db: Database
) -> None:
    steps.answer_until(wechat_user, stop_before="education")
    reply = wechat_user.say("初中")
    assert "高中" in reply
    assert wechat_user.say("继续").startswith("当前没有未完成的填写")
    assert _volunteers(db) == []


def test_refusing_consent_ends_the_flow(wechat_user: WeChatUser) -> None:
    steps.start(wechat_user)
    reply = wechat_user.say("不同意")
    assert "未保存任何信息" in reply
    assert "没能理解" in wechat_user.say("张三")


def test_back_restores_the_previous_question_and_answer(wechat_user: WeChatUser) -> None:
    steps.answer_until(wechat_user, stop_before="education")
    reply = wechat_user.say("返回")
    assert "手机号" in reply and "138****5678" in reply
    assert "学历" in wechat_user.say("13900001111")
    reply = wechat_user.say("上一步")
    assert "139****1111" in reply


def test_back_at_first_question_says_so(wechat_user: WeChatUser) -> None:
    steps.start(wechat_user)
    assert "已经是第一个问题" in wechat_user.say("返回")


def test_edit_from_summary_returns_to_summary(wechat_user: WeChatUser, db: Database) -> None:
    summary = steps.answer_until(wechat_user)
    assert "1. 姓名：张三" in summary
    reply = wechat_user.say("修改 1")
    assert "当前：张三" in reply and "姓名" in reply
    summary = wechat_user.say("李四")
    assert "1. 姓名：李四" in summary and "请核对" in summary
    assert "没有第 99 项" in wechat_user.say("修改 99")
    assert "注册成功" in wechat_user.say("确认")
    assert _volunteers(db)[0].name == "李四"


def test_editing_the_prefecture_asks_the_county_again(wechat_user: WeChatUser) -> None:
    summary = steps.answer_until(wechat_user)
    lines = summary.splitlines()
    index = next(line.split(".")[0] for line in lines if "所在市州" in line)
    assert "市州" in wechat_user.say(f"修改 {index}")
    assert "县区" in wechat_user.say("天水市")
    summary = wechat_user.say("麦积区")
    assert "甘肃省天水市" in summary and "麦积区" in summary


def test_outside_gansu_and_jiayuguan_skip_the_county(wechat_user: WeChatUser) -> None:
    steps.answer_until(wechat_user, stop_before="prefecture_code")
    assert "工作单位" in wechat_user.say("嘉峪关市")
    assert "市州" in wechat_user.say("返回")
    assert "工作单位" in wechat_user.say("省外")


def test_cancel_keeps_nothing(wechat_user: WeChatUser, db: Database) -> None:
    steps.answer_until(wechat_user, stop_before="education")
    assert "已取消" in wechat_user.say("取消")
    assert wechat_user.say("继续").startswith("当前没有未完成的填写")
    assert "个人信息保护说明" in steps.start(wechat_user)
    assert _volunteers(db) == []


def test_restart_clears_the_answers(wechat_user: WeChatUser) -> None:
    steps.answer_until(wechat_user, stop_before="education")
    reply = wechat_user.say("重新开始")
    assert "从头开始" in reply and "个人信息保护说明" in reply


def test_help_in_a_flow_explains_the_current_question(wechat_user: WeChatUser) -> None:
    steps.answer_until(wechat_user, stop_before="id_number")
    reply = wechat_user.say("帮助")
    assert "身份证号" in reply and "返回" in reply
    assert "手机号" in wechat_user.say(steps.GOOD_ID)


def test_menu_tap_mid_flow_answers_and_keeps_the_form(wechat_user: WeChatUser) -> None:
    steps.answer_until(wechat_user, stop_before="education")
    reply = wechat_user.click("VOLUNTEER_PROFILE")
    assert "还没有注册志愿者" in reply
    assert "尚未完成" in reply and "继续" in reply
    reply = wechat_user.click("HELP")
    assert "使用说明" in reply and "继续" in reply
    assert "学历" in wechat_user.say("继续")
    assert "市州" in wechat_user.say("3")


def test_tapping_register_again_continues_where_it_was(wechat_user: WeChatUser) -> None:
    steps.answer_until(wechat_user, stop_before="education")
    reply = steps.start(wechat_user)
    assert "尚未完成" in reply and "学历" in reply


def test_voice_and_image_mid_flow_get_a_hint_and_the_flow_stays(wechat_user: WeChatUser) -> None:
    steps.answer_until(wechat_user, stop_before="phone")
    reply = wechat_user.voice()
    assert "文字" in reply and "手机号" in reply
    assert "文字" in wechat_user.image()
    assert "学历" in wechat_user.say("13812345678")


def test_timeout_ends_the_conversation_with_a_clear_message(
    wechat_user: WeChatUser, redis_client: redis.Redis, settings: Settings
) -> None:
    steps.answer_until(wechat_user, stop_before="phone")
    key = settings.redis_prefix + f"conv:{wechat_user.openid}"
    doc = json.loads(redis_client.get(key) or b"{}")
    doc["expires_at"] = 0  # idle past the timeout
    redis_client.set(key, json.dumps(doc))
    assert wechat_user.say("13812345678") == "上次填写已超时，请重新点击菜单开始。"
    assert redis_client.get(key) is None
    assert "个人信息保护说明" in steps.start(wechat_user)


def test_coming_back_within_the_window_continues(wechat_user: WeChatUser) -> None:
    steps.answer_until(wechat_user, stop_before="phone")
    assert "手机号" in wechat_user.say("继续")


def test_unknown_flow_in_state_restarts_politely(
    wechat_user: WeChatUser, redis_client: redis.Redis, settings: Settings
) -> None:
    key = settings.redis_prefix + f"conv:{wechat_user.openid}"
    redis_client.set(
        key, json.dumps({"flow": "retired_flow", "data": {}, "expires_at": 9_999_999_999})
    )
    assert "重新点击菜单" in wechat_user.say("你好")
    assert redis_client.get(key) is None


def test_duplicate_delivery_advances_once(wechat_user: WeChatUser) -> None:
    steps.answer_until(wechat_user, stop_before="name")
    first = wechat_user.send_text("张三")
    again = wechat_user.send_text("张三", msg_id=wechat_user.last_msg_id)
    assert first.text == again.text and "身份证号" in first.text
    assert "手机号" in wechat_user.say(steps.GOOD_ID)


def test_two_messages_at_the_same_moment_are_processed_one_after_the_other(
    wechat_user: WeChatUser,
) -> None:
    steps.answer_until(wechat_user, stop_before="name")
    replies: list[str] = []
    barrier = threading.Barrier(2)

    def send(text: str) -> None:
        barrier.wait()
        replies.append(wechat_user.send_text(text).text)

    threads = [threading.Thread(target=send, args=(name,)) for name in ("张三", "李四")]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    # One name was taken as the name; the other arrived at the ID question and got its hint.
    assert sum("请输入您的18位身份证号" in r for r in replies) == 1
    assert sum("18位" in r and "请输入您的18位身份证号" not in r for r in replies) == 1


def test_same_id_number_from_another_account_is_refused_without_revealing_it(
    make_user: Callable[..., WeChatUser], db: Database
) -> None:
    steps.register(make_user())
    other = make_user()
    steps.answer_until(other, name="李四")
    reply = other.say("确认")
    assert "不能重复注册" in reply
    assert "张三" not in reply and "KJ" not in reply
    assert "身份证号" in reply
    assert "手机号" not in reply or "请输入" in reply
    assert "请核对" in other.say(SECOND_ID)
    assert "注册成功" in other.say("确认")
    assert len(_volunteers(db)) == 2


def test_database_down_at_confirm_keeps_the_answers(
    app: Flask, wechat_user: WeChatUser, db: Database, settings: Settings
) -> None:
    steps.answer_until(wechat_user)
    services = app.extensions["services"]
    healthy = services.db
    services.db = Database(
        settings.with_overrides(database_url="mysql+pymysql://root@127.0.0.1:1/none")
    )
    try:
        reply = wechat_user.say("确认")
    finally:
        services.db.dispose()
        services.db = healthy
    assert "再次回复「确认」" in reply
    assert "注册成功" in wechat_user.say("确认")
    assert len(_volunteers(db)) == 1


def test_registered_user_tapping_register_sees_the_profile(wechat_user: WeChatUser) -> None:
    steps.register(wechat_user)
    reply = steps.start(wechat_user)
    assert "无需重复注册" in reply and "1101**********002X" in reply


def test_id_number_never_reaches_logs_or_state(
    wechat_user: WeChatUser,
    caplog: pytest.LogCaptureFixture,
    redis_client: redis.Redis,
    settings: Settings,
) -> None:
    caplog.set_level(logging.DEBUG)
    steps.answer_until(wechat_user)
    state = redis_client.get(settings.redis_prefix + f"conv:{wechat_user.openid}") or b""
    assert steps.GOOD_ID.encode() not in state
    assert b"13812345678" in state  # the phone is not sensitive data, the ID number is
    wechat_user.say("确认")
    assert steps.GOOD_ID not in caplog.text
    assert "13812345678" not in caplog.text


def test_education_menu_leaves_out_below_high_school_and_explains_why(
    wechat_user: WeChatUser, db: Database
) -> None:
    prompt = steps.answer_until(wechat_user, stop_before="education")
    assert "初中及以下学历暂不能注册" in prompt
    numbered = [line for line in prompt.splitlines() if line[:1].isdigit()]
    assert numbered[0] == "1. 高中/中专/中职" and numbered[-1] == "5. 博士研究生"
    assert not any("初中" in line for line in numbered)
    assert "高中及以上" in wechat_user.say("初中及以下")
    assert _volunteers(db) == []
    prompt = steps.answer_until(wechat_user, stop_before="education")
    assert "高中及以上" in wechat_user.say("小学")
    assert _volunteers(db) == []
