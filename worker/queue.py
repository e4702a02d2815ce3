"""Where notice jobs go.

With a Redis server (REDIS_URL set) jobs go to an RQ queue on it and any number of
`flask --app app worker` processes, on any machine, run them. With the embedded default there is
no Redis server for a worker process to share, so the web process runs the same job function in
a background thread (RQ's synchronous mode would block the request for the whole send).
"""

from __future__ import annotations

import logging
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime
from typing import Protocol

import redis
from flask import Flask
from rq import Queue, Retry, Worker

from domain.clock import utcnow
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

    def schedule_resume(self, notice_id: int, when: datetime) -> None:
        """At `when` (stored UTC), resume the notices paused for the day's quota."""

    def close(self) -> None:
        """Release what the queue holds (close_extensions)."""


class RQNoticeQueue:
    def __init__(self, client: redis.Redis, name: str, *, owns_client: bool = False) -> None:
        self.queue = Queue(name, connection=client)
        self.owns_client = owns_client

    def close(self) -> None:
        """Close the queue's own client (QUEUE_REDIS_URL); the app's client is closed with the
        app's services."""
        if self.owns_client:
            self.queue.connection.close()

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

    def schedule_resume(self, notice_id: int, when: datetime) -> None:
        """Nothing to schedule: every worker looks for due resumes (check_resumes). (RQ's own
        scheduler is a forked process that outlives a killed worker, holding the database
        connections, and with them the locks, the worker had open.)"""


class ThreadNoticeQueue:
    """The embedded default: jobs run in this process, in background threads."""

    def __init__(self, app: Flask, threads: int = 2) -> None:
        self.app = app
        self.pool = ThreadPoolExecutor(max_workers=threads, thread_name_prefix="notice-job")

    def enqueue(self, notice_id: int, *, copies: int | None = None) -> None:
        self.pool.submit(self._run, notice_id)

    def schedule_resume(self, notice_id: int, when: datetime) -> None:
        delay = max(0.0, (when - utcnow()).total_seconds())
        timer = threading.Timer(delay, self._resume)
        timer.daemon = True
        timer.start()

    def close(self) -> None:
        """No new jobs; one running finishes in its thread."""
        self.pool.shutdown(wait=False)

    def _resume(self) -> None:
        from worker.jobs import resume_notices

        with self.app.app_context():
            try:
                resume_notices()
            except Exception:
                log.exception("resuming notices after the daily quota failed")

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
    if services.settings.queue_redis_url:
        return RQNoticeQueue(
            connect_queue(services.settings), services.keys.notice_queue(), owns_client=True
        )
    return RQNoticeQueue(services.redis, services.keys.notice_queue())


def recover(app: Flask) -> list[int]:
    """Queue a job for every notice left queued or sending (after a crash or a restart), and
    resume those paused for the daily quota whose time has passed meanwhile."""
    from services.notices import in_progress_ids, resume_due

    queue: NoticeQueue = app.extensions["notice_queue"]
    with app.extensions["services"].db.Session.begin() as session:
        resume_due(session)
        ids = in_progress_ids(session)
    for notice_id in ids:
        queue.enqueue(notice_id, copies=1)
    if ids:
        log.info("resuming notices %s", ids)
    return ids


def check_resumes(app: Flask, every_seconds: float) -> threading.Thread:
    """In a worker process: every `every_seconds`, resume the notices paused for the day's
    quota whose time has come (each is resumed by one worker; the others find it done)."""

    def loop() -> None:
        from worker.jobs import resume_notices

        while True:
            time.sleep(every_seconds)
            with app.app_context():
                try:
                    resume_notices()
                except Exception:
                    log.exception("resuming notices after the daily quota failed")

    thread = threading.Thread(target=loop, name="notice-resumes", daemon=True)
    thread.start()
    return thread
