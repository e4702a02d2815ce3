"""Steps 3-7 of a message's dispatch (see wechat.dispatcher): observers, global words, the
active conversation, the route table and the fallback. A part of the Dispatcher."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Generic, TypeVar

from redis.exceptions import RedisError

from wechat.client import WeChatAPI
from wechat.context import Context
from wechat.conversation.engine import ConversationEngine
from wechat.messages import Inbound, Reply, as_reply
from wechat.router import Route, RouteTable

log = logging.getLogger("wechat.dispatch")

SORRY = "抱歉，系统开小差了，请稍后再试。如果问题持续，请回复「帮助」联系我们。"
COMING_SOON = "该功能即将上线，敬请期待。"

S = TypeVar("S")


@dataclass(frozen=True)
class Outcome:
    reply: Reply | None
    route: str
    status: str  # "ok", "duplicate", "late", "busy", "error", "unavailable", "replayed"


class Routing(Generic[S]):
    """What the dispatcher routes with (set by Dispatcher.__init__)."""

    table: RouteTable
    conversations: ConversationEngine
    services: S
    api: WeChatAPI

    def _route(self, msg: Inbound, first_this_hour: bool = False) -> Outcome:
        ctx = Context(
            msg=msg,
            services=self.services,
            conversations=self.conversations,
            api=self.api,
            first_message_this_hour=first_this_hour,
        )
        for observer in self.table.observers:
            try:
                observer(ctx)
            except RedisError:
                raise
            except Exception:
                log.exception("observer failed openid=%s kind=%s", msg.openid, msg.kind)
        try:
            route, reply = self._choose_and_run(ctx)
        except RedisError:
            raise
        except Exception:
            log.exception(
                "handler failed openid=%s kind=%s route=%s", msg.openid, msg.kind, ctx.route
            )
            return Outcome(Reply(text=SORRY), ctx.route, "error")
        if reply is not None and ctx.notes and not reply.articles:
            reply = Reply(text="\n\n".join([reply.text, *ctx.notes]))
        elif reply is None and ctx.notes:
            reply = Reply(text="\n\n".join(ctx.notes))
        return Outcome(reply, route, "ok")

    def _choose_and_run(self, ctx: Context[S]) -> tuple[str, Reply | None]:
        msg = ctx.msg
        engine = self.conversations

        if msg.is_text:
            route = self.table.global_route(msg.text)
            if route is not None:
                return self._run(route, ctx)

        state = engine.load(msg.openid)
        if state is not None and state.expired:
            engine.expire(msg.openid)
            if msg.is_text:
                ctx.route = "conversation.timeout"
                return ctx.route, engine.timeout_reply(state)
            ctx.notes.append(engine.timeout_reply(state).text)
        elif state is not None:
            if msg.is_text:
                ctx.route = f"conversation.{state.flow}"
                return ctx.route, engine.handle(ctx, state)
            if msg.msg_type != "event":
                ctx.route = f"conversation.{state.flow}.non_text"
                return ctx.route, engine.non_text_reply(state)
            if msg.is_click:
                route, match = self.table.resolve(msg.msg_type, msg.event, msg.event_key, "")
                if route is None:
                    return self._coming_soon(ctx)
                return self._run(route, ctx, conversation=state.flow)

        route, match = self.table.resolve(msg.msg_type, msg.event, msg.event_key, msg.text)
        if route is None:
            if msg.is_click:
                return self._coming_soon(ctx)
            ctx.route = "unhandled"
            return ctx.route, None
        ctx.match = match
        return self._run(route, ctx)

    def _run(
        self, route: Route, ctx: Context[S], *, conversation: str | None = None
    ) -> tuple[str, Reply | None]:
        ctx.route = route.name
        reply = as_reply(route.handler(ctx))
        if conversation is not None:
            note = self.conversations.kept_note(ctx, conversation)
            if note:
                ctx.notes.append(note)
        return route.name, reply

    def _coming_soon(self, ctx: Context[S]) -> tuple[str, Reply | None]:
        ctx.route = "coming_soon"
        return ctx.route, Reply(text=COMING_SOON)
