"""The day-before reminder of an activity: a job scheduled with RQ's scheduler (worker.scheduled)
on the notice queue, run by `flask --app app worker` (which starts RQ's scheduler), never by a
thread of the web process.

The job is scheduled when an activity is published and again whenever its start moves; its id
names the activity and the start, and the job does nothing when the start it was scheduled for
is no longer the activity's (a later schedule covers it). Each sign-up is reminded once
(`reminded_at`); a cancelled sign-up gets nothing.
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta

from flask import current_app
from sqlalchemy import select

from domain import clock
from extensions import Services, services_of
from models.activity import OPEN_STATUSES, SIGNED_UP, Activity, Signup
from models.volunteer import ACTIVE, Volunteer
from services import activity_messages
from services.activity_messages import Messenger
from wechat.errors import WeChatAPIError
from worker.scheduled import schedule_at

log = logging.getLogger("worker.reminders")

JOB = "worker.reminders.send_reminders"
AHEAD = timedelta(days=1)


def reminder_time(starts_at: datetime) -> datetime:
    """When the reminder goes out: a day before the start (UTC, aware, as RQ wants it)."""
    return (starts_at - AHEAD).replace(tzinfo=UTC)


def schedule_reminder(services: Services, activity_id: int) -> str | None:
    """(Re)schedule the reminder of an open activity, after a commit."""
    with services.db.Session() as session:
        activity = session.get(Activity, activity_id)
        if activity is None or activity.status not in OPEN_STATUSES:
            return None
        starts_at = activity.starts_at
    job_id = schedule_at(
        services,
        reminder_time(starts_at),
        JOB,
        activity_id,
        starts_at.isoformat(),
        job_id=f"activity-reminder-{activity_id}-{int(starts_at.replace(tzinfo=UTC).timestamp())}",
        description=f"reminders for activity {activity_id}",
    )
    if job_id is None:
        log.info("activity %s: no Redis server, so no reminder job", activity_id)
    return job_id


def send_reminders(activity_id: int, starts_at_iso: str) -> str:
    """Remind everyone signed up for the activity (the RQ job)."""
    services = services_of(current_app)
    messenger = Messenger(services.api, services.db, services.settings)
    return remind(messenger, activity_id, datetime.fromisoformat(starts_at_iso))


def remind(messenger: Messenger, activity_id: int, starts_at: datetime) -> str:
    with messenger.db.Session() as session:
        activity = session.get(Activity, activity_id)
        if activity is None or activity.status not in OPEN_STATUSES:
            return "not open"
        if activity.starts_at != starts_at:
            return "rescheduled"
        if clock.utcnow() >= activity.starts_at:
            return "already started"
        template_id = messenger.settings.activity_reminder_template_id
        data = activity_messages.reminder_data(activity)
        url = messenger.public_url(activity)
    if not template_id:
        log.warning("activity %s: ACTIVITY_REMINDER_TEMPLATE_ID is not set", activity_id)
        return "no template"
    sent = 0
    for signup_id, openid in due(messenger, activity_id):
        try:
            messenger.api.send_template(
                openid, template_id, data, url=url, client_msg_id=f"reminder-{signup_id}"
            )
        except WeChatAPIError as error:
            log.warning("reminder for sign-up %s failed errcode=%s", signup_id, error.errcode)
            continue
        mark_reminded(messenger, signup_id)
        sent += 1
    log.info("activity %s: %s reminders sent", activity_id, sent)
    return f"sent {sent}"


def due(messenger: Messenger, activity_id: int) -> list[tuple[int, str]]:
    with messenger.db.Session() as session:
        rows = session.execute(
            select(Signup.id, Volunteer.openid)
            .join(Volunteer, Volunteer.id == Signup.volunteer_id)
            .where(
                Signup.activity_id == activity_id,
                Signup.status == SIGNED_UP,
                Signup.reminded_at.is_(None),
                Volunteer.status == ACTIVE,
                Volunteer.openid.is_not(None),
            )
            .order_by(Signup.id)
        ).all()
    return [(signup_id, openid) for signup_id, openid in rows if openid]


def mark_reminded(messenger: Messenger, signup_id: int) -> None:
    with messenger.db.Session.begin() as session:
        signup = session.get(Signup, signup_id)
        if signup is not None:
            signup.reminded_at = clock.utcnow()
