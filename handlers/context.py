"""The context every handler receives: the framework's Context carrying this app's Services,
so `ctx.services.db`, `.redis`, `.keys`, `.api`, `.settings` and `.pii` are typed."""

from __future__ import annotations

from extensions import Services
from wechat.context import Context as WeChatContext

Context = WeChatContext[Services]

__all__ = ["Context"]
