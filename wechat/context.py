"""What a handler receives: the message, the framework's parts, and the app's own services.

`services` is opaque to the framework: the app decides what it holds (database, Redis, ...) and
names the type once, e.g. `Context = wechat.context.Context[Services]` in its handlers, so
handlers get typed access while this package knows nothing above it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Generic, TypeVar

from wechat.messages import Inbound

if TYPE_CHECKING:
    from wechat.client import WeChatAPI
    from wechat.conversation.engine import ConversationEngine

S = TypeVar("S")


@dataclass
class Context(Generic[S]):
    msg: Inbound
    services: S
    conversations: ConversationEngine
    api: WeChatAPI
    route: str = ""
    match: re.Match[str] | None = None
    # Lines the dispatcher appends after the handler's reply (e.g. "your form is kept").
    notes: list[str] = field(default_factory=list)
    # Set by the conversation engine when this message started or resumed a flow.
    started_flow: str | None = None
    # The user's first message within the dispatcher's seen window (an hour): for bookkeeping
    # observers that write at most once an hour per user.
    first_message_this_hour: bool = False
    # What observers learnt about the sender for this message's handler (keys the app's own),
    # e.g. that no record of theirs exists: the handler need not ask the database again.
    known: dict[str, object] = field(default_factory=dict)

    @property
    def openid(self) -> str:
        return self.msg.openid

    @property
    def text(self) -> str:
        return self.msg.text
