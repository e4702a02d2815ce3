"""Metrics for Prometheus, shared by every process through Redis.

Each process counts in memory (a dict increment under a lock: nothing on the request's path
waits for the network) and a background thread adds the counts to Redis hashes once a second,
in one pipelined round trip. A scrape of `/metrics` on any instance reads the hashes, so the
figures cover every web worker, web host and notice worker.

Key layout (all under the configured prefix, see infra.redis.Keys.metrics):
    metrics:messages     "route\\tstatus"          -> messages
    metrics:latency      "route\\t<bucket index>"  -> messages in that bucket (not cumulative)
                         "route\\tsum"             -> seconds (float)
    metrics:wechat_api   "api\\terrcode"           -> calls
"""

from __future__ import annotations

import logging
import threading
from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

import redis

from infra.redis import Keys

log = logging.getLogger(__name__)

# Seconds; WeChat waits 5 s, the reply budget is 4 s.
BUCKETS: tuple[float, ...] = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.0, 4.0, 5.0)
TEMPLATE_SEND_API = "/cgi-bin/message/template/send"
_SEP = "\t"


def _bucket_index(seconds: float) -> int:
    for index, bound in enumerate(BUCKETS):
        if seconds <= bound:
            return index
    return len(BUCKETS)  # +Inf


class Metrics:
    """One per process. record_* are cheap; flush() moves the counts to Redis."""

    def __init__(self, client: redis.Redis, keys: Keys, *, flush_seconds: float = 1.0) -> None:
        self.client = client
        self.keys = keys
        self.flush_seconds = flush_seconds
        self._lock = threading.Lock()
        self._messages: Counter[str] = Counter()
        self._latency: Counter[str] = Counter()
        self._latency_sum: dict[str, float] = {}
        self._api: Counter[str] = Counter()
        self._thread: threading.Thread | None = None
        self._stopped = threading.Event()

    # -- recording (any thread) -----------------------------------------------------------

    def record_message(self, route: str, status: str, seconds: float) -> None:
        route = route or "-"
        with self._lock:
            self._messages[f"{route}{_SEP}{status}"] += 1
            self._latency[f"{route}{_SEP}{_bucket_index(seconds)}"] += 1
            self._latency_sum[route] = self._latency_sum.get(route, 0.0) + seconds
        self._ensure_flusher()

    def record_api_call(self, api: str, errcode: int | None) -> None:
        with self._lock:
            self._api[f"{api}{_SEP}{'none' if errcode is None else errcode}"] += 1
        self._ensure_flusher()

    # -- moving counts to Redis -----------------------------------------------------------

    def _ensure_flusher(self) -> None:
        # Started lazily, in the process that records (after the web server forked its workers).
        if self._thread is None or not self._thread.is_alive():
            with self._lock:
                if self._thread is None or not self._thread.is_alive():
                    self._thread = threading.Thread(
                        target=self._flush_loop, name="metrics-flush", daemon=True
                    )
                    self._thread.start()

    def _flush_loop(self) -> None:
        while not self._stopped.wait(self.flush_seconds):
            try:
                self.flush()
            except Exception as exc:  # Redis away: keep counting, try again later
                log.warning("metrics flush failed: %s", type(exc).__name__)

    def flush(self) -> None:
        with self._lock:
            messages, self._messages = self._messages, Counter()
            latency, self._latency = self._latency, Counter()
            sums, self._latency_sum = self._latency_sum, {}
            api, self._api = self._api, Counter()
        if not (messages or latency or api):
            return
        pipe = self.client.pipeline(transaction=False)
        for field, count in messages.items():
            pipe.hincrby(self.keys.metrics("messages"), field, count)
        for field, count in latency.items():
            pipe.hincrby(self.keys.metrics("latency"), field, count)
        for route, seconds in sums.items():
            pipe.hincrbyfloat(self.keys.metrics("latency"), f"{route}{_SEP}sum", seconds)
        for field, count in api.items():
            pipe.hincrby(self.keys.metrics("wechat_api"), field, count)
        try:
            pipe.execute()
        except Exception:
            self._restore(messages, latency, sums, api)
            raise

    def _restore(
        self,
        messages: Counter[str],
        latency: Counter[str],
        sums: Mapping[str, float],
        api: Counter[str],
    ) -> None:
        with self._lock:
            self._messages.update(messages)
            self._latency.update(latency)
            for route, seconds in sums.items():
                self._latency_sum[route] = self._latency_sum.get(route, 0.0) + seconds
            self._api.update(api)

    def close(self) -> None:
        if self._stopped.is_set():
            return
        self._stopped.set()
        try:
            self.flush()
        except Exception as exc:
            log.warning("metrics flush at exit failed: %s", type(exc).__name__)

    # -- reading --------------------------------------------------------------------------

    def snapshot(self) -> Snapshot:
        pipe = self.client.pipeline(transaction=False)
        for name in ("messages", "latency", "wechat_api"):
            pipe.hgetall(self.keys.metrics(name))
        messages, latency, api = pipe.execute()
        return Snapshot(_decoded(messages), _decoded(latency), _decoded(api))


def _decoded(raw: Mapping[bytes, bytes]) -> dict[str, str]:
    return {k.decode("utf-8"): v.decode("utf-8") for k, v in raw.items()}


@dataclass(frozen=True)
class Snapshot:
    messages: dict[str, str]
    latency: dict[str, str]
    wechat_api: dict[str, str]


# -- Prometheus text format -----------------------------------------------------------------


def _label(value: str) -> str:
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    inner = ",".join(f'{name}="{_label(value)}"' for name, value in labels.items())
    return "{" + inner + "}"


def _pairs(fields: Mapping[str, str]) -> Iterable[tuple[str, str, str]]:
    for field, value in sorted(fields.items()):
        first, _, second = field.partition(_SEP)
        yield first, second, value


def render(snapshot: Snapshot, queues: Mapping[str, Mapping[str, int]]) -> str:
    """The text exposition format (version 0.0.4)."""
    out: list[str] = [
        "# HELP kjzy_messages_total Messages from WeChat, by route and dispatch status.",
        "# TYPE kjzy_messages_total counter",
    ]
    for route, status, value in _pairs(snapshot.messages):
        out.append(f"kjzy_messages_total{_labels(route=route, status=status)} {value}")
    out += [
        "# HELP kjzy_handler_seconds Time from receiving a message to its answer, by route.",
        "# TYPE kjzy_handler_seconds histogram",
    ]
    out += _histogram_lines(snapshot.latency)
    out += [
        "# HELP kjzy_notice_sends_total Template messages sent, by WeChat errcode (0: sent).",
        "# TYPE kjzy_notice_sends_total counter",
    ]
    api_lines: list[str] = []
    for api, errcode, value in _pairs(snapshot.wechat_api):
        if api == TEMPLATE_SEND_API:
            out.append(f"kjzy_notice_sends_total{_labels(errcode=errcode)} {value}")
        api_lines.append(f"kjzy_wechat_api_calls_total{_labels(api=api, errcode=errcode)} {value}")
    out += [
        "# HELP kjzy_wechat_api_calls_total Calls to the WeChat API, by API and errcode.",
        "# TYPE kjzy_wechat_api_calls_total counter",
        *api_lines,
        "# HELP kjzy_queue_jobs Jobs in the notice queue, by state.",
        "# TYPE kjzy_queue_jobs gauge",
    ]
    for queue, states in sorted(queues.items()):
        for state, count in sorted(states.items()):
            out.append(f"kjzy_queue_jobs{_labels(queue=queue, state=state)} {count}")
    return "\n".join(out) + "\n"


def _histogram_lines(latency: Mapping[str, str]) -> list[str]:
    per_route: dict[str, list[int]] = {}
    sums: dict[str, str] = {}
    for route, slot, value in _pairs(latency):
        if slot == "sum":
            sums[route] = value
            continue
        counts = per_route.setdefault(route, [0] * (len(BUCKETS) + 1))
        counts[int(slot)] += int(value)
    lines: list[str] = []
    for route, counts in sorted(per_route.items()):
        running = 0
        for bound, count in zip((*BUCKETS, float("inf")), counts, strict=True):
            running += count
            le = "+Inf" if bound == float("inf") else repr(bound)
            lines.append(f"kjzy_handler_seconds_bucket{_labels(route=route, le=le)} {running}")
        lines.append(f"kjzy_handler_seconds_sum{_labels(route=route)} {sums.get(route, '0')}")
        lines.append(f"kjzy_handler_seconds_count{_labels(route=route)} {running}")
    return lines


__all__ = ["BUCKETS", "Metrics", "Snapshot", "render"]
