"""下一页 / 上一页 for any list shown in chat.

A handler that shows page n of a list calls `remember(ctx, "list-name", n)`; 「下一页」 then asks
the list's renderer (registered with `@pages("list-name")`) for page n + 1. What was shown last
is kept in Redis per user for 30 minutes, so the words follow whichever list the user saw last.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable

from handlers.context import Context
from wechat.messages import Reply
from wechat.router import Router

log = logging.getLogger(__name__)
router = Router("paging")

Render = Callable[[Context, int], "Reply | str"]
_RENDERERS: dict[str, Render] = {}
TTL_SECONDS = 1800
NOTHING_TO_PAGE = "没有可以翻页的列表。请先点击菜单查看，例如「活动 → 近期活动」。"


def pages(name: str) -> Callable[[Render], Render]:
    """Register `render(ctx, page)` (page counts from 1) as the list called `name`."""

    def decorator(render: Render) -> Render:
        if name in _RENDERERS:
            raise ValueError(f"two renderers for the list {name!r}")
        _RENDERERS[name] = render
        return render

    return decorator


def _key(ctx: Context) -> str:
    return f"{ctx.services.keys.prefix}page:{ctx.openid}"


def remember(ctx: Context, name: str, page: int) -> None:
    ctx.services.redis.set(_key(ctx), json.dumps([name, page]), ex=TTL_SECONDS)


def _shown(ctx: Context) -> tuple[str, int] | None:
    raw = ctx.services.redis.get(_key(ctx))
    if raw is None:
        return None
    try:
        name, page = json.loads(raw)
        return str(name), int(page)
    except (ValueError, TypeError):
        log.warning("unreadable page state for a user; ignored")
        return None


def _turn(ctx: Context, step: int) -> Reply | str:
    shown = _shown(ctx)
    if shown is None or shown[0] not in _RENDERERS:
        return NOTHING_TO_PAGE
    name, page = shown
    if page + step < 1:
        return "已经是第一页了。"
    return _RENDERERS[name](ctx, page + step)


@router.keyword("下一页", "下页", "更多")
def next_page(ctx: Context) -> Reply | str:
    return _turn(ctx, 1)


@router.keyword("上一页", "上页")
def previous_page(ctx: Context) -> Reply | str:
    return _turn(ctx, -1)
