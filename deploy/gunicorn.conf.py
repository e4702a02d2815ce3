"""Gunicorn settings for the web process (systemd unit and container alike).

gunicorn -c deploy/gunicorn.conf.py 'app:create_app()'

Every value can be overridden from the environment (GUNICORN_BIND, GUNICORN_WORKERS, ...).
"""

import multiprocessing
import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
# Threads, not processes, carry the concurrency: a message mostly waits on Redis and MariaDB.
worker_class = "gthread"
workers = int(os.environ.get("GUNICORN_WORKERS", min(4, multiprocessing.cpu_count())))
threads = int(os.environ.get("GUNICORN_THREADS", "8"))
# WeChat gives up after 5 s; a request still running after 30 s is stuck and its worker restarts.
timeout = int(os.environ.get("GUNICORN_TIMEOUT", "30"))
# On restart (SIGHUP, deploys), requests in flight get this long to finish.
graceful_timeout = int(os.environ.get("GUNICORN_GRACEFUL_TIMEOUT", "20"))
# nginx keeps connections to the upstream open (keepalive in the site).
keepalive = 75
# Bounded memory growth: workers are replaced now and then, never all at once.
max_requests = int(os.environ.get("GUNICORN_MAX_REQUESTS", "20000"))
max_requests_jitter = 2000
# Logs go to stderr (journald / docker logs); the app's own lines carry route and duration.
accesslog = os.environ.get("GUNICORN_ACCESSLOG") or None
errorlog = "-"
# Only nginx on this host may set X-Forwarded-*; the app reads them via TRUSTED_PROXIES.
forwarded_allow_ips = os.environ.get("GUNICORN_FORWARDED_ALLOW_IPS", "127.0.0.1")
proc_name = "kjzy-web"
