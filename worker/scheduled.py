"""Jobs for a later time: RQ's scheduler (`enqueue_at`) on the notice queue, run by
`flask --app app worker --with-scheduler` (which moves due jobs to the queue), never by a thread
of the web process. The day-before reminders (worker.reminders) and the needs sweep
(worker.needs_jobs) are scheduled here.

A job id names what the job is for, so scheduling the same job twice keeps one. Without a Redis
server (`make run` on the embedded defaults) there is no worker to run them, and nothing is
scheduled.
"""

from __future__ import annotations

from datetime import UTC, datetime

from rq import Queue

from extensions import Services
from infra.redis import connect_queue

JOB_TIMEOUT_SECONDS = 600
RESULT_TTL_SECONDS = 86400
FAILURE_TTL_SECONDS = 7 * 86400


def schedule_at(
    services: Services, at: datetime, job: str, *args: object, job_id: str, description: str
) -> str | None:
    """Run `job(*args)` at `at` (UTC; naive means UTC); the job's id, or None without a Redis
    server."""
    settings = services.settings
    if settings.redis_is_embedded:
        return None
    # RQ needs a plain Redis server: QUEUE_REDIS_URL when REDIS_URL is a cluster.
    own_client = connect_queue(settings) if settings.queue_redis_url else None
    try:
        queue = Queue(services.keys.notice_queue(), connection=own_client or services.redis)
        queue.enqueue_at(
            at if at.tzinfo else at.replace(tzinfo=UTC),
            job,
            *args,
            job_id=job_id,
            job_timeout=JOB_TIMEOUT_SECONDS,
            result_ttl=RESULT_TTL_SECONDS,
            failure_ttl=FAILURE_TTL_SECONDS,
            description=description,
        )
    finally:
        if own_client is not None:
            own_client.close()
    return job_id
