"""Where notice jobs go.

With a Redis server (REDIS_URL set) jobs go to an RQ queue on it and any number of
`flask --app app worker` processes, on any machine, run them. With the embedded default there is
no Redis server for a worker process to share, so the web process runs the same job function in
a background thread (RQ's synchronous mode would block the request for the whole send).
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from typing import Protocol

import redis
from flask import Flask
from rq import Queue, Retry, Worker

from infra.redis import connect_queue
from worker.jobs import SLICE_SECONDS

log = logging.getLogger("worker.queue")

JOB = "worker.jobs.run_notice"
# A slice, then recording the last batch and finishing: RQ stops a job that runs longer.
JOB_TIMEOUT_SECONDS = SLICE_SECONDS + 120
# A job that fails (the database restarting, say) pauses (worker.jobs) and is queued again;
# its rows keep their claims until the lease runs out, so nothing is sent twice meanwhile.
JOB_RETRIES = 5


class NoticeQueue(Protocol):
    def enqueue(self, notice_id: int, *, copies: int | None = None) -> None:
        """Queue `copies` jobs for the notice (default: one per running worker)."""


class RQNoticeQueue:
    def __init__(self, client: redis.Redis, name: str) -> None:
        self.queue = Queue(name, connection=client)

    def workers(self) -> int:
        return int(Worker.count(connection=self.queue.connection, queue=self.queue))

    def enqueue(self, notice_id: int, *, copies: int | None = None) -> None:
        for _ in range(copies or max(1, self.workers())):
            self.queue.enqueue_call(
                JOB,
                args=(notice_id,),
                timeout=JOB_TIMEOUT_SECONDS,
                result_ttl=3600,
                failure_ttl=7 * 86400,
                retry=Retry(max=JOB_RETRIES),
                description=f"notice {notice_id}",
            )


class ThreadNoticeQueue:
    """The embedded default: jobs run in this process, in background threads."""

    def __init__(self, app: Flask, threads: int = 2) -> None:
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="notice-job")

    def enqueue(self, notice_id: int, *, copies: int | None = None) -> None:
        self.pool.submit(self._run, notice_id)

    def _run(self, notice_id: int) -> None:
        from worker.jobs import run_notice

        with self.app.app_context():
            try:
                run_notice(notice_id)
            except Exception:
                log.exception("notice %s: job failed", notice_id)


def build_queue(app: Flask) -> NoticeQueue:
    services = app.extensions["services"]
    if services.settings.redis_is_embedded:
        runner = ThreadNoticeQueue(app)
        # `make run` restarted mid-send: carry on (sandbox/run.py calls these hooks).
        app.extensions.setdefault("sandbox_startup", []).append(lambda: recover(app))
        return runner
    # RQ needs a plain Redis server: QUEUE_REDIS_URL when REDIS_URL is a cluster.
    client = (
        connect_queue(services.settings) if services.settings.queue_redis_url else services.redis
    )
    return RQNoticeQueue(client, services.keys.notice_queue())


def recover(app: Flask) -> list[int]:
    """Queue a job for every notice left queued or sending (after a crash or a restart)."""
    from services.notices import in_progress_ids

    queue: NoticeQueue = app.extensions["notice_queue"]
    with app.extensions["services"].db.Session() as session:
        ids = in_progress_ids(session)
    for notice_id in ids:
        queue.enqueue(notice_id, copies=1)
    if ids:
        log.info("resuming notices %s", ids)
    return ids
