"""Team console logins kept in Redis: one-time links from chat and the sessions they open.

A link token is random, bound to the admin's openid, valid 5 minutes and consumed atomically
(GET and DEL in one MULTI): of two requests with the same link, one gets in. A session id maps to
the openid until logout or expiry; the cookie carries only the id, so logout really ends it.
"""

from __future__ import annotations

import secrets

import redis

from infra.redis import Keys

LINK_SECONDS = 300
SESSION_SECONDS = 8 * 3600
LOGIN_PATH = "/team/login/"


class TeamLogins:
    def __init__(
        self, client: redis.Redis, keys: Keys, session_seconds: int = SESSION_SECONDS
    ) -> None:
        self._redis = client
        self._keys = keys
        self._ttl = session_seconds

    # -- links ---------------------------------------------------------------------------

    def issue_link(self, openid: str) -> str:
        token = secrets.token_urlsafe(24)
        self._redis.set(self._keys.team_console_link(token), openid, ex=LINK_SECONDS)
        return token

    def consume_link(self, token: str) -> str | None:
        """The openid the link was made for, once; None when unknown, used or expired."""
        if not token or len(token) > 64:
            return None
        pipe = self._redis.pipeline(transaction=True)
        pipe.get(self._keys.team_console_link(token))
        pipe.delete(self._keys.team_console_link(token))
        value, deleted = pipe.execute()
        if value is None or not deleted:
            return None
        return _text(value)

    # -- sessions ------------------------------------------------------------------------

    def open(self, openid: str) -> str:
        session_id = secrets.token_urlsafe(24)
        pipe = self._redis.pipeline()
        pipe.set(self._keys.team_console_session(session_id), openid, ex=self._ttl)
        pipe.sadd(self._keys.team_console_sessions(openid), session_id)
        pipe.expire(self._keys.team_console_sessions(openid), self._ttl)
        pipe.execute()
        return session_id

    def openid_of(self, session_id: str | None) -> str | None:
        if not session_id:
            return None
        value = self._redis.get(self._keys.team_console_session(session_id))
        return None if value is None else _text(value)

    def close(self, session_id: str, openid: str) -> None:
        pipe = self._redis.pipeline()
        pipe.delete(self._keys.team_console_session(session_id))
        pipe.srem(self._keys.team_console_sessions(openid), session_id)
        pipe.execute()

    def close_all(self, openid: str) -> None:
        members = self._redis.smembers(self._keys.team_console_sessions(openid))
        keys = [self._keys.team_console_session(_text(m)) for m in members]
        self._redis.delete(self._keys.team_console_sessions(openid), *keys)


def login_url(public_base_url: str, token: str) -> str:
    return public_base_url.rstrip("/") + LOGIN_PATH + token


def _text(value: bytes | str) -> str:
    return value.decode() if isinstance(value, bytes) else value
