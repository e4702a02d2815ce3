"""The activity form as both consoles use it (operators' 活动 and the team console's 活动):
the values handed to the activity services, times typed in Beijing time, the form filled from
a stored activity, the choices every form has, the status buttons and what each one says when
it is done, and what follows a change (messages to people signed up, the day-before reminder).
Each console adds only what is its own: which teams and regions it may choose."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import flash
from wtforms import SelectChoice

from console.forms import ActivityForm, region_options
from domain import clock
from extensions import Services
from models.activity import CANCELLED, FINISHED, RECRUITING, Activity
from services import activities, activity_messages
from services.activity_messages import Messenger
from services.operators import Scope
from worker.reminders import schedule_reminder

DONE = {
    RECRUITING: "活动已发布，志愿者可在「活动 → 近期活动」中看到。",
    FINISHED: "活动已标记为结束。",
    CANCELLED: "活动已取消。",
}
TOLD = "已通知报名的志愿者。"


def values(form: ActivityForm) -> dict[str, Any]:
    """What the activity services check (ActivityInput), times stored in UTC. The organising
    team is each console's own (`team_id`)."""
    return {
        "title": form.title.data,
        "type": form.type.data,
        "key_date": form.key_date.data,
        "region": form.region.data,
        "place": form.place.data,
        "starts_at": stored(form.starts_at.data),
        "ends_at": stored(form.ends_at.data),
        "capacity": form.capacity.data,
        "signup_deadline": stored(form.signup_deadline.data),
        "description": form.description.data,
        "contact": form.contact.data,
        "service_field": form.service_field.data,
        "latitude": form.latitude.data,
        "longitude": form.longitude.data,
        "required_skills": form.required_skills.data,
        "required_region": form.required_region.data,
        "cover": form.cover.data,
    }


def stored(typed: datetime | None) -> datetime | None:
    """A time typed in Beijing time, as stored (UTC)."""
    return clock.from_beijing(typed) if typed is not None else None


def typed(stored_at: datetime | None) -> datetime | None:
    """A stored time as the form shows it (Beijing wall-clock time)."""
    return clock.to_beijing(stored_at).replace(tzinfo=None) if stored_at is not None else None


def fill(form: ActivityForm, activity: Activity) -> None:
    """The fields of an edit form that the activity's columns do not fill by name."""
    form.region.data = activity.county_code or activity.prefecture_code or ""
    form.starts_at.data = typed(activity.starts_at)
    form.ends_at.data = typed(activity.ends_at)
    form.signup_deadline.data = typed(activity.signup_deadline)


def region_choices(form: ActivityForm, scope: Scope) -> None:
    """Where the activity takes place (within `scope`) and whom it asks for (anywhere)."""
    form.region.choices = region_options(scope)
    form.required_region.choices = [SelectChoice("", "（不限）"), *region_options(Scope())[1:]]


def flash_errors(form: ActivityForm) -> None:
    for field in form:
        for error in field.errors:
            flash(f"{field.label.text}：{error}", "error")


def transitions(activity: Activity) -> list[tuple[str, str]]:
    """The status buttons of an activity's page: (status, label)."""
    return [
        (status, activities.ACTION_LABELS[status])
        for status in activities.TRANSITIONS.get(activity.status, ())
    ]


def saved_text(outcome: activities.Outcome) -> str:
    return "已保存。" + (TOLD if outcome.message else "")


def status_text(status: str, outcome: activities.Outcome) -> str:
    return DONE.get(status, "已更新。") + (TOLD if outcome.message else "")


def after_change(svc: Services, activity_id: int, outcome: activities.Outcome) -> None:
    """After the commit: tell the people signed up, and (re)schedule the day-before reminder
    (a job whose start no longer matches does nothing)."""
    activity_messages.deliver(Messenger(svc.api, svc.db, svc.settings), activity_id, outcome)
    schedule_reminder(svc, activity_id)
