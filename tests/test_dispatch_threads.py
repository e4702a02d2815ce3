"""Which thread answers a conversation's message: questions with plain parsers on the request
thread (nothing to wait for, so no hand-off), a parser that looks something up and the 确认
that saves on a dispatch thread (the reply budget applies to them)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from flask import Flask

from extensions import build_services, close_extensions, services_of
from handlers import ANSWERS, FLOWS, ROUTERS
from handlers.context import Context
from tests.wechat_user import WeChatUser
from wechat.bot import build_bot
from wechat.conversation import Flow
from wechat.conversation.flow import Data, Step
from wechat.router import Router


def test_plain_questions_on_the_request_thread_lookups_and_saving_on_a_dispatch_thread(
    app: Flask, make_user: Callable[..., WeChatUser]
) -> None:
    threads: dict[str, list[str]] = {}

    def note(what: str) -> None:
        threads.setdefault(what, []).append(threading.current_thread().name)

    def plain(text: str, data: Data) -> str:
        note("plain")
        return text

    def looked_up(text: str, data: Data, ctx: Any) -> str:
        note("looked_up")
        return text

    def save(ctx: Any, data: Data) -> str:
        note("save")
        return f"已保存：{data['a']}、{data['b']}、{data['c']}"

    flow = Flow(
        name="test_threads_flow",
        title="测试",
        steps=[
            Step("a", "甲", "请输入甲", parse=plain),
            Step("b", "乙", "请输入乙", parse_in_context=looked_up),
            Step("c", "丙", "请输入丙", parse=plain),
        ],
        on_confirm=save,
    )
    router = Router("test_threads")

    @router.keyword("开始测试")
    def begin(ctx: Context) -> Any:
        return ctx.conversations.start(ctx, flow.name)

    settings = services_of(app).settings
    close_extensions(app)
    services = build_services(settings)
    app.extensions["services"] = services
    app.extensions["bot"] = build_bot(
        settings,
        [router, *ROUTERS],
        [*FLOWS, flow],
        redis_client=services.redis,
        keys=services.keys,
        api=services.api,
        cipher=services.pii,
        answers=ANSWERS,
        services=services,
    )

    user = make_user()
    user.say("帮助")  # the first message of the hour (its observer writes the follower row)
    assert "请输入甲" in user.say("开始测试")
    assert "请输入乙" in user.say("一")
    assert "请输入丙" in user.say("二")
    assert "请输入乙" in user.say("返回")
    assert "请输入丙" in user.say("二")
    assert "请核对" in user.say("三")
    assert user.say("确认") == "已保存：一、二、三"
    assert user.say("确认") != "已保存：一、二、三"  # the conversation ended with the save

    assert len(threads["plain"]) == 2 and not any(
        name.startswith("dispatch") for name in threads["plain"]
    )
    assert len(threads["looked_up"]) == 2 and all(
        name.startswith("dispatch") for name in threads["looked_up"]
    )
    assert [name.startswith("dispatch") for name in threads["save"]] == [True]
