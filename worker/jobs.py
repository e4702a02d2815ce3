"""Job functions, run by an RQ worker (or the in-process runner) inside the Flask app context."""

from __future__ import annotations

import logging
import time

from flask import current_app

from extensions import Services
from services.notices import lifecycle
from worker.sender import NoticeSender

log = logging.getLogger("worker.jobs")

# A job sends for at most this long, then queues a successor: notices sent at the same time take
# turns, and each RQ job has a bounded timeout.
SLICE_SECONDS = 60


# After an unexpected failure, wait this long before RQ queues the job again (immediate retries
# need no RQ scheduler process).
FAILURE_PAUSE_SECONDS = 15


def run_notice(notice_id: int) -> str:
    """Send notice `notice_id` for one slice; queue the next slice if work remains."""
    services: Services = current_app.extensions["services"]
    try:
        with NoticeSender(services) as sender:
            result = sender.run(notice_id, seconds=SLICE_SECONDS)
    except Exception:
        log.exception(
            "notice %s: the job failed; retrying in %ss", notice_id, FAILURE_PAUSE_SECONDS
        )
        time.sleep(FAILURE_PAUSE_SECONDS)
        raise
    log.info("notice %s: %s", notice_id, result)
    queue = current_app.extensions["notice_queue"]
    if result == "slice":
        queue.enqueue(notice_id, copies=1)
    elif result == "paused":
        with services.db.Session() as session:
            when = lifecycle.resume_at(session, notice_id)
        if when is not None:  # the day's quota ran out: come back after midnight
            queue.schedule_resume(notice_id, when)
    return result


def resume_notices() -> list[int]:
    """Resume notices paused for the day's quota whose time has come, and queue them."""
    services: Services = current_app.extensions["services"]
    with services.db.Session.begin() as session:
        resumed = lifecycle.resume_due(session)
    for notice_id in resumed:
        current_app.extensions["notice_queue"].enqueue(notice_id)
    if resumed:
        log.info("notices %s resumed after the daily quota", resumed)
    return resumed
