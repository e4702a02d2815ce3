"""Each simulated user's chat, kept server-side in Redis (one list of JSON entries per openid).

An entry's id is its position in the list ("h0", "h1", ...), so a page asks for "everything after
position N". Lists are capped; after a trim the positions move and a page that asks beyond the
end is told to reload (reset).
"""

from __future__ import annotations

import json
from typing import Any

import redis

from infra.redis import Keys

Item = dict[str, Any]

TTL_SECONDS = 7 * 24 * 3600
MAX_ENTRIES = 2000
KEEP_AFTER_TRIM = 1000
FOLLOW_EVENTS = {"subscribe": True, "unsubscribe": False}


class ChatHistory:
    def __init__(self, client: redis.Redis, keys: Keys) -> None:
        self._redis = client
        self._keys = keys

    def append(self, openid: str, entry: Item) -> Item:
        key = self._keys.simulator_chat(openid)
        length = int(self._redis.rpush(key, json.dumps(entry, ensure_ascii=False)))
        self._redis.expire(key, TTL_SECONDS)
        if length > MAX_ENTRIES:
            self._redis.ltrim(key, -KEEP_AFTER_TRIM, -1)
        return {**entry, "id": f"h{length - 1}"}

    def since(self, openid: str, start: int) -> tuple[list[Item], int, bool]:
        """(entries from position `start`, the position after the last, whether the page must
        forget what it has because the list is shorter than it thinks)."""
        key = self._keys.simulator_chat(openid)
        reset = start > int(self._redis.llen(key))
        if reset:
            start = 0
        raw = self._redis.lrange(key, start, -1)
        entries = [{**json.loads(value), "id": f"h{start + i}"} for i, value in enumerate(raw)]
        return entries, start + len(entries), reset

    def subscribed(self, openid: str) -> bool:
        """Whether the user follows the account, by the last follow event sent for them."""
        for value in reversed(self._redis.lrange(self._keys.simulator_chat(openid), 0, -1)):
            event = json.loads(value).get("event")
            if event in FOLLOW_EVENTS:
                return FOLLOW_EVENTS[event]
        return False
