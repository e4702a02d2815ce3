"""活动: the team's activities; create and edit (as drafts), publish, finish, cancel, with the
activity services' rules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from console.forms import ActivityForm, SelectChoice, region_options
from console.team.blueprint import bp, client_ip, managed, services, who
from console.views.activities import after_change
from domain import clock
from domain.errors import ValidationError
from models.activity import CANCELLED, FINISHED, RECRUITING, Activity
from models.team import Team
from services import activities, team_console, team_console_activities
from services.operators import Scope

DONE = {
    RECRUITING: "活动已发布，志愿者可在「活动 → 近期活动」中看到。",
    FINISHED: "活动已标记为结束。",
    CANCELLED: "活动已取消。",
}


@contextmanager
def managed_activity(
    activity_id: int, *, write: bool = False
) -> Iterator[tuple[Session, Activity, Team]]:
    """The activity and its team, or 404 when it is not one of this admin's teams'."""
    db = services().db
    with db.Session.begin() if write else db.Session() as session:
        try:
            activity = team_console.activity_of(session, who(), activity_id)
        except team_console.NoAccess:
            abort(404)
        team = session.get(Team, activity.team_id)
        assert team is not None
        yield session, activity, team


def _form(team: Team, activity: Activity | None = None) -> ActivityForm:
    form = (
        ActivityForm(obj=activity)
        if activity is not None and request.method == "GET"
        else ActivityForm()
    )
    form.team_id.choices = [(str(team.id), team.name)]
    form.region.choices = region_options(team_console_activities.team_scope(team))
    form.required_region.choices = [SelectChoice("", "（不限）"), *region_options(Scope())[1:]]
    if request.method == "GET":
        form.team_id.data = str(team.id)
        if activity is not None:
            form.region.data = activity.county_code or activity.prefecture_code or ""
            form.starts_at.data = _typed(activity.starts_at)
            form.ends_at.data = _typed(activity.ends_at)
            form.signup_deadline.data = _typed(activity.signup_deadline)
    return form


def _values(form: ActivityForm) -> dict[str, Any]:
    return {
        "title": form.title.data,
        "type": form.type.data,
        "key_date": form.key_date.data,
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
    return clock.from_beijing(typed) if typed is not None else None


def _typed(stored: datetime | None) -> datetime | None:
    return clock.to_beijing(stored).replace(tzinfo=None) if stored is not None else None


def _form_errors(form: ActivityForm) -> None:
    for field in form:
        for error in field.errors:
            flash(f"{field.label.text}：{error}", "error")


@bp.get("/t/<int:team_id>/activities", endpoint="activities")
def activities_page(team_id: int) -> ResponseReturnValue:
    with managed(team_id) as (session, team):
        found = team_console_activities.of_team(session, team.id)
        return render_template(
            "team/activities.html", team=team, found=found, when_text=activities.when_text
        )


@bp.route("/t/<int:team_id>/activities/new", methods=["GET", "POST"])
def activity_new(team_id: int) -> ResponseReturnValue:
    with managed(team_id) as (_session, team):
        form = _form(team)
    if form.validate_on_submit():
        try:
            with managed(team_id, write=True) as (session, team):
                activity = team_console_activities.create(
                    session, who(), team, _values(form), client_ip()
                )
                activity_id = activity.id
        except ValidationError as exc:
            flash(exc.hint, "error")
        else:
            flash("活动已保存为草稿，确认无误后点击「发布」。")
            return redirect(url_for("team.activity", activity_id=activity_id))
    elif request.method == "POST":
        _form_errors(form)
    with managed(team_id) as (_session, team):
        return render_template("team/activity_form.html", team=team, form=form, activity=None)


@bp.route("/a/<int:activity_id>/edit", methods=["GET", "POST"])
def activity_edit(activity_id: int) -> ResponseReturnValue:
    with managed_activity(activity_id) as (_session, activity, team):
        form = _form(team, activity)
    if form.validate_on_submit():
        try:
            with managed_activity(activity_id, write=True) as (session, activity, team):
                outcome = team_console_activities.update(
                    session, who(), team, activity, _values(form), client_ip()
                )
        except ValidationError as exc:
            flash(exc.hint, "error")
        else:
            after_change(activity_id, outcome)
            flash("已保存。" + ("已通知报名的志愿者。" if outcome.message else ""))
            return redirect(url_for("team.activity", activity_id=activity_id))
    elif request.method == "POST":
        _form_errors(form)
    with managed_activity(activity_id) as (_session, activity, team):
        return render_template("team/activity_form.html", team=team, form=form, activity=activity)


@bp.get("/a/<int:activity_id>", endpoint="activity")
def activity_page(activity_id: int) -> ResponseReturnValue:
    with managed_activity(activity_id) as (_session, activity, team):
        return render_template(
            "team/activity.html",
            team=team,
            activity=activity,
            region_text=activities.region_text(activity),
            when_text=activities.when_text(activity),
            transitions=[
                (status, activities.ACTION_LABELS[status])
                for status in activities.TRANSITIONS.get(activity.status, ())
            ],
        )


@bp.post("/a/<int:activity_id>/status/<status>")
def activity_status(activity_id: int, status: str) -> ResponseReturnValue:
    try:
        with managed_activity(activity_id, write=True) as (session, activity, team):
            outcome = team_console_activities.set_status(
                session, who(), team, activity, status, client_ip(), request.form.get("reason")
            )
    except ValidationError as exc:
        flash(exc.hint, "error")
    else:
        after_change(activity_id, outcome)
        flash(DONE.get(status, "已更新。") + ("已通知报名的志愿者。" if outcome.message else ""))
    return redirect(url_for("team.activity", activity_id=activity_id))
