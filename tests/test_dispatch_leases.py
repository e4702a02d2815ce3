"""Leases on a message's dedup marker and user lock: a retry takes over a message whose process
died (no answer lost), while a live process keeps its message however long its handler runs."""

from __future__ import annotations

import threading
import time

import redis
from flask import Flask

from tests import volunteer_steps as steps
from tests.test_dispatch import Recorder, recorder, text_fields, user_on  # noqa: F401
from wechat.leases import LEASE_SECONDS


def dead_process_claimed(app: Flask, openid: str, msg_id: int) -> None:
    """What a process that claimed the message and then died (SIGKILL) leaves in Redis: the
    pending marker and the user's lock, with leases nobody renews."""
    dispatcher = app.extensions["bot"].dispatcher
    client: redis.Redis = dispatcher.redis
    lease_ms = int(LEASE_SECONDS * 1000)
    client.set(dispatcher.keys.dedup(openid, f"msg:{msg_id}"), b"pending", px=lease_ms)
    client.set(dispatcher.keys.user_lock(openid), "token-of-the-dead", px=lease_ms)


def test_a_retry_takes_over_a_message_whose_process_died(
    app: Flask,
    recorder: Recorder,  # noqa: F811
) -> None:
    user = user_on(app, "o_lease_takeover")
    dead_process_claimed(app, user.openid, 7_000_001)

    started = time.monotonic()
    answer = user.post(text_fields(user.openid, msg_id=7_000_001))  # WeChat's retry
    seconds = time.monotonic() - started

    assert answer.text == "计数#1"  # handled here, once, and answered in time
    assert recorder.runs == 1
    assert LEASE_SECONDS - 0.5 < seconds < app.extensions["settings"].reply_budget_seconds
    # A further retry gets the same answer without running the handler again.
    assert user.post(text_fields(user.openid, msg_id=7_000_001)).text == "计数#1"
    assert recorder.runs == 1


def test_a_slow_handler_keeps_its_message_and_its_user_past_the_lease(
    app: Flask,
    recorder: Recorder,  # noqa: F811
) -> None:
    recorder.delay = LEASE_SECONDS + 1.0  # longer than a lease, within the reply budget
    first, retry, next_one = (user_on(app, "o_lease_slow") for _ in range(3))
    answers: dict[str, str] = {}

    def send(name: str, user: object, msg_id: int, after: float) -> None:
        time.sleep(after)
        answers[name] = user.post(text_fields("o_lease_slow", msg_id=msg_id)).text  # type: ignore[attr-defined]

    threads = [
        threading.Thread(target=send, args=("first", first, 7_000_101, 0.0)),
        # After the first lease would have run out unrenewed:
        threading.Thread(target=send, args=("retry", retry, 7_000_101, LEASE_SECONDS + 0.5)),
        threading.Thread(target=send, args=("next", next_one, 7_000_102, LEASE_SECONDS + 0.5)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)

    assert answers["first"] == "计数#1"
    assert answers["retry"] == "计数#1"  # waited for the live handler's answer: not run twice
    assert recorder.most_active == 1  # the user's next message waited for the lock
    assert recorder.runs == 2
    dispatcher = app.extensions["bot"].dispatcher
    ttl = dispatcher.redis.ttl(dispatcher.keys.dedup("o_lease_slow", "msg:7000101"))
    assert ttl > 50  # the answer is kept for retries for the dedup TTL, not a lease


def test_an_answer_saved_by_a_process_that_died_is_not_applied_twice(app: Flask) -> None:
    user = user_on(app, "o_lease_saved_then_died")
    assert "同意" in user.click("VOLUNTEER_REGISTER")
    assert "姓名" in user.say("同意")
    answer = user.post(text_fields(user.openid, content="张三", msg_id=7_000_201))
    assert "身份证号" in answer.text
    # The process handled it and saved the conversation, then died before storing the answer
    # for retries: the dedup marker's lease runs out, and WeChat's retry arrives.
    dispatcher = app.extensions["bot"].dispatcher
    dispatcher.redis.delete(dispatcher.keys.dedup(user.openid, "msg:7000201"))

    again = user.post(text_fields(user.openid, content="张三", msg_id=7_000_201))

    assert again.text == answer.text  # the same question again, not 张三 taken as an ID number
    assert "手机号" in user.say(steps.GOOD_ID)
