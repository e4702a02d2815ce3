"""Where conversation state lives: one JSON document per user, with a TTL.

Key layout (Redis): `{prefix}conv:{openid}` → the document; the app supplies the key names
(wechat.keys.WeChatKeys).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any, Protocol

import redis

from wechat.keys import WeChatKeys

Document = dict[str, Any]


class ConversationStore(Protocol):
    def get(self, openid: str) -> Document | None: ...
    def put(self, openid: str, doc: Document, ttl_seconds: int) -> None: ...
    def delete(self, openid: str) -> None: ...


class RedisStore:
    def __init__(self, client: redis.Redis, keys: WeChatKeys) -> None:
        self.client = client
        self.keys = keys

    def get(self, openid: str) -> Document | None:
        raw = self.client.get(self.keys.conversation(openid))
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

    def put(self, openid: str, doc: Document, ttl_seconds: int) -> None:
        payload = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        self.client.set(self.keys.conversation(openid), payload, ex=ttl_seconds)

    def delete(self, openid: str) -> None:
        self.client.delete(self.keys.conversation(openid))


class MemoryStore:
    """The same contract in process memory; documents are JSON round-tripped like in Redis."""

    def __init__(self) -> None:
        self._docs: dict[str, tuple[float, str]] = {}
        self._lock = threading.Lock()

    def get(self, openid: str) -> Document | None:
        with self._lock:
            entry = self._docs.get(openid)
            if entry is None:
                return None
            deadline, payload = entry
            if time.monotonic() >= deadline:
                del self._docs[openid]
                return None
        doc = json.loads(payload)
        return doc if isinstance(doc, dict) else None

    def put(self, openid: str, doc: Document, ttl_seconds: int) -> None:
        payload = json.dumps(doc, ensure_ascii=False)
        with self._lock:
            self._docs[openid] = (time.monotonic() + ttl_seconds, payload)

    def delete(self, openid: str) -> None:
        with self._lock:
            self._docs.pop(openid, None)


class PrimableStore:
    """A store that can be handed the document the dispatcher already read (in the same Redis
    round trip as its dedup claim), so that handling a message need not read it again.

    Primed per thread and per user, only while the user's lock is held; writes through this
    store keep the primed copy current.
    """

    def __init__(self, inner: ConversationStore) -> None:
        self.inner = inner
        self._local = threading.local()

    @property
    def primable(self) -> bool:
        """Only documents kept in Redis can be read by the dispatcher's script."""
        return isinstance(self.inner, RedisStore)

    def prime(self, openid: str, raw: bytes | None) -> None:
        self._local.openid, self._local.raw = openid, raw

    def unprime(self) -> None:
        self._local.openid = None

    def _primed(self, openid: str) -> bool:
        return getattr(self._local, "openid", None) == openid

    def get(self, openid: str) -> Document | None:
        if not self._primed(openid):
            return self.inner.get(openid)
        raw = self._local.raw
        if raw is None:
            return None
        try:
            doc = json.loads(raw)
        except ValueError:
            return None
        return doc if isinstance(doc, dict) else None

    def put(self, openid: str, doc: Document, ttl_seconds: int) -> None:
        self.inner.put(openid, doc, ttl_seconds)
        if self._primed(openid):
            self._local.raw = json.dumps(doc, ensure_ascii=False)

    def delete(self, openid: str) -> None:
        self.inner.delete(openid)
        if self._primed(openid):
            self._local.raw = None
