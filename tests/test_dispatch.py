"""The dispatcher: retries deduplicated, one message at a time per user, the 5-second rule, logs."""

from __future__ import annotations

import itertools
import logging
import re
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import pytest
from flask import Flask

from config import Settings
from extensions import close_extensions
from handlers.basics import GUIDE
from handlers.context import Context
from sandbox.fake_wechat import FakeWeChatState
from tests.test_webhook import MODE_SETTINGS, account_in_mode, captured_logs, formatted, install_bot
from tests.wechat_user import ACCOUNT, Answer, WeChatUser
from wechat.protocol import Mode
from wechat.router import Router, instant

MakeUser = Callable[..., WeChatUser]
_msg_ids = itertools.count(int(time.time()) * 1_000_000)
# An event type no handler of ours claims.
TEST_EVENT = "kjzy_test_event"


@dataclass
class Recorder:
    """Counts handler runs and the most that ran at once."""

    delay: float = 0.0
    runs: int = 0
    active: int = 0
    most_active: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def run(self, label: str) -> str:
        with self.lock:
            self.runs += 1
            number = self.runs
            self.active += 1
            self.most_active = max(self.most_active, self.active)
        try:
            time.sleep(self.delay)
        finally:
            with self.lock:
                self.active -= 1
        return f"{label}#{number}"


def recording_router(recorder: Recorder) -> Router:
    router = Router("test_recorder")

    @router.keyword("计数")
    def count(ctx: Context) -> str:
        return recorder.run("计数")

    @router.click("TEST_A", "TEST_B")
    def click(ctx: Context) -> str:
        return recorder.run(ctx.msg.event_key)

    @router.event(TEST_EVENT)
    def event(ctx: Context) -> str:
        return recorder.run("event")

    return router


def text_fields(openid: str, content: str = "计数", msg_id: int | None = None) -> dict[str, Any]:
    return {
        "ToUserName": ACCOUNT,
        "FromUserName": openid,
        "CreateTime": int(time.time()),
        "MsgType": "text",
        "Content": content,
        "MsgId": msg_id if msg_id is not None else next(_msg_ids),
    }


def click_fields(openid: str, key: str, create_time: int) -> dict[str, Any]:
    return {
        "ToUserName": ACCOUNT,
        "FromUserName": openid,
        "CreateTime": create_time,
        "MsgType": "event",
        "Event": "CLICK",
        "EventKey": key,
    }


def user_on(app: Flask, openid: str, mode: Mode = Mode.SAFE) -> WeChatUser:
    """A user with its own test client (Flask's client is not shared between threads)."""
    return WeChatUser(app.test_client(), app.extensions["bot"].protocol, openid, mode)


def post_together(
    posts: list[tuple[WeChatUser, dict[str, Any]]], stagger: float = 0.0
) -> list[Answer]:
    def send(index: int) -> Answer:
        time.sleep(index * stagger)
        user, fields = posts[index]
        return user.post(fields)

    with ThreadPoolExecutor(len(posts)) as pool:
        return list(pool.map(send, range(len(posts))))


@pytest.fixture
def recorder(app: Flask) -> Recorder:
    rec = Recorder()
    install_bot(app, recording_router(rec))
    return rec


@pytest.fixture
def second_app(app: Flask, recorder: Recorder) -> Iterator[Flask]:
    """Another instance of the service on the same settings, so the same Redis and database."""
    from app import create_app

    settings: Settings = app.extensions["services"].settings
    other = create_app(settings)
    install_bot(other, recording_router(recorder))
    yield other
    close_extensions(other)


# -- dedup -----------------------------------------------------------------------------------


@pytest.mark.parametrize("mode", list(Mode))
def test_repeated_msg_id_gets_the_first_answer_and_runs_once(
    app: Flask, recorder: Recorder, mode: Mode
) -> None:
    install_bot(app, recording_router(recorder), **MODE_SETTINGS[mode])
    user = user_on(app, "oDedupUser000000000000001", mode)
    fields = text_fields(user.openid)
    first = user.post(fields)
    again = user.post(fields)
    assert first.text == "计数#1"
    assert again.text == "计数#1"
    assert recorder.runs == 1
    # A new MsgId is a new message.
    assert user.post(text_fields(user.openid)).text == "计数#2"


def test_third_retry_also_gets_the_first_answer(app: Flask, recorder: Recorder) -> None:
    user = user_on(app, "oDedupUser000000000000002")
    fields = text_fields(user.openid)
    answers = [user.post(fields).text for _ in range(3)]
    assert answers == ["计数#1"] * 3
    assert recorder.runs == 1


def test_repeated_event_is_deduplicated_by_sender_time_event_and_key(
    app: Flask, recorder: Recorder
) -> None:
    user = user_on(app, "oDedupUser000000000000003")
    fields = click_fields(user.openid, "TEST_A", 1_700_000_000)
    assert user.post(fields).text == "TEST_A#1"
    assert user.post(fields).text == "TEST_A#1"
    assert recorder.runs == 1


def test_different_events_in_the_same_second_are_all_processed(
    app: Flask, recorder: Recorder
) -> None:
    user = user_on(app, "oDedupUser000000000000004")
    other = user_on(app, "oDedupUser000000000000005")
    second = 1_700_000_100
    answers = [
        user.post(click_fields(user.openid, "TEST_A", second)).text,
        user.post(click_fields(user.openid, "TEST_B", second)).text,  # same event, other key
        user.post({**click_fields(user.openid, "", second), "Event": TEST_EVENT}).text,
        other.post(click_fields(other.openid, "TEST_A", second)).text,  # other sender
    ]
    assert answers == ["TEST_A#1", "TEST_B#2", "event#3", "TEST_A#4"]
    assert recorder.runs == 4


def test_repeat_while_the_first_is_still_running_gets_the_first_answer(
    app: Flask, recorder: Recorder
) -> None:
    recorder.delay = 0.5
    openid = "oDedupUser000000000000006"
    fields = text_fields(openid)
    answers = post_together([(user_on(app, openid), fields)] * 3, stagger=0.1)
    assert [a.text for a in answers] == ["计数#1"] * 3
    assert recorder.runs == 1


def test_repeat_on_another_instance_gets_the_first_answer(
    app: Flask, second_app: Flask, recorder: Recorder
) -> None:
    recorder.delay = 0.5
    openid = "oDedupUser000000000000007"
    fields = text_fields(openid)
    answers = post_together(
        [(user_on(app, openid), fields), (user_on(second_app, openid), fields)], stagger=0.1
    )
    assert [a.text for a in answers] == ["计数#1", "计数#1"]
    assert recorder.runs == 1
    # Finished, then retried on the other instance: still the first answer.
    assert user_on(second_app, openid).post(fields).text == "计数#1"
    assert recorder.runs == 1


# -- one message at a time per user ---------------------------------------------------------


def test_one_user_never_runs_two_handlers_at_once(app: Flask, recorder: Recorder) -> None:
    recorder.delay = 0.15
    openid = "oLockUser0000000000000001"
    answers = post_together([(user_on(app, openid), text_fields(openid)) for _ in range(4)])
    assert sorted(a.text for a in answers) == [f"计数#{n}" for n in range(1, 5)]
    assert recorder.most_active == 1


def test_one_user_on_two_instances_never_runs_two_handlers_at_once(
    app: Flask, second_app: Flask, recorder: Recorder
) -> None:
    recorder.delay = 0.15
    openid = "oLockUser0000000000000002"
    posts = [(user_on(a, openid), text_fields(openid)) for a in (app, second_app, app, second_app)]
    answers = post_together(posts)
    assert sorted(a.text for a in answers) == [f"计数#{n}" for n in range(1, 5)]
    assert recorder.most_active == 1


def test_different_users_do_run_at_once(app: Flask, recorder: Recorder) -> None:
    """The control for the two tests above: the recorder does see overlap when it happens."""
    recorder.delay = 0.3
    posts = [(user_on(app, f"oLockUser00000000000001{n}"), {}) for n in range(4)]
    answers = post_together([(user, text_fields(user.openid)) for user, _ in posts])
    assert all(a.text.startswith("计数#") for a in answers)
    assert recorder.most_active > 1


# -- the 5-second rule ------------------------------------------------------------------------


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.02)


def test_slow_handler_answers_success_and_the_reply_follows_by_the_api(
    app: Flask, fake_wechat: FakeWeChatState
) -> None:
    recorder = Recorder(delay=3.0)
    install_bot(app, recording_router(recorder), reply_budget_seconds=0.3)
    user = user_on(app, "oSlowUser0000000000000001")
    fields = text_fields(user.openid)

    started = time.monotonic()
    answer = user.post(fields)
    elapsed = time.monotonic() - started
    assert answer.status == 200 and answer.body == b"success"
    # Answered once the budget ran out, while the handler was still running (no speed claim:
    # a loaded machine may answer later than the budget, but never only after the handler).
    assert 0.3 <= elapsed < recorder.delay
    # The handler has not finished (on a loaded machine it may not even have started yet).
    assert recorder.runs - recorder.active == 0
    assert fake_wechat.messages(user.openid) == []

    # WeChat's retry while the handler still runs: also success, nothing extra.
    retry = user.post(fields)
    assert retry.body == b"success"

    wait_for(lambda: len(fake_wechat.messages(user.openid)) == 1)
    [message] = fake_wechat.messages(user.openid)
    assert message["type"] == "text" and message["content"] == "计数#1"

    # A retry after delivery: success, and not sent twice.
    assert user.post(fields).body == b"success"
    time.sleep(0.2)
    assert len(fake_wechat.messages(user.openid)) == 1
    assert recorder.runs == 1
    assert len(fake_wechat.calls_to("/cgi-bin/message/custom/send")) == 1


def test_fast_handler_within_the_budget_replies_directly(
    app: Flask, fake_wechat: FakeWeChatState
) -> None:
    # A generous budget: the handler takes 0.05 s; a loaded CI machine must not make it "late".
    recorder = Recorder(delay=0.05)
    install_bot(app, recording_router(recorder), reply_budget_seconds=3.0)
    user = user_on(app, "oSlowUser0000000000000002")
    assert user.post(text_fields(user.openid)).text == "计数#1"
    assert fake_wechat.calls_to("/cgi-bin/message/custom/send") == []


def test_slow_handler_that_fails_sends_the_polite_message_later(
    app: Flask, fake_wechat: FakeWeChatState
) -> None:
    router = Router("test_slow_failure")

    @router.keyword("慢错误")
    def slow_failure(ctx: Context) -> str:
        time.sleep(0.6)
        raise RuntimeError("late failure")

    install_bot(app, router, reply_budget_seconds=0.2)
    user = user_on(app, "oSlowUser0000000000000003")
    assert user.post(text_fields(user.openid, "慢错误")).body == b"success"
    wait_for(lambda: len(fake_wechat.messages(user.openid)) == 1)
    assert "系统开小差" in fake_wechat.messages(user.openid)[0]["content"]


# -- logging -------------------------------------------------------------------------------------

LINE = re.compile(
    r"^message openid=(?P<openid>\S+) type=(?P<type>\S+) route=(?P<route>\S+) "
    r"status=(?P<status>\S+) reply=\S+ ms=(?P<ms>\d+\.\d)$"
)


def message_lines(records: list[logging.LogRecord]) -> list[dict[str, str]]:
    lines = []
    for record in records:
        if record.name == "wechat.dispatch" and record.getMessage().startswith("message "):
            match = LINE.match(record.getMessage())
            assert match, record.getMessage()
            lines.append(match.groupdict())
    return lines


def test_one_log_line_per_message(make_user: MakeUser) -> None:
    user = make_user(mode=Mode.SAFE)
    with captured_logs() as records:
        user.say("帮助")
        user.click("ABOUT")
        user.subscribe()
        duplicate = user.send_text("你好")
        user.post({**user.base("text"), "Content": "你好", "MsgId": user.last_msg_id})  # a retry
    lines = message_lines(records)
    assert [(line["openid"], line["type"], line["route"], line["status"]) for line in lines] == [
        (user.openid, "text", "basics.help_word", "ok"),
        (user.openid, "event:click", "basics.about", "ok"),
        (user.openid, "event:subscribe", "basics.subscribe", "ok"),
        (user.openid, "text", "basics.fallback", "ok"),
        (user.openid, "text", "-", "duplicate"),
    ]
    assert duplicate.text.endswith(GUIDE)
    assert all(float(line["ms"]) >= 0 for line in lines)


ID_NUMBER = "11010519491231002X"
MOBILE = "13812345678"


def test_id_and_phone_numbers_never_reach_the_logs(app: Flask, make_user: MakeUser) -> None:
    account_in_mode(app, Mode.COMPATIBLE)
    user = make_user(mode=Mode.COMPATIBLE)
    with captured_logs() as records:
        # Outside any conversation: the fallback.
        user.say(f"我的身份证号是{ID_NUMBER}，电话{MOBILE}")
        user.say(ID_NUMBER)
        user.say(MOBILE)
        # Inside the registration flow, where they are parsed and stored.
        user.click("VOLUNTEER_REGISTER")
        user.say("同意")
        user.say("张三")
        user.say(ID_NUMBER.lower())
        user.say(MOBILE)
        user.say("帮助")
    text = formatted(records)
    assert len(message_lines(records)) == 9
    for secret in (ID_NUMBER, ID_NUMBER.lower(), MOBILE, "张三"):
        assert secret not in text


def test_late_reply_is_logged_without_content(app: Flask, fake_wechat: FakeWeChatState) -> None:
    recorder = Recorder(delay=0.8)
    install_bot(app, recording_router(recorder), reply_budget_seconds=0.2)
    user = user_on(app, "oSlowUser0000000000000004")
    with captured_logs() as records:
        started = time.monotonic()
        user.post(text_fields(user.openid))
        assert message_lines(records) == []  # not yet: the route is not known yet
        wait_for(lambda: len(message_lines(records)) == 1)
        elapsed_ms = (time.monotonic() - started) * 1000
    assert len(fake_wechat.messages(user.openid)) == 1
    [line] = message_lines(records)
    assert line["status"] == "late" and line["openid"] == user.openid
    assert line["route"] == "test_recorder.count" and line["type"] == "text"
    assert 800 <= float(line["ms"]) <= elapsed_ms
    assert "计数" not in formatted(records)


def test_instant_routes_answer_on_the_request_thread_and_others_on_a_dispatch_thread(
    app: Flask, make_user: MakeUser
) -> None:
    threads: dict[str, str] = {}
    router = Router("test_threads")

    @router.keyword("快答")
    @instant
    def quick(ctx: Context) -> str:
        threads["quick"] = threading.current_thread().name
        return "快"

    @router.keyword("慢答")
    def slow(ctx: Context) -> str:
        threads["slow"] = threading.current_thread().name
        return "慢"

    install_bot(app, router)
    user = make_user()
    assert user.say("帮助") == GUIDE  # the first message of the hour: its observer writes
    assert user.say("快答") == "快"
    assert user.say("慢答") == "慢"
    assert not threads["quick"].startswith("dispatch")
    assert threads["slow"].startswith("dispatch")
