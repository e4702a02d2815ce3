"""Liveness and readiness probes, and the Prometheus scrape endpoint.

/healthz   the process is up.
/readyz    each dependency, with its round-trip time: database, redis, queue (503 if one fails).
/metrics   Prometheus text (infra.metrics); 404 unless METRICS_ENABLED, 403 to the unauthorised.
"""

from __future__ import annotations

import hmac
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

from flask import Blueprint, Response, abort, current_app, jsonify, request
from flask.typing import ResponseReturnValue

from infra import metrics

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)

_LOOPBACK = {"127.0.0.1", "::1"}


@bp.get("/healthz")
def healthz() -> ResponseReturnValue:
    return jsonify(status="ok")


def _timed(name: str, probe: Callable[[], dict[str, Any] | None]) -> tuple[str, dict[str, Any]]:
    started = time.monotonic()
    try:
        extra = probe() or {}
    except Exception as exc:
        log.warning("readiness: %s unreachable: %s", name, type(exc).__name__)
        return "unreachable", {"error": type(exc).__name__}
    return "ok", {"ms": round((time.monotonic() - started) * 1000, 1), **extra}


def _queue_probe() -> dict[str, Any] | None:
    queue = current_app.extensions.get("notice_queue")
    rq_queue = getattr(queue, "queue", None)
    if rq_queue is None:
        # Embedded default: jobs run in a thread of this process.
        return {"mode": "in-process"}
    from rq import Worker

    return {
        "name": rq_queue.name,
        "queued": rq_queue.count,
        "workers": Worker.count(connection=rq_queue.connection, queue=rq_queue),
    }


@bp.get("/readyz")
def readyz() -> ResponseReturnValue:
    services = current_app.extensions["services"]
    probes: dict[str, Callable[[], dict[str, Any] | None]] = {
        "database": lambda: services.db.ping(),
        "redis": lambda: services.redis.ping() and None,
        "queue": _queue_probe,
    }
    if services.db.has_replica:
        probes["replica"] = lambda: services.db.ping_replica()
    checks: dict[str, str] = {}
    details: dict[str, dict[str, Any]] = {}
    for name, probe in probes.items():
        checks[name], details[name] = _timed(name, probe)
    ready = all(v == "ok" for v in checks.values())
    body = {"status": "ready" if ready else "not ready", "checks": checks, "details": details}
    return jsonify(body), 200 if ready else 503


def _authorised(token: str | None) -> bool:
    if token:
        header = request.headers.get("Authorization", "")
        return hmac.compare_digest(header.encode(), f"Bearer {token}".encode())
    # Without a token: a local scraper only, not a request relayed by a proxy on this host.
    relayed = any(h in request.headers for h in ("X-Forwarded-For", "X-Real-IP", "Forwarded"))
    return request.environ.get("REMOTE_ADDR") in _LOOPBACK and not relayed


def queue_depths() -> Mapping[str, Mapping[str, int]]:
    queue = current_app.extensions.get("notice_queue")
    rq_queue = getattr(queue, "queue", None)
    if rq_queue is None:
        return {}
    return {
        rq_queue.name: {
            "queued": rq_queue.count,
            "started": rq_queue.started_job_registry.count,
            "scheduled": rq_queue.scheduled_job_registry.count,
            "failed": rq_queue.failed_job_registry.count,
        }
    }


@bp.get("/metrics")
def scrape() -> Response:
    settings = current_app.extensions["settings"]
    recorder = current_app.extensions.get("metrics")
    if not settings.metrics_enabled or recorder is None:
        abort(404)
    if not _authorised(settings.metrics_token):
        abort(403)
    recorder.flush()  # this process's last second, so a scrape sees its own requests
    text = metrics.render(recorder.snapshot(), queue_depths())
    return Response(text, mimetype="text/plain; version=0.0.4")
