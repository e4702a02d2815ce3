"""Assembles the bot: services, conversation engine, route table and dispatcher."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from config import Settings
from domain.pii import PiiCipher
from infra.db import Database
from infra.redis import Keys, connect
from wechat.client import WeChatAPI
from wechat.context import Services
from wechat.conversation import ConversationEngine, Flow, MemoryStore, RedisStore
from wechat.conversation.store import ConversationStore
from wechat.dispatcher import Dispatcher
from wechat.protocol import Protocol, parse_xml
from wechat.router import Router, RouteTable


@dataclass
class Bot:
    services: Services
    dispatcher: Dispatcher
    protocol: Protocol
    table: RouteTable

    @staticmethod
    def parse(xml: str) -> dict[str, str]:
        return parse_xml(xml)

    def close(self) -> None:
        self.dispatcher.shutdown()
        self.services.db.dispose()
        self.services.api.close()
        self.services.redis.close()


def build_bot(settings: Settings, routers: Sequence[Router], flows: Sequence[Flow]) -> Bot:
    db = Database(settings)
    redis_client = connect(settings)
    keys = Keys(settings.redis_prefix)
    store: ConversationStore = (
        MemoryStore() if settings.redis_is_embedded else RedisStore(redis_client, keys)
    )
    pii = PiiCipher(settings.pii_encryption_key)
    engine = ConversationEngine(
        store, list(flows), timeout_seconds=settings.conversation_timeout_seconds, cipher=pii
    )
    services = Services(
        settings=settings,
        db=db,
        redis=redis_client,
        keys=keys,
        api=WeChatAPI(settings, redis_client, keys),
        conversations=engine,
        pii=pii,
    )
    table = RouteTable(routers)
    protocol = Protocol(
        settings.wechat_token, settings.wechat_app_id, settings.wechat_encoding_aes_key
    )
    return Bot(
        services=services, dispatcher=Dispatcher(services, table), protocol=protocol, table=table
    )
