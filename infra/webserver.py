"""The web process: granian serving `app:create_app()` over WSGI.

    python -m infra.webserver            # systemd unit, container and bench alike

Granian is an HTTP server written in Rust: it parses HTTP, keeps connections alive and hands each
request to one of a worker process's Python threads. Under gunicorn's gthread worker the same
app spent about a third of its CPU on the poller-to-thread hand-off and pure-Python HTTP parsing
(bench/README.md, webhook: 0.6x WeRoBot's echo under gunicorn, about 1x under granian).

Every value comes from the environment, so the unit file and the container differ only there:

    WEB_BIND              host:port to listen on (default 127.0.0.1:8000)
    WEB_WORKERS           worker processes (default: the CPU count, at most 4)
    WEB_THREADS           Python threads per worker running requests (default 6); a message
                          mostly waits on Redis and MariaDB, and the dispatcher's own threads keep
                          WeChat's 5-second rule, so a few are enough (bench/webhook.py: 4 and 6
                          threads 1.2x WeRoBot's echo, 8 threads 0.95x; 6 keeps most of 8's room
                          for requests waiting on a slow database)
    WEB_GRACEFUL_TIMEOUT  seconds a stopping or reloaded worker gets to finish (default 20)
    WEB_MAX_RSS_MIB       a worker above this resident size is replaced (default 512): bounded
                          memory growth, as gunicorn's max_requests gave
    WEB_ACCESSLOG         1 to write access lines (path only; query strings are never logged)
    WEB_APP               the app factory (default app:create_app; the bench passes its own)

SIGHUP replaces the workers (new code, zero downtime); SIGTERM stops after the grace period.
Request bodies are read whole before the app sees them: nginx in front caps them
(deploy/nginx/kjzy.conf, client_max_body_size), and the webhook answers 413 above its own cap.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from typing import Any

APP = "app:create_app"
THREADS = 6


def options(env: Mapping[str, str]) -> dict[str, Any]:
    """Granian's settings from the environment (see the module docstring)."""
    from granian.constants import HTTPModes, Interfaces
    from granian.http import HTTP1Settings

    host, _, port = env.get("WEB_BIND", "127.0.0.1:8000").rpartition(":")
    workers = int(env.get("WEB_WORKERS") or min(4, os.cpu_count() or 1))
    threads = int(env.get("WEB_THREADS") or THREADS)
    return {
        "target": env.get("WEB_APP") or APP,
        "factory": True,
        "interface": Interfaces.WSGI,
        "address": host.strip("[]") or "127.0.0.1",
        "port": int(port),
        "workers": workers,
        "blocking_threads": threads,
        "http": HTTPModes.http1,
        "http1_settings": HTTP1Settings(keep_alive=True, header_read_timeout=10_000),
        "respawn_failed_workers": True,
        # On SIGHUP a new worker gets this long to load the app before the old one stops, so a
        # deploy drops no request (the app loads in 1-5 s).
        "respawn_interval": 10.0,
        "websockets": False,
        "workers_kill_timeout": int(env.get("WEB_GRACEFUL_TIMEOUT") or 20),
        "workers_max_rss": int(env.get("WEB_MAX_RSS_MIB") or 512),
        "log_access": env.get("WEB_ACCESSLOG", "").lower() in ("1", "true", "yes"),
    }


def main() -> None:
    from granian import Granian

    Granian(**options(os.environ)).serve()


if __name__ == "__main__":
    main()
