"""活动: list, create, edit, publish / finish / cancel (within the operator's region)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import SelectChoice

from console.blueprint import bp, client_ip, services, user
from console.forms import ActionForm, ActivityForm, region_options, team_options
from domain import clock
from domain.errors import ValidationError
from models.activity import (
    CANCELLED,
    FINISHED,
    RECRUITING,
    STATUS_LABELS,
    Activity,
)
from models.team import Team
from services import activities, activity_messages, signups
from services.activity_messages import Messenger
from services.operators import Scope
from worker.reminders import schedule_reminder

PAGE_SIZE = 50
DONE = {
    RECRUITING: "活动已发布，志愿者可在「活动 → 近期活动」中看到。",
    FINISHED: "活动已标记为结束。",
    CANCELLED: "活动已取消。",
}


def _activity(session: Session, activity_id: int, *, lock: bool = False) -> Activity:
    activity = activities.get_visible(session, user().scope, activity_id, lock=lock)
    if activity is None:
        abort(404)
    return activity


def _choices(form: ActivityForm, session: Session) -> None:
    scope = user().scope
    kexie = activities.organiser_region_name(scope.code)
    form.team_id.choices = team_options(activities.teams_for(session, scope), "（请选择）")
    form.team_id.choices.insert(1, SelectChoice(activities.ORGANISER_KEXIE, f"{kexie}（本级科协）"))
    form.region.choices = region_options(scope)
    form.required_region.choices = [SelectChoice("", "（不限）"), *region_options(Scope())[1:]]


def _values(form: ActivityForm) -> dict[str, Any]:
    return {
        "title": form.title.data,
        "type": form.type.data,
        "key_date": form.key_date.data,
        "team_id": form.team_id.data,
        "region": form.region.data,
        "place": form.place.data,
        "starts_at": _stored(form.starts_at.data),
        "ends_at": _stored(form.ends_at.data),
        "capacity": form.capacity.data,
        "signup_deadline": _stored(form.signup_deadline.data),
        "description": form.description.data,
        "contact": form.contact.data,
        "service_field": form.service_field.data,
        "latitude": form.latitude.data,
        "longitude": form.longitude.data,
        "required_skills": form.required_skills.data,
        "required_region": form.required_region.data,
        "cover": form.cover.data,
    }


def _stored(typed: datetime | None) -> datetime | None:
    """A time typed in Beijing time, as stored (UTC)."""
    return clock.from_beijing(typed) if typed is not None else None


def _typed(stored: datetime | None) -> datetime | None:
    """A stored time as the form shows it (Beijing wall-clock time)."""
    return clock.to_beijing(stored).replace(tzinfo=None) if stored is not None else None


def after_change(activity_id: int, outcome: activities.Outcome) -> None:
    """After the commit: tell the people signed up, and (re)schedule the day-before reminder
    (a job whose start no longer matches does nothing)."""
    svc = services()
    activity_messages.deliver(Messenger(svc.api, svc.db, svc.settings), activity_id, outcome)
    schedule_reminder(svc, activity_id)


@bp.get("/activities", endpoint="activities")
def activities_list() -> ResponseReturnValue:
    status = request.args.get("status", "")
    with services().db.Session() as session:
        query = activities.visible(user().scope)
        if status in STATUS_LABELS:
            query = query.where(Activity.status == status)
        found = session.scalars(
            query.order_by(Activity.starts_at.desc(), Activity.id.desc()).limit(PAGE_SIZE)
        ).all()
        team_names = dict(
            session.execute(
                select(Team.id, Team.name).where(Team.id.in_({a.team_id for a in found}))
            ).all()
        )
    return render_template(
        "console/activities.html",
        activities=found,
        team_names=team_names,
        organiser_region_name=activities.organiser_region_name,
        status=status,
        statuses=STATUS_LABELS,
        region_text=activities.region_text,
        when_text=activities.when_text,
    )


@bp.route("/activities/new", methods=["GET", "POST"])
def activities_new() -> ResponseReturnValue:
    form = ActivityForm()
    svc = services()
    with svc.db.Session() as session:
        _choices(form, session)
    if form.validate_on_submit():
        try:
            with svc.db.Session.begin() as session:
                data = activities.ActivityInput.check(session, user().scope, _values(form))
                activity = activities.create(session, data, user(), client_ip())
                activity_id = activity.id
        except ValidationError as exc:
            flash(exc.hint, "error")
        else:
            flash("活动已保存为草稿，确认无误后点击「发布」。")
            return redirect(url_for("console.activities_show", activity_id=activity_id))
    return render_template("console/activity_form.html", form=form, activity=None)


@bp.route("/activities/<int:activity_id>/edit", methods=["GET", "POST"])
def activities_edit(activity_id: int) -> ResponseReturnValue:
    svc = services()
    with svc.db.Session() as session:
        activity = _activity(session, activity_id)
        form = ActivityForm(obj=activity) if request.method == "GET" else ActivityForm()
        if request.method == "GET":
            form.team_id.data = (
                str(activity.team_id) if activity.team_id else activities.ORGANISER_KEXIE
            )
            form.required_region.data = activity.required_region_code or ""
            form.region.data = activity.county_code or activity.prefecture_code or ""
            form.starts_at.data = _typed(activity.starts_at)
            form.ends_at.data = _typed(activity.ends_at)
            form.signup_deadline.data = _typed(activity.signup_deadline)
        _choices(form, session)
    if form.validate_on_submit():
        try:
            with svc.db.Session.begin() as session:
                locked = _activity(session, activity_id, lock=True)  # first: see signups
                data = activities.ActivityInput.check(session, user().scope, _values(form))
                outcome = activities.update(session, locked, data, user(), client_ip())
        except ValidationError as exc:
            flash(exc.hint, "error")
        else:
            after_change(activity_id, outcome)
            flash("已保存。" + ("已通知报名的志愿者。" if outcome.message else ""))
            return redirect(url_for("console.activities_show", activity_id=activity_id))
    return render_template("console/activity_form.html", form=form, activity=activity)


@bp.get("/activities/<int:activity_id>")
def activities_show(activity_id: int) -> ResponseReturnValue:
    with services().db.Session() as session:
        activity = _activity(session, activity_id)
        team_name = activities.team_name(session, activity)
        roster = signups.roster(session, activity.id)
    return render_template(
        "console/activity.html",
        activity=activity,
        team_name=team_name,
        roster=roster,
        region_text=activities.region_text(activity),
        when_text=activities.when_text(activity),
        transitions=[
            (status, activities.ACTION_LABELS[status])
            for status in activities.TRANSITIONS.get(activity.status, ())
        ],
        action_form=ActionForm(),
    )


@bp.post("/activities/<int:activity_id>/status/<status>")
def activities_status(activity_id: int, status: str) -> ResponseReturnValue:
    try:
        with services().db.Session.begin() as session:
            outcome = activities.set_status(
                session,
                _activity(session, activity_id, lock=True),
                status,
                user(),
                client_ip(),
                reason=request.form.get("reason"),
            )
    except ValidationError as exc:
        flash(exc.hint, "error")
    else:
        after_change(activity_id, outcome)
        flash(DONE[status] + ("已通知报名的志愿者。" if outcome.message else ""))
    return redirect(url_for("console.activities_show", activity_id=activity_id))
