"""One person flooding messages must not hold every dispatch thread."""

from __future__ import annotations

import threading
from collections.abc import Callable

from flask import Flask

from tests.test_dispatch import Recorder, recording_router
from tests.test_webhook import install_bot
from tests.wechat_user import WeChatUser
from wechat.dispatcher import BUSY, MAX_WAITING_PER_USER, UNAVAILABLE


def test_messages_beyond_the_waiting_line_get_busy_and_the_rest_are_handled(
    app: Flask, make_user: Callable[..., WeChatUser]
) -> None:
    recorder = Recorder(delay=0.4)
    install_bot(app, recording_router(recorder))
    user = make_user()
    total = MAX_WAITING_PER_USER + 3
    barrier = threading.Barrier(total)
    replies: list[str] = []

    def send() -> None:
        barrier.wait()
        replies.append(user.send_text("计数").text)

    threads = [threading.Thread(target=send) for _ in range(total)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    busy = replies.count(BUSY)
    # One runs, up to MAX_WAITING_PER_USER wait their turn, the rest are told to slow down.
    assert busy >= total - 1 - MAX_WAITING_PER_USER
    assert recorder.runs == total - busy
    assert recorder.most_active == 1
    assert sorted(r for r in replies if r != BUSY) == sorted(
        f"计数#{n}" for n in range(1, recorder.runs + 1)
    )


def test_other_users_are_not_slowed_by_a_flood(
    app: Flask, make_user: Callable[..., WeChatUser]
) -> None:
    recorder = Recorder(delay=0.3)
    install_bot(app, recording_router(recorder))
    flooder, other = make_user(), make_user()
    threads = [
        threading.Thread(target=lambda: flooder.send_text("计数"))
        for _ in range(MAX_WAITING_PER_USER + 4)
    ]
    for thread in threads:
        thread.start()
    reply = other.say("帮助")
    for thread in threads:
        thread.join()
    assert "使用说明" in reply


def test_redis_down_gets_a_polite_reply_and_nothing_is_processed(
    app: Flask, make_user: Callable[..., WeChatUser]
) -> None:
    recorder = Recorder()
    install_bot(app, recording_router(recorder), redis_url="redis://127.0.0.1:1/0")
    answer = make_user().send_text("计数")
    assert answer.status == 200
    assert answer.text == UNAVAILABLE
    assert recorder.runs == 0
