"""Answer sequences for the volunteer registration, shared by transcript tests."""

from __future__ import annotations

from tests.wechat_user import WeChatUser

GOOD_ID = "11010519491231002X"
OTHER_ID = "110105194912310029"  # different sequence, valid check digit? computed in tests

# (step name, answer, a word the *next* prompt contains)
ANSWERS: list[tuple[str, str, str]] = [
    ("consent", "同意", "姓名"),
    ("name", "张三", "身份证号"),
    ("id_number", GOOD_ID, "手机号"),
    ("phone", "13812345678", "学历"),
    ("education", "3", "市州"),
    ("prefecture_code", "兰州市", "县区"),
    ("county_code", "城关区", "工作单位"),
    ("employer", "跳过", "职业"),
    ("occupation", "1", "专业领域"),
    ("skills", "1 3", "专长"),
    ("specialty", "果树栽培", "服务的时间"),
    ("service_times", "周末", "请核对"),
]


def start(user: WeChatUser) -> str:
    return user.click("VOLUNTEER_REGISTER")


def answer_until(user: WeChatUser, stop_before: str | None = None, **overrides: str) -> str:
    """Start the registration and answer every step up to (not including) `stop_before`."""
    reply = start(user)
    for name, answer, expect in ANSWERS:
        if name == stop_before:
            return reply
        reply = user.say(overrides.get(name, answer))
        assert expect in reply, (name, reply)
    return reply


def register(user: WeChatUser, **overrides: str) -> str:
    answer_until(user, **overrides)
    return user.say("确认")
