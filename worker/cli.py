"""`flask --app app worker`: an RQ worker for notice jobs. Run as many as you like."""

from __future__ import annotations

import sys

import click
from flask import current_app
from flask.cli import with_appcontext
from rq import SimpleWorker

from domain import clock
from worker.needs_jobs import schedule_sweep
from worker.queue import RQNoticeQueue, check_resumes, recover
from worker.sender import worker_name


@click.command("worker")
@click.option("--burst", is_flag=True, help="Exit once the queue is empty (for scripts and tests).")
@click.option(
    "--with-scheduler",
    is_flag=True,
    help="Also run RQ's scheduler (jobs queued for later); one is active at a time (a lock).",
)
@with_appcontext
def worker_command(burst: bool, with_scheduler: bool) -> None:
    """Send queued notices (RQ on REDIS_URL); resumes notices a stopped worker left."""
    services = current_app.extensions["services"]
    queue = current_app.extensions["notice_queue"]
    if not isinstance(queue, RQNoticeQueue):
        click.echo(
            "REDIS_URL 未设置：通知由 Web 进程在后台线程中发送，无需单独启动 worker。", err=True
        )
        sys.exit(1)
    app = current_app._get_current_object()  # type: ignore[attr-defined]
    recover(app)
    if with_scheduler:  # the needs sweep runs hourly from now on (worker.needs_jobs)
        schedule_sweep(services, clock.utcnow(), name="start")
    if not burst:  # notices paused for the day's quota (45009) resume when their time comes
        check_resumes(app, services.settings.notice_resume_check_seconds)
    # SimpleWorker runs jobs in this process (no fork per job): the app, its database pool and
    # the WeChat clients are built once. Jobs are long (a slice of sending), so a fork would buy
    # nothing.
    worker = SimpleWorker([queue.queue], connection=queue.queue.connection, name=worker_name())
    worker.work(
        burst=burst, logging_level=services.settings.log_level, with_scheduler=with_scheduler
    )
