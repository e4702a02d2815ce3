"""Console logins kept on the server (Redis), so logout and a password change really end them.

The cookie carries only a random session id next to the operator's id; a copied cookie stops
working as soon as its id is gone from Redis (logout, password change, 8 hours).
"""

from __future__ import annotations

import secrets

import redis

from infra.redis import Keys


class SessionRegistry:
    def __init__(self, client: redis.Redis, keys: Keys, ttl_seconds: int) -> None:
        self._redis = client
        self._keys = keys
        self._ttl = ttl_seconds

    def open(self, operator_id: int) -> str:
        session_id = secrets.token_urlsafe(24)
        pipe = self._redis.pipeline()
        pipe.set(self._keys.console_session(session_id), str(operator_id), ex=self._ttl)
        pipe.sadd(self._keys.operator_sessions(operator_id), session_id)
        pipe.expire(self._keys.operator_sessions(operator_id), self._ttl)
        pipe.execute()
        return session_id

    def is_open(self, session_id: str, operator_id: int) -> bool:
        stored = self._redis.get(self._keys.console_session(session_id))
        return stored is not None and _text(stored) == str(operator_id)

    def close(self, session_id: str, operator_id: int) -> None:
        pipe = self._redis.pipeline()
        pipe.delete(self._keys.console_session(session_id))
        pipe.srem(self._keys.operator_sessions(operator_id), session_id)
        pipe.execute()

    def close_all(self, operator_id: int) -> None:
        """End every login of the operator (password changed)."""
        members = self._redis.smembers(self._keys.operator_sessions(operator_id))
        keys = [self._keys.console_session(_text(m)) for m in members]
        self._redis.delete(self._keys.operator_sessions(operator_id), *keys)


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
