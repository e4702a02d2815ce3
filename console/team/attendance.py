"""报名名单 · 签到与时长 of one of the team's activities: the roster with check-in state, the
two check-in QR codes as printable pictures and the 6-digit code, confirming hours (all, adjust
one with a reason, absent), answers to correction requests, and the roster as `.xlsx`. Every
rule is the attendance services'."""

from __future__ import annotations

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from console.team.activities import managed_activity
from console.team.blueprint import bp, client_ip, services, who
from console.team.members import tell, xlsx_response
from domain import clock
from domain.errors import ValidationError
from domain.hours import format_hours, parse_hours
from models.activity import Activity
from models.service import CheckinCode
from services import (
    attendance,
    attendance_corrections,
    attendance_posters,
    attendance_records,
    attendance_roster,
    team_console,
)
from services.reports_export import Listing
from wechat.errors import WeChatAPIError


def _back(activity_id: int) -> ResponseReturnValue:
    return redirect(url_for("team.roster", activity_id=activity_id))


def _recorder() -> str:
    return f"{who().name}（队伍管理员 {who().volunteer_no}）"


def _on_roster(session: Session, activity: Activity, volunteer_id: int) -> str:
    for row in attendance_roster.roster(session, activity):
        if row.volunteer_id == volunteer_id:
            return f"{row.name}（{row.volunteer_no}）"
    abort(404)


@bp.get("/a/<int:activity_id>/roster", endpoint="roster")
def roster_page(activity_id: int) -> ResponseReturnValue:
    now = clock.utcnow()
    with managed_activity(activity_id) as (session, activity, team):
        codes = session.get(CheckinCode, activity.id)
        return render_template(
            "team/roster.html",
            team=team,
            activity=activity,
            codes=codes,
            qr_ready=codes is not None and attendance.qr_still_valid(codes, now),
            check_in_open=attendance.check_in_open(activity, now),
            rows=attendance_roster.roster(session, activity),
            corrections=attendance_corrections.pending_for_activity(session, activity.id),
            format_hours=format_hours,
            evaluations=attendance_records.EVALUATIONS,
        )


@bp.post("/a/<int:activity_id>/codes")
def roster_codes(activity_id: int) -> ResponseReturnValue:
    now = clock.utcnow()
    try:
        with managed_activity(activity_id, write=True) as (session, activity, team):
            if not attendance.check_in_open(activity, now):
                raise ValidationError("活动已结束或已取消，不能再生成签到码。")
            if request.form.get("renew"):
                attendance.renew(session, activity, now)
            attendance.scene_qr_codes(session, services().api, activity, now)
            team_console.record(
                session,
                who(),
                team,
                "checkin_codes",
                f"生成签到码：{activity.title}",
                target=activity,
                ip=client_ip(),
            )
    except ValidationError as exc:
        flash(exc.hint, "error")
    except WeChatAPIError:
        flash("微信接口暂时不可用，签到二维码未能生成，请稍后重试。", "error")
    else:
        flash("签到、签退二维码已生成，可打印张贴。")
    return _back(activity_id)


@bp.get("/a/<int:activity_id>/poster/<any(in, out):kind>.png", endpoint="poster")
def roster_poster(activity_id: int, kind: str) -> ResponseReturnValue:
    with managed_activity(activity_id) as (session, activity, _team):
        svc = services()
        png = attendance_posters.activity_poster_png(
            session,
            svc.redis,
            svc.keys.checkin_poster,
            activity,
            kind,
            svc.settings.certificate_font,
        )
    if png is None:
        abort(404)
    return Response(png, mimetype="image/png")


@bp.post("/a/<int:activity_id>/confirm")
def roster_confirm(activity_id: int) -> ResponseReturnValue:
    evaluation = request.form.get("evaluation") or None
    if evaluation is not None and evaluation not in attendance_records.EVALUATIONS:
        flash("评价请从列表中选择。", "error")
        return _back(activity_id)
    with managed_activity(activity_id, write=True) as (session, activity, team):
        done = attendance_records.confirm_all(session, activity, _recorder(), evaluation)
        team_console.record(
            session,
            who(),
            team,
            "hours_confirm",
            f"确认时长：{activity.title}，{done.confirmed} 人",
            target=activity,
            ip=client_ip(),
        )
    message = f"已确认 {done.confirmed} 人的服务时长，共 {format_hours(done.total_hours)} 小时。"
    if done.missing_check_out:
        message += f"{done.missing_check_out} 人未签退，请逐一调整时长或标记缺勤。"
    flash(message)
    return _back(activity_id)


@bp.post("/a/<int:activity_id>/people/<int:volunteer_id>/adjust")
def roster_adjust(activity_id: int, volunteer_id: int) -> ResponseReturnValue:
    hours = parse_hours(request.form.get("hours", ""))
    if hours is None:
        flash("时长请填写 0 到 168 之间、以 0.5 为单位的数字。", "error")
        return _back(activity_id)
    try:
        with managed_activity(activity_id, write=True) as (session, activity, team):
            person = _on_roster(session, activity, volunteer_id)
            reason = request.form.get("reason", "")
            attendance_records.adjust(session, activity, volunteer_id, hours, reason, _recorder())
            team_console.record(
                session,
                who(),
                team,
                "hours_adjust",
                f"调整时长：{activity.title}，{person} 记 {format_hours(hours)} 小时，原因：{reason.strip()}",
                target=activity,
                ip=client_ip(),
            )
    except ValidationError as exc:
        flash(exc.hint, "error")
    else:
        flash(f"已记录 {format_hours(hours)} 小时。")
    return _back(activity_id)


@bp.post("/a/<int:activity_id>/people/<int:volunteer_id>/absent")
def roster_absent(activity_id: int, volunteer_id: int) -> ResponseReturnValue:
    with managed_activity(activity_id, write=True) as (session, activity, team):
        person = _on_roster(session, activity, volunteer_id)
        attendance_records.mark_absent(
            session, activity, volunteer_id, _recorder(), request.form.get("reason", "")
        )
        team_console.record(
            session,
            who(),
            team,
            "hours_absent",
            f"标记缺勤：{activity.title}，{person}",
            target=activity,
            ip=client_ip(),
        )
    flash("已标记为缺勤。")
    return _back(activity_id)


@bp.post("/a/<int:activity_id>/corrections/<int:correction_id>")
def roster_correction(activity_id: int, correction_id: int) -> ResponseReturnValue:
    decision = request.form.get("decision")
    reason = request.form.get("reason", "")
    now = clock.utcnow()
    try:
        with managed_activity(activity_id, write=True) as (session, activity, team):
            pending = {
                c.id for c in attendance_corrections.pending_for_activity(session, activity.id)
            }
            if correction_id not in pending:
                raise ValidationError("该更正申请不存在或已处理。")
            if decision == "accept":
                hours = parse_hours(request.form.get("hours", ""))
                if hours is None:
                    raise ValidationError("更正后的时长请填写以 0.5 为单位的数字。")
                correction = attendance_corrections.accept(
                    session, correction_id, hours, reason, _recorder(), now
                )
                summary = f"同意更正：{activity.title}，记 {format_hours(hours)} 小时"
            else:
                correction = attendance_corrections.decline(
                    session, correction_id, reason, _recorder(), now
                )
                summary = f"不予更正：{activity.title}"
            team_console.record(
                session, who(), team, "correction", summary, target=activity, ip=client_ip()
            )
            openid, text = attendance_corrections.decision_text(session, correction)
    except ValidationError as exc:
        flash(exc.hint, "error")
    else:
        flash("已处理更正申请。")
        tell(openid, text)
    return _back(activity_id)


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
