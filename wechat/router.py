"""Declarative routes. Each handlers/ module exports a Router; the dispatcher merges them.

router = Router("volunteer")

@router.click("VOLUNTEER_REGISTER")
@router.keyword("注册志愿者")
def register(ctx: Context) -> Reply | str | None: ...
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal

from wechat.messages import Reply

if TYPE_CHECKING:
    from wechat.context import Context

HandlerResult = Reply | str | None
Handler = Callable[["Context[Any]"], HandlerResult]
Observer = Callable[["Context[Any]"], None]
RouteKind = Literal["global", "click", "keyword", "pattern", "event", "message", "fallback"]


@dataclass(frozen=True)
class Route:
    kind: RouteKind
    key: str
    handler: Handler
    name: str
    pattern: re.Pattern[str] | None = None

    @property
    def instant(self) -> bool:
        return bool(getattr(self.handler, "instant", False))


def instant(handler: Handler) -> Handler:
    """Marks a handler that answers from memory: no database, no API, no Redis beyond the
    conversation document the dispatcher already read. It runs on the request thread, without
    the hand-off to a dispatch thread that keeps slower handlers within the reply budget.
    Apply it below the route decorators."""
    handler.instant = True  # type: ignore[attr-defined]
    return handler


def normalise_word(text: str) -> str:
    # str.split() drops the same whitespace as the pattern \s+ (str.isspace), without re.
    return "".join(text.split()).strip("。.!！?？").lower()


@dataclass
class Router:
    name: str
    routes: list[Route] = field(default_factory=list)
    # Run for every message before routing (bookkeeping only: they answer nothing, and their
    # errors are logged, never shown to the user).
    observers: list[Observer] = field(default_factory=list)

    def _add(self, kind: RouteKind, keys: Iterable[str]) -> Callable[[Handler], Handler]:
        def decorator(handler: Handler) -> Handler:
            for key in keys:
                self.routes.append(Route(kind, key, handler, f"{self.name}.{handler.__name__}"))
            return handler

        return decorator

    def global_word(self, *words: str) -> Callable[[Handler], Handler]:
        """Words that work everywhere, even in the middle of a conversation (帮助, 取消)."""
        return self._add("global", [normalise_word(w) for w in words])

    def click(self, *keys: str) -> Callable[[Handler], Handler]:
        return self._add("click", keys)

    def keyword(self, *words: str) -> Callable[[Handler], Handler]:
        return self._add("keyword", [normalise_word(w) for w in words])

    def event(self, *events: str) -> Callable[[Handler], Handler]:
        return self._add("event", [e.lower() for e in events])

    def message(self, *types: str) -> Callable[[Handler], Handler]:
        """Non-text message types: image, voice, video, shortvideo, location, link."""
        return self._add("message", types)

    def pattern(self, regex: str) -> Callable[[Handler], Handler]:
        compiled = re.compile(regex)

        def decorator(handler: Handler) -> Handler:
            name = f"{self.name}.{handler.__name__}"
            self.routes.append(Route("pattern", regex, handler, name, compiled))
            return handler

        return decorator

    def fallback(self, handler: Handler) -> Handler:
        self.routes.append(Route("fallback", "*", handler, f"{self.name}.{handler.__name__}"))
        return handler

    def observe(self, observer: Observer) -> Observer:
        self.observers.append(observer)
        return observer


class RouteTable:
    """All routes, merged; a key claimed twice is a programming error found at start."""

    def __init__(self, routers: Iterable[Router]) -> None:
        self.exact: dict[tuple[RouteKind, str], Route] = {}
        self.patterns: list[Route] = []
        self.fallback: Route | None = None
        self.observers: list[Observer] = []
        for router in routers:
            for route in router.routes:
                self._add(route)
            self.observers.extend(router.observers)

    def _add(self, route: Route) -> None:
        if route.kind == "pattern":
            self.patterns.append(route)
            return
        if route.kind == "fallback":
            if self.fallback is not None:
                raise ValueError(f"two fallbacks: {self.fallback.name} and {route.name}")
            self.fallback = route
            return
        slot = (route.kind, route.key)
        if slot in self.exact:
            raise ValueError(
                f"{route.kind} {route.key!r} claimed by {self.exact[slot].name} and {route.name}"
            )
        self.exact[slot] = route

    def global_route(self, text: str) -> Route | None:
        return self.exact.get(("global", normalise_word(text)))

    def click_keys(self) -> set[str]:
        return {key for kind, key in self.exact if kind == "click"}

    def resolve(
        self, msg_type: str, event: str, event_key: str, text: str
    ) -> tuple[Route | None, re.Match[str] | None]:
        if msg_type == "event":
            if event == "click":
                return self.exact.get(("click", event_key)), None
            return self.exact.get(("event", event)), None
        if msg_type == "text":
            word = normalise_word(text)
            route = self.exact.get(("keyword", word))
            if route:
                return route, None
            for candidate in self.patterns:
                assert candidate.pattern is not None
                match = candidate.pattern.fullmatch(text.strip())
                if match:
                    return candidate, match
            return self.fallback, None
        return self.exact.get(("message", msg_type)), None
