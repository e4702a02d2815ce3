"""签到与时长 of one activity: the 签到/签退 QR codes as printable pictures and the 6-digit code,
walk-ins on or off, the roster, and the organiser's confirmation of hours (confirm all, adjust
one with a reason, mark absent) and answers to 申请更正. The actions are the team console's
too (console/attendance_desk.py); this is the operators' desk: activities in their region,
changes in the audit log."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from console import attendance_desk
from console.attendance_desk import Desk
from console.blueprint import bp, client_ip, services, user
from domain import clock
from domain.hours import check_in_window
from models.activity import Activity
from services import activities, attendance, attendance_corrections, operators


def _activity(session: Session, activity_id: int) -> Activity:
    activity = activities.get_visible(session, user().scope, activity_id)
    if activity is None:
        abort(404)
    return activity


def _record(session: Session, activity: Activity, action: str, summary: str) -> None:
    operators.audit(session, user(), action, summary=summary, target=activity, ip=client_ip())


def _back(activity_id: int) -> ResponseReturnValue:
    return redirect(url_for("console.attendance", activity_id=activity_id))


def _desk() -> Desk:
    return Desk(services(), _activity, _record, f"{user().username}（工作台）", _back)


@bp.get("/activities/<int:activity_id>/attendance", endpoint="attendance")
def attendance_page(activity_id: int) -> ResponseReturnValue:
    now = clock.utcnow()
    with _desk().open(activity_id) as (session, activity):
        shown = attendance_desk.page_values(session, activity, now)
        return render_template(
            "console/attendance.html",
            **shown,
            window=check_in_window(activity.starts_at, activity.ends_at),
            corrections=attendance_corrections.of_activity(session, activity.id),
            records={row.record.id: row for row in shown["rows"] if row.record is not None},
        )


@bp.post("/activities/<int:activity_id>/attendance/walk-ins")
def attendance_walk_ins(activity_id: int) -> ResponseReturnValue:
    allow = request.form.get("allow") == "1"
    with _desk().open(activity_id, write=True) as (session, activity):
        codes = attendance.codes_for(session, activity, clock.utcnow())
        codes.walk_ins_allowed = allow
        summary = f"{'允许' if allow else '关闭'}现场签到：{activity.title}"
        _record(session, activity, "walk_ins", summary)
    flash("已允许未报名的志愿者在名额内现场签到。" if allow else "已关闭现场签到。")
    return _back(activity_id)


_AT = "/activities/<int:activity_id>/attendance"
attendance_desk.add_routes(
    bp,
    _desk,
    {
        "codes": (f"{_AT}/codes", "attendance_codes"),
        "poster": (f"{_AT}/<kind>.png", "attendance_poster"),
        "confirm": (f"{_AT}/confirm", "attendance_confirm"),
        "adjust": (f"{_AT}/<int:volunteer_id>/adjust", "attendance_adjust"),
        "absent": (f"{_AT}/<int:volunteer_id>/absent", "attendance_absent"),
        "correction": (f"{_AT}/corrections/<int:correction_id>", "attendance_correction"),
    },
)
