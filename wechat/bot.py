"""Assembles the bot from parts the app built: conversation engine, route table, dispatcher.

The app passes its own services object; the framework hands it to handlers untouched.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import redis

from config import Settings
from wechat.client import WeChatAPI
from wechat.conversation import AnswerPolicy, ConversationEngine, Flow, MemoryStore, RedisStore
from wechat.conversation.engine import Cipher
from wechat.conversation.store import ConversationStore
from wechat.dispatcher import Dispatcher
from wechat.keys import WeChatKeys
from wechat.protocol import Protocol, parse_xml
from wechat.router import Router, RouteTable


@dataclass
class Bot:
    dispatcher: Dispatcher[Any]
    protocol: Protocol
    table: RouteTable
    conversations: ConversationEngine
    api: WeChatAPI

    @staticmethod
    def parse(xml: str) -> dict[str, str]:
        return parse_xml(xml)

    def close(self) -> None:
        """Stop the dispatch threads (the app closes the services it built)."""
        self.dispatcher.shutdown()


def build_bot(
    settings: Settings,
    routers: Sequence[Router],
    flows: Sequence[Flow],
    *,
    redis_client: redis.Redis,
    keys: WeChatKeys,
    api: WeChatAPI,
    cipher: Cipher,
    answers: AnswerPolicy,
    services: Any,
) -> Bot:
    store: ConversationStore = (
        MemoryStore() if settings.redis_is_embedded else RedisStore(redis_client, keys)
    )
    engine = ConversationEngine(
        store,
        list(flows),
        timeout_seconds=settings.conversation_timeout_seconds,
        cipher=cipher,
        answers=answers,
    )
    table = RouteTable(routers)
    dispatcher = Dispatcher(
        settings=settings,
        redis_client=redis_client,
        keys=keys,
        api=api,
        conversations=engine,
        table=table,
        services=services,
    )
    protocol = Protocol(
        settings.wechat_token, settings.wechat_app_id, settings.wechat_encoding_aes_key
    )
    return Bot(dispatcher=dispatcher, protocol=protocol, table=table, conversations=engine, api=api)
