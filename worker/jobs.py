"""Job functions, run by an RQ worker (or the in-process runner) inside the Flask app context."""

from __future__ import annotations

import logging

from flask import current_app

from wechat.context import Services
from worker.sender import NoticeSender

log = logging.getLogger("worker.jobs")

# A job sends for at most this long, then queues a successor: notices sent at the same time take
# turns, and each RQ job has a bounded timeout.
SLICE_SECONDS = 60


def run_notice(notice_id: int) -> str:
    """Send notice `notice_id` for one slice; queue the next slice if work remains."""
    services: Services = current_app.extensions["bot"].services
    with NoticeSender(services) as sender:
        result = sender.run(notice_id, seconds=SLICE_SECONDS)
    log.info("notice %s: %s", notice_id, result)
    if result == "slice":
        current_app.extensions["notice_queue"].enqueue(notice_id, copies=1)
    return result
