"""报名名单 · 签到与时长 of one of the team's activities: the roster with check-in state, the
two check-in QR codes as printable pictures and the 6-digit code, confirming hours (all, adjust
one with a reason, absent), answers to correction requests, and the roster as `.xlsx`. Every
rule is the attendance services'."""

from __future__ import annotations

from flask import abort, redirect, render_template, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from console import attendance_desk
from console.attendance_desk import Desk
from console.team.activities import managed_activity
from console.team.blueprint import bp, client_ip, services, who
from console.team.members import xlsx_response
from domain import clock
from models.activity import Activity
from models.team import Team
from services import attendance_corrections, attendance_roster, team_console
from services.reports_export import Listing


def _activity(session: Session, activity_id: int) -> Activity:
    try:
        return team_console.activity_of(session, who(), activity_id)
    except team_console.NoAccess:
        abort(404)


def _record(session: Session, activity: Activity, action: str, summary: str) -> None:
    team = session.get(Team, activity.team_id)
    assert team is not None
    team_console.record(session, who(), team, action, summary, target=activity, ip=client_ip())


def _back(activity_id: int) -> ResponseReturnValue:
    return redirect(url_for("team.roster", activity_id=activity_id))


def _desk() -> Desk:
    recorder = f"{who().name}（队伍管理员 {who().volunteer_no}）"
    return Desk(services(), _activity, _record, recorder, _back)


@bp.get("/a/<int:activity_id>/roster", endpoint="roster")
def roster_page(activity_id: int) -> ResponseReturnValue:
    with managed_activity(activity_id) as (session, activity, team):
        return render_template(
            "team/roster.html",
            **attendance_desk.page_values(session, activity, clock.utcnow()),
            team=team,
            corrections=attendance_corrections.pending_for_activity(session, activity.id),
        )


attendance_desk.add_routes(
    bp,
    _desk,
    {
        "codes": ("/a/<int:activity_id>/codes", "roster_codes"),
        "poster": ("/a/<int:activity_id>/poster/<any(in, out):kind>.png", "poster"),
        "confirm": ("/a/<int:activity_id>/confirm", "roster_confirm"),
        "adjust": ("/a/<int:activity_id>/people/<int:volunteer_id>/adjust", "roster_adjust"),
        "absent": ("/a/<int:activity_id>/people/<int:volunteer_id>/absent", "roster_absent"),
        "correction": ("/a/<int:activity_id>/corrections/<int:correction_id>", "roster_correction"),
    },
)


@bp.get("/a/<int:activity_id>/roster.xlsx", endpoint="roster_export")
def roster_export(activity_id: int) -> ResponseReturnValue:
    """The roster, one row per person (names and volunteer numbers, no contact data)."""
    with managed_activity(activity_id, write=True) as (session, activity, team):
        rows = [
            (
                row.number,
                row.volunteer_no,
                row.name,
                "是" if row.signed_up else "",
                "是" if row.walk_in else "",
                clock.show(row.checked_in_at) if row.checked_in_at else "",
                clock.show(row.checked_out_at) if row.checked_out_at else "",
                row.state,
            )
            for row in attendance_roster.roster(session, activity)
        ]
        team_console.record(
            session,
            who(),
            team,
            "export_roster",
            f"导出活动名单：{activity.title}（{len(rows)} 人）",
            target=activity,
            ip=client_ip(),
        )
    listing = Listing(
        name="team-roster",
        title="活动名单",
        columns=[("序号", 6), ("志愿者编号", 16), ("姓名", 10), ("已报名", 8), ("现场签到", 8),
                 ("签到时间", 18), ("签退时间", 18), ("时长", 16)],
        rows=rows,
    )  # fmt: skip
    return xlsx_response(listing, f"roster-{activity_id}.xlsx")
