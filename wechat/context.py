"""What a handler receives: the message, and the services it may use."""

from __future__ import annotations

import re
from contextvars import ContextVar
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import redis

from config import Settings
from domain.pii import PiiCipher
from infra.db import Database
from infra.redis import Keys
from wechat.messages import Inbound

if TYPE_CHECKING:
    from wechat.client import WeChatAPI
    from wechat.conversation.engine import ConversationEngine


@dataclass
class Services:
    settings: Settings
    db: Database
    redis: redis.Redis
    keys: Keys
    api: WeChatAPI
    conversations: ConversationEngine
    pii: PiiCipher


@dataclass
class Context:
    msg: Inbound
    services: Services
    route: str = ""
    match: re.Match[str] | None = None
    # Lines the dispatcher appends after the handler's reply (e.g. "your form is kept").
    notes: list[str] = field(default_factory=list)
    # Set by the conversation engine when this message started or resumed a flow.
    started_flow: str | None = None

    @property
    def openid(self) -> str:
        return self.msg.openid

    @property
    def text(self) -> str:
        return self.msg.text

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def settings(self) -> Settings:
        return self.services.settings

    @property
    def conversations(self) -> ConversationEngine:
        return self.services.conversations

    @property
    def api(self) -> WeChatAPI:
        return self.services.api


_CURRENT: ContextVar[Context] = ContextVar("wechat_context")


def current_context() -> Context:
    """The message being handled on this thread: for step parsers and option lists that must
    look something up (is this team name taken?) while receiving only the answers."""
    try:
        return _CURRENT.get()
    except LookupError:
        raise RuntimeError("no message is being handled on this thread") from None


def bind_context(ctx: Context) -> None:
    _CURRENT.set(ctx)
