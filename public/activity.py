"""Public mobile pages that WeChat opens from news cards and template messages: an activity's
page `/a/<id>` (title, time in Beijing time, place, organiser, description, how to sign up) and
the default cover picture under `/a/static/`. No login; drafts are not shown."""

from __future__ import annotations

from typing import cast

from flask import Blueprint, current_app, render_template
from flask.typing import ResponseReturnValue

from domain import clock, regions
from extensions import Services
from services import activities, signups

bp = Blueprint(
    "public",
    __name__,
    url_prefix="/a",
    static_folder="static",
    static_url_path="/static",
    template_folder="templates",
)


def _services() -> Services:
    return cast(Services, current_app.extensions["services"])


@bp.get("/<int:activity_id>")
def activity_page(activity_id: int) -> ResponseReturnValue:
    services = _services()
    with services.db.Session() as session:
        activity = activities.published(session, activity_id)
        if activity is None:
            return render_template("public/missing.html"), 404
        organiser = activities.team_name(session, activity)
        taken = signups.places_taken(session, activity.id)
    now = clock.utcnow()
    requirements = []
    if activity.required_skills:
        requirements.append("专业领域：" + "、".join(activity.required_skills))
    if activity.required_region_code:
        requirements.append("所在地区：" + regions.label(activity.required_region_code))
    return render_template(
        "public/activity.html",
        activity=activity,
        account_name=services.settings.account_name,
        organiser=organiser,
        when=activities.when_text(activity),
        region=activities.region_text(activity),
        deadline=clock.show(activity.signup_deadline, "%Y年%-m月%-d日 %H:%M"),
        status=activity.status_label_at(now),
        status_key=activity.status_at(now),
        open_for_signup=signups.closed_reason(activity, now) is None,
        taken=taken,
        requirements=requirements,
        cover=activities.cover_path(activity),
    )
