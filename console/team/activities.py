"""活动: the team's activities; create and edit (as drafts), publish, finish, cancel, with the
activity services' rules."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from console import activity_forms
from console.forms import ActivityForm
from console.team.blueprint import bp, client_ip, managed, services, who
from domain.errors import ValidationError
from models.activity import Activity
from models.team import Team
from services import activities, team_console, team_console_activities


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
    activity_forms.region_choices(form, team_console_activities.team_scope(team))
    if request.method == "GET":
        form.team_id.data = str(team.id)
        if activity is not None:
            activity_forms.fill(form, activity)
    return form


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
                    session, who(), team, activity_forms.values(form), client_ip()
                )
                activity_id = activity.id
        except ValidationError as exc:
            flash(exc.hint, "error")
        else:
            flash("活动已保存为草稿，确认无误后点击「发布」。")
            return redirect(url_for("team.activity", activity_id=activity_id))
    elif request.method == "POST":
        activity_forms.flash_errors(form)
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
                    session, who(), team, activity, activity_forms.values(form), client_ip()
                )
        except ValidationError as exc:
            flash(exc.hint, "error")
        else:
            activity_forms.after_change(services(), activity_id, outcome)
            flash(activity_forms.saved_text(outcome))
            return redirect(url_for("team.activity", activity_id=activity_id))
    elif request.method == "POST":
        activity_forms.flash_errors(form)
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
            transitions=activity_forms.transitions(activity),
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
        activity_forms.after_change(services(), activity_id, outcome)
        flash(activity_forms.status_text(status, outcome))
    return redirect(url_for("team.activity", activity_id=activity_id))
