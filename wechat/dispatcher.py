"""Message dispatch, in this order (written down once, here; the README says the same):

0. replay check: a request's (timestamp, nonce) pair carries one message only (the webhook
   answers 403 to a pair seen before with another message);
1. dedup: WeChat retries a message up to 3 times; a repeat within the dedup TTL (60 s) gets the
   first answer, also while the first is still running, across processes (one Redis key); if
   the process running it dies, its lease runs out (LEASE_SECONDS) and the repeat takes over;
2. per-user lock: one message at a time per openid, across processes; at most
   MAX_WAITING_PER_USER (3) of one user's messages wait their turn, more get BUSY at once;
3. observers: bookkeeping for every message (followers' last-seen time); they answer nothing
   and their errors are only logged;
4. global words (帮助, 取消);
5. the active conversation, if any (an expired one says so; a menu tap parks it);
6. menu keys, events, keywords and patterns (the route table);
7. the fallback (a click without a handler gets "coming soon").

With Redis unreachable, step 1 fails and the user is told the service is under maintenance
(UNAVAILABLE): nothing else runs. Redis lost later (steps 2-7) gets UNAVAILABLE too, and the
lock release is retried with the next message this process handles. Any other exception in
steps 4-7 is logged and answered with SORRY; observers' errors other than Redis's only logged.

Steps 2-7 run on a worker thread. If they take longer than the reply budget, WeChat is answered
`success` and the reply follows through the customer-service API when it is ready. A message
whose observers have nothing to write runs on the request thread instead when there is nothing
to wait for: its route is marked instant (router.instant: answered from memory), or it answers a
conversation's question whose parser needs no lookup (ConversationEngine.from_memory).

Redis round trips per message (wechat.fastredis sends them without redis-py's per-command
overhead): one script checks the (timestamp, nonce) pair, claims the dedup key and the user lock,
marks the user's first message of the hour and reads the conversation document under the lock;
the handler's own writes, except the conversation document, which is written by the script that
then releases the lock and stores the answer for retries. 「帮助」 from a known user, and an
answer to a registration question: two round trips, no thread hand-off. When the handler did
not change the conversation, nothing in the reply depends on that second script: it is written
and not waited for (_Finished reads its answer before the connection's next use, or the lease
keeper's tick does), and a failure is deferred like a finish Redis missed. On a cluster the pair,
the mark, the document and its write are separate round trips (other slots). A background
thread renews the leases of messages in flight for longer than 0.5 s (wechat.leases); a message
answered sooner never meets it.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from typing import Any

import redis
from redis.cluster import RedisCluster
from redis.exceptions import RedisError

from config import Settings
from wechat.client import WeChatAPI
from wechat.conversation.engine import ConversationEngine
from wechat.conversation.store import Pending
from wechat.dispatch_routing import COMING_SOON as COMING_SOON
from wechat.dispatch_routing import SORRY as SORRY
from wechat.dispatch_routing import Outcome as Outcome
from wechat.dispatch_routing import Routing, S
from wechat.dispatch_scripts import CHECK_PAIR, CLAIM, FINISH
from wechat.fastredis import FastRedis, FastScript
from wechat.keys import WeChatKeys
from wechat.leases import LEASE_SECONDS, LeaseKeeper
from wechat.messages import Inbound, Reply
from wechat.router import RouteTable

log = logging.getLogger("wechat.dispatch")

BUSY = "您发送得太快了，请稍等片刻再试。"
UNAVAILABLE = "系统维护中，暂时无法处理您的消息，请稍后再试。"

_PENDING = b"pending"
_NO_REPLY = b"none"
_LATE = b"late"
_REPLY_PREFIX = b"r:"
_POLL_SECONDS = 0.05
# Messages of one user that may wait for the one being handled; more get BUSY at once.
MAX_WAITING_PER_USER = 3
# Lock releases kept in memory while Redis is lost (one per user at most).
_MAX_UNFINISHED = 10_000
# Context.first_message_this_hour: the user's first message within this many seconds.
SEEN_WINDOW_SECONDS = 3600


@dataclass
class _Job:
    """One message being processed, and who answers it: decided once, under the lock.

    `outcome` is set when the worker finished in time (the webhook replies with it); `late` is
    set when the webhook stopped waiting (the worker sends the reply through the API).
    """

    lock: threading.Lock = field(default_factory=threading.Lock)
    late: bool = False
    outcome: Outcome | None = None
    # The per-user lock: our token, and whether the claim already took it.
    token: str = field(default_factory=lambda: secrets.token_hex(8))
    locked: bool = False
    started: float = 0.0
    # Read by the claim when it took the lock: the conversation document (None: there is none)
    # and whether this is the user's first message in the seen window (None: not known yet).
    prefetched: bool = False
    document: bytes | None = None
    first_this_hour: bool | None = None


def _stored(outcome: Outcome, late: bool) -> bytes:
    """What the dedup key keeps for retries of the message."""
    if late:
        return _LATE
    if outcome.reply is None:
        return _NO_REPLY
    return _REPLY_PREFIX + outcome.reply.to_json().encode()


@dataclass(frozen=True)
class Seen:
    """The request's (timestamp, nonce) and its message: WeChat never reuses a pair for another
    message, so a pair seen with another message is a replay. Remembered for `ttl_seconds`."""

    key: str
    fingerprint: str
    ttl_seconds: int


@dataclass
class _Unfinished:
    """A message whose lock release and answer could not be written (Redis was lost): written
    as soon as Redis answers again, so the user is not locked out until the lock expires."""

    lock_key: str
    token: str
    dedup_key: str
    value: bytes
    since: float


class _Finished:
    """The answer to a finish written without waiting for it (no conversation change, so the
    reply does not depend on it): read before its connection's next use, or by the lease
    keeper's tick within RENEW_SECONDS. If it failed, the lock release and the answer for
    retries are deferred as for a finish that could not be written (both are idempotent)."""

    __slots__ = ("dispatcher", "locked", "openid", "unfinished")

    def __init__(
        self, dispatcher: Dispatcher[Any], openid: str, locked: bool, unfinished: _Unfinished
    ) -> None:
        self.dispatcher = dispatcher
        self.openid = openid
        self.locked = locked
        self.unfinished = unfinished

    def __call__(self, released: Any, error: RedisError | None) -> None:
        if error is None:
            if self.locked and not released:
                log.warning("user lock expired before release openid=%s", self.openid)
            return
        log.error(
            "redis lost, lock release deferred openid=%s: %s", self.openid, type(error).__name__
        )
        self.dispatcher._defer(self.unfinished)


class Dispatcher(Routing[S]):
    """`services` is the app's own object, handed to every handler as `ctx.services`."""

    def __init__(
        self,
        *,
        settings: Settings,
        redis_client: redis.Redis,
        keys: WeChatKeys,
        api: WeChatAPI,
        conversations: ConversationEngine,
        table: RouteTable,
        services: S,
        workers: int = 32,
    ) -> None:
        self.settings = settings
        self.redis = redis_client
        self.keys = keys
        self.api = api
        self.conversations = conversations
        self.table = table
        self.services = services
        self.pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="dispatch")
        # Called once per message with its outcome and seconds taken (metrics); must be cheap.
        self.listeners: list[Callable[[Inbound, Outcome, float], None]] = []
        self.leases = LeaseKeeper(self.redis)
        # The message path's scripts, without redis-py's per-command overhead (wechat.fastredis).
        self.fast = FastRedis(self.redis)
        self._claim = FastScript(self.fast, CLAIM)
        # On a Redis Cluster a script may only touch keys of one slot: the user's keys share
        # the {openid} tag, the request's (timestamp, nonce) key cannot.
        self._on_cluster = isinstance(self.redis, RedisCluster)
        self._check_pair = FastScript(self.fast, CHECK_PAIR)
        self._finish_script = FastScript(self.fast, FINISH)
        self._unfinished: dict[str, _Unfinished] = {}
        self._unfinished_lock = threading.Lock()
        self.leases.tick = self._settle

    # -- entry point (request thread) -------------------------------------------------

    def dispatch(self, msg: Inbound, seen: Seen | None = None) -> Outcome:
        started = time.monotonic()
        settings = self.settings
        budget = settings.reply_budget_seconds
        dedup_key = self.keys.dedup(msg.openid, msg.dedup_key)
        job = _Job()
        lock_key = self.keys.user_lock(msg.openid)
        lease_ms = int(LEASE_SECONDS * 1000)
        checks_pair_here = seen is not None and not self._on_cluster
        keys = [
            dedup_key,
            lock_key,
            seen.key if seen is not None and checks_pair_here else dedup_key,
            self.keys.conversation(msg.openid) if not self._on_cluster else dedup_key,
            self.keys.user_seen(msg.openid) if not self._on_cluster else dedup_key,
        ]
        args: list[str | int | bytes] = [
            lease_ms,
            job.token,
            lease_ms,
            _PENDING,
            seen.fingerprint if seen is not None and checks_pair_here else "",
            seen.ttl_seconds if seen is not None and checks_pair_here else 0,
            SEEN_WINDOW_SECONDS,
            "0" if self._on_cluster else "1",
        ]
        while True:
            try:
                if self._unfinished:
                    self._finish_unfinished()
                if seen is not None and self._on_cluster:
                    # The pair's key lives in another slot: checked on its own, first.
                    pair = self._check_pair(
                        keys=[seen.key], args=[seen.fingerprint, seen.ttl_seconds]
                    )
                    claimed: list[Any] = [-1] if pair == -1 else self._claim(keys=keys, args=args)
                else:
                    claimed = self._claim(keys=keys, args=args)
            except RedisError as exc:
                # Without Redis there is no dedup, lock or conversation state: say so, touch
                # nothing.
                log.error("redis unavailable openid=%s: %s", msg.openid, type(exc).__name__)
                outcome = Outcome(Reply(text=UNAVAILABLE), "", "unavailable")
                self._log(msg, outcome, started)
                return outcome
            code = int(claimed[0])
            if code == -1:
                outcome = Outcome(None, "", "replayed")
                self._log(msg, outcome, started)
                return outcome
            if code:
                break
            duplicate = self._answer_duplicate(dedup_key, started + budget)
            if duplicate is not None:
                self._log(msg, duplicate, started)
                return duplicate
            # The first delivery's lease ran out with no answer: its process died. Take over.
            log.warning("taking over a message whose handler died openid=%s", msg.openid)

        job.locked = code == 2
        if job.locked and len(claimed) == 3:
            job.prefetched = self.conversations.store.primable
            job.document, job.first_this_hour = claimed[1], bool(claimed[2])
        at_most = settings.user_lock_seconds
        held: dict[str, bytes | str] = {dedup_key: _PENDING}
        if job.locked:
            held[lock_key] = job.token
        self.leases.hold_all(job.token, held, at_most=at_most)
        if self._instant(msg, job):
            # Nothing to wait for (no database, no API): no hand-off to a dispatch thread.
            outcome = self._process(msg, dedup_key, job)
            self._log(msg, outcome, started)
            return outcome
        future = self.pool.submit(self._process, msg, dedup_key, job)
        try:
            outcome = future.result(timeout=max(0.0, budget - (time.monotonic() - started)))
        except FutureTimeout:
            with job.lock:
                if job.outcome is not None:  # finished just now: still ours to answer
                    outcome = job.outcome
                else:
                    job.late = True
                    job.started = started
                    # The worker logs this message's line when it is done.
                    return Outcome(None, "", "late")
        self._log(msg, outcome, started)
        return outcome

    def _instant(self, msg: Inbound, job: _Job) -> bool:
        """Whether the message can be answered on the request thread: the lock is ours, the
        observers have nothing to write, and the route it goes to is marked instant (see
        router.instant) and will not meet a conversation that may take the message."""
        if not job.locked or job.first_this_hour is not False:
            return False
        if msg.is_text:
            route = self.table.global_route(msg.text)
            if route is not None:
                return route.instant
        if not job.prefetched:
            return False
        if job.document is not None:
            # A conversation: its questions with plain parsers are answered from memory.
            return msg.is_text and self.conversations.from_memory(job.document)
        route, _ = self.table.resolve(msg.msg_type, msg.event, msg.event_key, msg.text)
        return route is not None and route.instant

    def _answer_duplicate(self, dedup_key: str, deadline: float) -> Outcome | None:
        """The first delivery's answer, waiting for it until `deadline`; None when its lease
        ran out unanswered (the process handling it died): the caller takes the message over."""
        while True:
            value: bytes | None = self.redis.get(dedup_key)  # type: ignore[assignment]
            if value is None:
                return None
            if value in (_NO_REPLY, _LATE):
                return Outcome(None, "", "duplicate")
            if value.startswith(_REPLY_PREFIX):
                reply = Reply.from_json(value[len(_REPLY_PREFIX) :].decode("utf-8"))
                return Outcome(reply, "", "duplicate")
            if time.monotonic() >= deadline:
                return Outcome(None, "", "duplicate")
            time.sleep(_POLL_SECONDS)

    # -- worker thread -----------------------------------------------------------------

    def _process(self, msg: Inbound, dedup_key: str, job: _Job) -> Outcome:
        lock_key = self.keys.user_lock(msg.openid)
        store = self.conversations.store
        try:
            if not job.locked:
                job.locked = self._wait_in_line(msg.openid, lock_key, job.token)
            if job.locked and job.first_this_hour is None:
                job.first_this_hour = bool(
                    self.redis.set(
                        self.keys.user_seen(msg.openid), b"1", nx=True, ex=SEEN_WINDOW_SECONDS
                    )
                )
            if job.prefetched:
                # The handler's writes to the document go with the lock release (_finish).
                store.prime(msg.openid, job.document, defer=True)
            outcome = (
                self._route(msg, bool(job.first_this_hour))
                if job.locked
                else Outcome(Reply(text=BUSY), "", "busy")
            )
        except RedisError as exc:
            # Lost while handling: the user hears that we are under maintenance, not nothing.
            log.error("redis lost while handling openid=%s: %s", msg.openid, type(exc).__name__)
            outcome = Outcome(Reply(text=UNAVAILABLE), "", "unavailable")
        finally:
            pending = store.unprime()
        return self._finish(msg, dedup_key, lock_key, job, outcome, pending)

    def _wait_in_line(self, openid: str, lock_key: str, token: str) -> bool:
        """Wait for the user's lock, unless too many of their messages wait already: one person
        flooding must not hold every dispatch thread (the extra messages get BUSY)."""
        waiting_key = self.keys.user_waiting(openid)
        pipe = self.redis.pipeline()
        pipe.incr(waiting_key)
        pipe.expire(waiting_key, self.settings.user_lock_seconds * 2)
        waiting = int(pipe.execute()[0])
        try:
            if waiting > MAX_WAITING_PER_USER:
                return False
            return self._wait_for_user_lock(lock_key, token)
        finally:
            self.redis.decr(waiting_key)

    def _wait_for_user_lock(self, lock_key: str, token: str) -> bool:
        seconds = self.settings.user_lock_seconds
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            if self.redis.set(lock_key, token, nx=True, px=int(LEASE_SECONDS * 1000)):
                self.leases.hold(token, lock_key, token, at_most=seconds)
                return True
            time.sleep(_POLL_SECONDS)
        return False

    def _finish(
        self,
        msg: Inbound,
        dedup_key: str,
        lock_key: str,
        job: _Job,
        outcome: Outcome,
        pending: Pending | None = None,
    ) -> Outcome:
        """Write the handler's change to the conversation, release the user lock and keep the
        answer for retries (one round trip). If Redis is lost here, a change to the
        conversation is dropped and the user told we are under maintenance (their answer was
        not kept); the lock release and the answer are retried later."""
        with job.lock:
            late = job.late
            if not late:
                job.outcome = outcome
        self.leases.release(job.token)
        # A pending change exists only when the claim read the document (never on a cluster).
        conversation_key = self.keys.conversation(msg.openid) if pending else dedup_key
        state: list[str | int] = ["", "", 0]
        if pending is not None:
            state = (
                ["del", "", 0]
                if pending.payload is None
                else ["set", pending.payload, pending.ttl_seconds]
            )
        stored = _stored(outcome, late)
        keys = [lock_key, dedup_key, conversation_key]
        args: list[str | int | bytes] = [
            job.token,
            stored,
            self.settings.dedup_ttl_seconds,
            *state,
        ]
        try:
            if pending is None:
                # Nothing the reply depends on: written now, its answer read later (_Finished).
                unfinished = _Unfinished(lock_key, job.token, dedup_key, stored, time.monotonic())
                self._finish_script.send(
                    keys, args, _Finished(self, msg.openid, job.locked, unfinished)
                )
                released = 1
            else:
                released = self._finish_script(keys=keys, args=args)
        except RedisError as exc:
            log.error(
                "redis lost, lock release deferred openid=%s: %s", msg.openid, type(exc).__name__
            )
            if pending is not None:
                outcome = Outcome(Reply(text=UNAVAILABLE), outcome.route, "unavailable")
                with job.lock:
                    if not late:
                        job.outcome = outcome
            value = _stored(outcome, late)
            self._defer(_Unfinished(lock_key, job.token, dedup_key, value, time.monotonic()))
        else:
            if job.locked and not released:
                log.warning("user lock expired before release openid=%s", msg.openid)
        if late:
            if outcome.reply is not None:
                self._deliver_later(msg.openid, outcome.reply)
            self._log(msg, Outcome(outcome.reply, outcome.route, "late"), job.started)
        return outcome

    def _defer(self, unfinished: _Unfinished) -> None:
        with self._unfinished_lock:
            if len(self._unfinished) < _MAX_UNFINISHED:
                self._unfinished[unfinished.lock_key] = unfinished

    def _finish_unfinished(self) -> None:
        """Release the locks and store the answers that Redis missed (RedisError if still lost)."""
        with self._unfinished_lock:
            pending, self._unfinished = self._unfinished, {}
        # Past the dedup TTL the lock and the dedup key have expired on their own.
        fresh_after = time.monotonic() - self.settings.dedup_ttl_seconds
        try:
            while pending:
                lock_key, item = next(iter(pending.items()))
                if item.since > fresh_after:
                    self._finish_script(
                        keys=[item.lock_key, item.dedup_key, item.dedup_key],
                        args=[item.token, item.value, self.settings.dedup_ttl_seconds, "", "", 0],
                    )
                del pending[lock_key]
        finally:
            if pending:
                with self._unfinished_lock:
                    for lock_key, item in pending.items():
                        self._unfinished.setdefault(lock_key, item)

    def _settle(self) -> None:
        """The lease keeper's tick: read the answers to finishes not waited for, and retry the
        lock releases and answers Redis missed, also when no other message comes."""
        self.fast.settle()
        if self._unfinished:
            self._finish_unfinished()

    def _deliver_later(self, openid: str, reply: Reply) -> None:
        api = self.api
        try:
            if reply.articles:
                api.send_news(
                    openid,
                    [
                        {
                            "title": a.title,
                            "description": a.description,
                            "url": a.url,
                            "picurl": a.picurl,
                        }
                        for a in reply.articles
                    ],
                )
            elif reply.text:
                api.send_text(openid, reply.text)
        except Exception:
            log.exception("late reply could not be delivered openid=%s", openid)

    def _log(self, msg: Inbound, outcome: Outcome, started: float) -> None:
        seconds = time.monotonic() - started
        for listener in self.listeners:
            try:
                listener(msg, outcome, seconds)
            except Exception:
                log.exception("outcome listener failed")
        # Never the content: it may hold an ID or phone number.
        if log.isEnabledFor(logging.INFO):
            # The record made directly: the logging module's search of the stack for the
            # caller's file and line (findCaller) costs more than the rest of the line.
            text = "message openid=%s type=%s route=%s status=%s reply=%s ms=%.1f" % (  # noqa: UP031
                msg.openid,
                msg.kind,
                outcome.route or "-",
                outcome.status,
                outcome.reply.kind if outcome.reply else "none",
                seconds * 1000,
            )
            log.handle(log.makeRecord(log.name, logging.INFO, __file__, 0, text, (), None))

    def shutdown(self) -> None:
        self.leases.stop()
        self.pool.shutdown(wait=False, cancel_futures=True)
        self.fast.close()
