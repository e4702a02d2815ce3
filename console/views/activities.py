"""活动: list, create, edit, publish / finish / cancel (within the operator's region)."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy import select
from sqlalchemy.orm import Session
from wtforms import SelectChoice

from console import activity_forms
from console.blueprint import bp, client_ip, services, user
from console.forms import ActionForm, ActivityForm, team_options
from domain.errors import ValidationError
from models.activity import STATUS_LABELS, Activity
from models.team import Team
from services import activities, signups

PAGE_SIZE = 50


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
    activity_forms.region_choices(form, scope)


def _values(form: ActivityForm) -> dict[str, Any]:
    return {**activity_forms.values(form), "team_id": form.team_id.data}


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
            activity_forms.fill(form, activity)
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
            activity_forms.after_change(svc, activity_id, outcome)
            flash(activity_forms.saved_text(outcome))
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
        transitions=activity_forms.transitions(activity),
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
        activity_forms.after_change(services(), activity_id, outcome)
        flash(activity_forms.status_text(status, outcome))
    return redirect(url_for("console.activities_show", activity_id=activity_id))
