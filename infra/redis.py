"""The Redis connection: a real server (or a Redis Cluster) when REDIS_URL is set, else an
in-process stand-in.

On a cluster, keys that one script or transaction touches together share a hash tag, the user's
`{openid}` (dedup marker, user lock, waiting count): see Keys. RQ needs a plain server, so the
notice queue uses QUEUE_REDIS_URL (connect_queue).
"""

from __future__ import annotations

import logging
from typing import cast
from urllib.parse import urlsplit

import redis
from redis.cluster import ClusterNode, RedisCluster

from config import Settings

log = logging.getLogger(__name__)

SOCKET_TIMEOUT = 5
CONNECT_TIMEOUT = 3
# redis-py 8 caps a pool at 100 connections and then raises MaxConnectionsError instead of
# waiting: a burst of threads in one process (the webhook's gthread threads, the dispatch pool,
# the notice worker's helpers) must not turn into errors. The server's own limit is far higher.
MAX_CONNECTIONS = 1000


def connect(settings: Settings) -> redis.Redis:
    if settings.redis_url and settings.redis_is_cluster:
        return connect_cluster(settings.redis_url)
    if settings.redis_url:
        return _plain(settings.redis_url)
    import fakeredis

    log.warning(
        "REDIS_URL is not set: using an in-process Redis stand-in (fakeredis). "
        "State is not shared between processes and is lost on restart."
    )
    return fakeredis.FakeRedis(server=_embedded_server())


def connect_cluster(url: str) -> redis.Redis:
    """`redis+cluster://host:port[,host:port...]` (rediss+cluster:// for TLS): any of the
    nodes; the client learns the others and the slots from them."""
    parts = urlsplit(url)
    nodes = []
    for address in parts.netloc.rsplit("@", 1)[-1].split(","):
        host, _, port = address.rpartition(":")
        nodes.append(ClusterNode(host or "127.0.0.1", int(port or 6379)))
    client = RedisCluster(
        startup_nodes=nodes,
        password=parts.password,
        username=parts.username,
        ssl=parts.scheme.startswith("rediss"),
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=CONNECT_TIMEOUT,
    )
    # The commands we use are the same on both clients (RedisCluster is not a subclass).
    return cast(redis.Redis, client)


def connect_queue(settings: Settings) -> redis.Redis:
    """The plain Redis server RQ keeps notice jobs on (QUEUE_REDIS_URL, else REDIS_URL)."""
    url = settings.queue_url
    assert url is not None and not url.startswith(("redis+cluster", "rediss+cluster"))
    return _plain(url)


def _plain(url: str) -> redis.Redis:
    return redis.Redis.from_url(
        url,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=CONNECT_TIMEOUT,
        health_check_interval=30,
        max_connections=MAX_CONNECTIONS,
    )


_SERVER: object | None = None


def _embedded_server() -> object:
    """One stand-in server per process, so every client in this process sees the same data."""
    global _SERVER
    if _SERVER is None:
        import fakeredis

        _SERVER = fakeredis.FakeServer()
    return _SERVER


class Keys:
    """Every Redis key the service uses, in one place. All carry the configured prefix."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix

    # {openid}: a Redis Cluster hash tag. The dispatcher's scripts touch the dedup marker, the
    # user lock and the waiting count of one user together: they must sit in one slot.
    def dedup(self, openid: str, message_key: str) -> str:
        return f"{self.prefix}dedup:{{{openid}}}:{message_key}"

    def request_nonce(self, timestamp: int, nonce: str) -> str:
        """A webhook request's (timestamp, nonce) pair, and the message it came with."""
        return f"{self.prefix}nonce:{timestamp}:{nonce}"

    def user_lock(self, openid: str) -> str:
        return f"{self.prefix}lock:user:{{{openid}}}"

    def conversation(self, openid: str) -> str:
        return f"{self.prefix}conv:{openid}"

    def conversation_expired(self, openid: str) -> str:
        return f"{self.prefix}conv-expired:{openid}"

    def access_token(self, app_id: str) -> str:
        return f"{self.prefix}wechat:access_token:{app_id}"

    def access_token_lock(self, app_id: str) -> str:
        return f"{self.prefix}wechat:access_token_lock:{app_id}"

    def ratelimit(self, name: str) -> str:
        return f"{self.prefix}ratelimit:{name}"

    def simulator_chat(self, openid: str) -> str:
        """The browser simulator's chat history with one simulated user (a list of JSON)."""
        return f"{self.prefix}simulator:chat:{openid}"

    def notice_queue(self) -> str:
        """The RQ queue of notice jobs (RQ adds its own rq: prefix around the name)."""
        return f"{self.prefix}notices"

    def notice_delivery(self, msgid: int) -> str:
        """A TEMPLATESENDJOBFINISH report that came before the worker recorded the msgid."""
        # One hash tag for all of them: they are read together (MGET) and deleted together.
        return f"{self.prefix}notice:delivery:{{deliveries}}:{msgid}"

    def operator_bind(self, code: str) -> str:
        """A one-time code linking a console operator to the WeChat user who sends it."""
        return f"{self.prefix}operator-bind:{code}"

    def volunteer_import(self, operator_id: int, token: str) -> str:
        """A checked import file waiting for the operator's confirmation (encrypted)."""
        return f"{self.prefix}volunteer-import:{operator_id}:{token}"

    def follower_seen(self, openid: str) -> str:
        return f"{self.prefix}seen:{openid}"

    def user_seen(self, openid: str) -> str:
        """Set by the dispatcher's claim for a user's first message in an hour."""
        return self.follower_seen(openid)

    def metrics(self, name: str) -> str:
        """A hash of counters summed over every process (infra.metrics)."""
        return f"{self.prefix}metrics:{name}"

    def user_waiting(self, openid: str) -> str:
        return f"{self.prefix}waiting:user:{{{openid}}}"

    def checkin_pending(self, openid: str) -> str:
        """An activity a not-yet-registered person scanned into; the check-in completes when
        their registration does."""
        return f"{self.prefix}checkin:pending:{openid}"

    def checkin_failures(self, openid: str) -> str:
        """Wrong 6-digit check-in codes typed by one user (a short window, against guessing)."""
        return f"{self.prefix}checkin:failures:{openid}"

    def console_session(self, session_id: str) -> str:
        """A console login: the operator's id, until logout, a password change or expiry."""
        return f"{self.prefix}console:session:{session_id}"

    def operator_sessions(self, operator_id: int) -> str:
        """The ids of an operator's console logins (a set), to end them all at once."""
        return f"{self.prefix}console:sessions:{operator_id}"

    def checkin_poster(self, fingerprint: str) -> str:
        """A drawn 签到/签退 picture (PNG), by a digest of everything drawn on it."""
        return f"{self.prefix}checkin:poster:{fingerprint}"

    def team_console_link(self, token: str) -> str:
        """A team admin's one-time login link (their openid), for 5 minutes."""
        return f"{self.prefix}teamconsole:link:{token}"

    def team_console_session(self, session_id: str) -> str:
        """A team admin's console login: their openid, until logout or expiry."""
        return f"{self.prefix}teamconsole:session:{session_id}"

    def team_console_sessions(self, openid: str) -> str:
        """The ids of a team admin's console logins (a set), to end them all at once."""
        return f"{self.prefix}teamconsole:sessions:{openid}"
