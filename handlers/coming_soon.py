"""Menu keys whose feature is not built yet: they answer 「功能即将上线」, never silence.

Remove a key from here when its handler lands; `flask menu check` keeps the two in step.
"""

from __future__ import annotations

from handlers.context import Context
from wechat.dispatcher import COMING_SOON
from wechat.router import Router

router = Router("coming_soon")

KEYS: tuple[str, ...] = ()


@router.click(*KEYS)
def coming_soon(ctx: Context) -> str:
    return COMING_SOON
