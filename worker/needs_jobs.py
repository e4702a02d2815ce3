"""The needs sweep (services.needs_followup.sweep) as an RQ job: needs whose activity ended
become 已完成 and their posters are asked for feedback, needs whose activity was cancelled open
again, and needs unclaimed for 14 days are flagged to their region's operators.

Like the activity reminders, the job is scheduled with RQ's scheduler (worker.scheduled) on the
notice queue and run by `flask --app app worker` (`--with-scheduler` moves due jobs to the
queue). It runs every SWEEP_EVERY: each run schedules the next, and a worker started with the
scheduler schedules one on start; job ids name their time slot, so scheduling one twice keeps
one. A claim also schedules a sweep at its activity's end, so the poster is asked at once. The
sweep itself is idempotent: running it twice tells nobody twice.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask import current_app

from domain import clock
from extensions import Services, services_of
from services import needs_followup
from worker.scheduled import schedule_at

log = logging.getLogger("worker.needs_jobs")

JOB = "worker.needs_jobs.sweep_needs"
SWEEP_EVERY = timedelta(hours=1)


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC)


def schedule_sweep(services: Services, at: datetime, *, name: str) -> str | None:
    """A sweep at `at` (UTC, naive); `name` makes the job id (one job per name)."""
    job_id = schedule_at(
        services, at, JOB, job_id=f"needs-sweep-{name}", description=f"needs sweep ({name})"
    )
    if job_id is None:
        log.info("no Redis server, so no needs sweep job (%s)", name)
    return job_id


def next_slot(now: datetime) -> datetime:
    """The start of the next SWEEP_EVERY slot after `now` (UTC)."""
    every = int(SWEEP_EVERY.total_seconds())
    stamp = int(_aware(now).timestamp())
    return datetime.fromtimestamp((stamp // every + 1) * every, UTC).replace(tzinfo=None)


def schedule_next_sweep(services: Services, now: datetime | None = None) -> str | None:
    slot = next_slot(now or clock.utcnow())
    return schedule_sweep(services, slot, name=f"{int(_aware(slot).timestamp())}")


def schedule_after_activity(services: Services, activity_id: int, ends_at: datetime) -> str | None:
    """A sweep when a claimed need's activity ends (a later end time gets its own job)."""
    stamp = int(_aware(ends_at).timestamp())
    return schedule_sweep(services, ends_at, name=f"activity-{activity_id}-{stamp}")


def sweep_needs() -> str:
    """The RQ job: one sweep, then the next one scheduled."""
    services = services_of(current_app)
    swept = needs_followup.sweep(services.api, services.db, services.settings)
    schedule_next_sweep(services)
    log.info("needs sweep: %s", swept)
    return str(swept)
