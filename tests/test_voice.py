"""Speaking instead of typing: a voice message with WeChat's speech recognition is read as the
text it says (without the 。 WeChat adds), numbered choices understand 「三」, 「第三个」, 「三和五」."""

from __future__ import annotations

import logging

from sqlalchemy import select

from handlers.basics import GUIDE
from infra.db import Database
from models import Volunteer
from tests import volunteer_steps as steps
from tests.test_webhook import captured_logs
from tests.wechat_user import WeChatUser


def _volunteers(db: Database) -> list[Volunteer]:
    with db.Session() as session:
        return list(session.scalars(select(Volunteer)))


def test_a_whole_registration_by_voice(wechat_user: WeChatUser, db: Database) -> None:
    user = wechat_user
    steps.start(user)
    assert "姓名" in user.speak("同意。")
    assert "身份证号" in user.speak("张三。")
    assert "手机号" in user.speak(f"{steps.GOOD_ID}。")
    assert "学历" in user.speak("13812345678。")
    assert "市州" in user.speak("第三个。")  # 本科
    assert "县区" in user.speak("兰州市。")
    assert "工作单位" in user.speak("城关区。")
    assert "职业" in user.speak("跳过。")
    assert "专业领域" in user.speak("一。")  # 科研人员
    assert "专长" in user.speak("一和三。")  # 科学普及、医疗卫生
    assert "服务的时间" in user.speak("果树栽培！")
    summary = user.speak("三。")  # 周末
    assert "请核对" in summary and "1. 姓名：张三" in summary

    reply = user.speak("修改一。")
    assert "当前：张三" in reply
    assert "1. 姓名：李四" in user.speak("李四。")
    assert "注册成功" in user.speak("确认。")

    [volunteer] = _volunteers(db)
    assert volunteer.name == "李四"
    assert volunteer.education == "本科"
    assert volunteer.occupation == "科研人员"
    assert volunteer.skills == ["科学普及", "医疗卫生"]
    assert volunteer.specialty == "果树栽培"
    assert volunteer.service_times == ["周末"]


def test_spoken_commands_work_like_typed_ones(wechat_user: WeChatUser) -> None:
    user = wechat_user
    assert user.speak("帮助。") == GUIDE
    steps.start(user)
    user.speak("同意。")
    assert "已返回上一步" in user.speak("返回。")
    assert "已取消" in user.speak("取消！")


def test_several_choices_by_voice_and_an_edit_by_its_chinese_number(
    wechat_user: WeChatUser,
) -> None:
    summary = steps.answer_until(wechat_user, skills="第一个和第三个")
    skills_line = next(line for line in summary.splitlines() if "专业领域" in line)
    assert "科学普及、医疗卫生" in skills_line
    number = skills_line.split(".")[0]
    spoken_number = "零一二三四五六七八九十"[int(number)] if int(number) <= 10 else number
    assert "当前：科学普及、医疗卫生" in wechat_user.speak(f"修改第{spoken_number}项。")
    summary = wechat_user.speak("二、五和十。")
    assert "农业技术、生态环保、其他" in summary


def test_a_choice_beyond_the_list_says_so(wechat_user: WeChatUser) -> None:
    steps.answer_until(wechat_user, stop_before="service_times")
    reply = wechat_user.speak("第九个。")
    assert "没有第9项" in reply
    assert "请核对" in wechat_user.speak("周末。")


def test_a_voice_message_without_recognition_still_gets_the_hint(wechat_user: WeChatUser) -> None:
    assert "文字" in wechat_user.send_voice(None).text
    steps.answer_until(wechat_user, stop_before="phone")
    for nothing_said in (None, "", "。"):
        reply = wechat_user.send_voice(nothing_said).text
        assert "文字" in reply and "手机号" in reply
    assert "学历" in wechat_user.speak("13812345678。")


def test_spoken_messages_are_logged_as_voice_without_their_words(
    wechat_user: WeChatUser,
) -> None:
    with captured_logs() as records:
        wechat_user.speak("我的电话是13812345678。")
    lines = [r.getMessage() for r in records if r.name == "wechat.dispatch"]
    assert len(lines) == 1 and "type=voice:text" in lines[0]
    assert not any("13812345678" in r.getMessage() for r in records if r.levelno >= logging.DEBUG)
