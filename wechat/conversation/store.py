"""Where conversation state lives: one JSON document per user, with a TTL.

Key layout (Redis): `{prefix}conv:{openid}` → the document; the app supplies the key names
(wechat.keys.WeChatKeys).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
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
        self.put_raw(openid, payload, ttl_seconds)

    def put_raw(self, openid: str, payload: str, ttl_seconds: int) -> None:
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


@dataclass(frozen=True)
class Pending:
    """A write the handler made to the primed user's document, not sent yet: the dispatcher
    sends it with the lock release, in the same round trip. `payload` None: delete."""

    payload: str | None
    ttl_seconds: int = 0


class PrimableStore:
    """A store that can be handed the document the dispatcher already read (in the same Redis
    round trip as its dedup claim), so that handling a message need not read it again.

    Primed per thread and per user, only while the user's lock is held; writes through this
    store keep the primed copy current. Primed with `defer`, the user's writes are kept (the
    last one wins) and handed back by `unprime`, for the dispatcher to send with the lock
    release: one round trip fewer per message that changes the document.
    """

    def __init__(self, inner: ConversationStore) -> None:
        self.inner = inner
        self._local = threading.local()

    @property
    def primable(self) -> bool:
        """Only documents kept in Redis can be read by the dispatcher's script."""
        return isinstance(self.inner, RedisStore)

    def parse(self, raw: bytes | str) -> Any:
        """`raw` as JSON; remembered on this thread, so that a `get` of the same `raw` once
        primed with it does not parse it again (the dispatcher reads a document to decide
        where a message runs, then the engine reads it to answer)."""
        doc = json.loads(raw)
        local = self._local
        local.parsed_raw, local.parsed = raw, doc
        return doc

    def prime(self, openid: str, raw: bytes | str | None, *, defer: bool = False) -> None:
        local = self._local
        local.openid, local.raw, local.defer, local.pending = openid, raw, defer, None

    def unprime(self) -> Pending | None:
        """Stop priming; the deferred write, if any (the caller must send it)."""
        local = self._local
        pending: Pending | None = getattr(local, "pending", None)
        local.openid, local.pending = None, None
        return pending

    def _primed(self, openid: str) -> bool:
        return getattr(self._local, "openid", None) == openid

    def get(self, openid: str) -> Document | None:
        if not self._primed(openid):
            return self.inner.get(openid)
        local = self._local
        raw = local.raw
        if raw is None:
            return None
        if getattr(local, "parsed_raw", None) is raw:
            # Parsed by `parse` just now (once only: the engine may change what it gets).
            doc, local.parsed_raw, local.parsed = local.parsed, None, None
        else:
            try:
                doc = json.loads(raw)
            except ValueError:
                return None
        return doc if isinstance(doc, dict) else None

    def put(self, openid: str, doc: Document, ttl_seconds: int) -> None:
        if not self._primed(openid):
            self.inner.put(openid, doc, ttl_seconds)
            return
        payload = json.dumps(doc, ensure_ascii=False, separators=(",", ":"))
        if self._local.defer:
            self._local.pending = Pending(payload, ttl_seconds)
        else:
            self.inner.put(openid, doc, ttl_seconds)
        self._local.raw = payload

    def delete(self, openid: str) -> None:
        if not self._primed(openid):
            self.inner.delete(openid)
            return
        if self._local.defer:
            self._local.pending = Pending(None)
        else:
            self.inner.delete(openid)
        self._local.raw = None

    def write(self, openid: str, pending: Pending) -> None:
        """Send a deferred write on its own (when it cannot go with the lock release)."""
        if pending.payload is None:
            self.inner.delete(openid)
        elif isinstance(self.inner, RedisStore):
            self.inner.put_raw(openid, pending.payload, pending.ttl_seconds)
        else:
            self.inner.put(openid, json.loads(pending.payload), pending.ttl_seconds)
