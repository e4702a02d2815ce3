"""签到与时长 of one activity: the 签到/签退 QR codes as printable pictures and the 6-digit code,
walk-ins on or off, the roster, and the organiser's confirmation of hours (confirm all, adjust
one with a reason, mark absent) and answers to 申请更正."""

from __future__ import annotations

import logging

from flask import Response, abort, flash, redirect, render_template, request, url_for
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from console.blueprint import bp, client_ip, services, user
from domain import clock
from domain.errors import ValidationError
from domain.hours import check_in_window, format_hours, parse_hours
from models.activity import Activity
from models.service import CheckinCode
from services import (
    activities,
    attendance,
    attendance_corrections,
    attendance_posters,
    attendance_records,
    attendance_roster,
    operators,
)
from wechat.errors import WeChatAPIError

log = logging.getLogger(__name__)


def _activity(session: Session, activity_id: int) -> Activity:
    activity = activities.get_visible(session, user().scope, activity_id)
    if activity is None:
        abort(404)
    return activity


def _back(activity_id: int) -> ResponseReturnValue:
    return redirect(url_for("console.attendance", activity_id=activity_id))


def _recorder() -> str:
    return f"{user().username}（工作台）"


@bp.get("/activities/<int:activity_id>/attendance", endpoint="attendance")
def attendance_page(activity_id: int) -> ResponseReturnValue:
    now = clock.utcnow()
    with services().db.Session() as session:
        activity = _activity(session, activity_id)
        codes = session.get(CheckinCode, activity.id)
        rows = attendance_roster.roster(session, activity)
        corrections = attendance_corrections.of_activity(session, activity.id)
        return render_template(
            "console/attendance.html",
            activity=activity,
            codes=codes,
            qr_ready=codes is not None and attendance.qr_still_valid(codes, now),
            window=check_in_window(activity.starts_at, activity.ends_at),
            check_in_open=attendance.check_in_open(activity, now),
            rows=rows,
            evaluations=attendance_records.EVALUATIONS,
            corrections=corrections,
            records={row.record.id: row for row in rows if row.record is not None},
            format_hours=format_hours,
        )


@bp.post("/activities/<int:activity_id>/attendance/codes")
def attendance_codes(activity_id: int) -> ResponseReturnValue:
    """Create (or re-create, when `renew` is set) the QR codes through WeChat's API."""
    svc = services()
    now = clock.utcnow()
    try:
        with svc.db.Session.begin() as session:
            attendance.lock(session, activity_id)  # first: see services/attendance.py
            activity = _activity(session, activity_id)
            if not attendance.check_in_open(activity, now):
                raise ValidationError("活动已结束或已取消，不能再生成签到码。")
            if request.form.get("renew"):
                attendance.renew(session, activity, now)
            attendance.scene_qr_codes(session, svc.api, activity, now)
            operators.audit(
                session,
                user(),
                "checkin_codes",
                summary=f"生成签到二维码：{activity.title}",
                target=activity,
                ip=client_ip(),
            )
    except ValidationError as exc:
        flash(exc.hint, "error")
    except WeChatAPIError:
        flash("微信接口暂时不可用，签到二维码未能生成，请稍后重试。", "error")
    else:
        flash(
            "签到、签退二维码已生成，可打印张贴。"
            if not request.form.get("renew")
            else "已重新生成签到码，旧的二维码和6位签到码已失效。"
        )
    return _back(activity_id)


@bp.get("/activities/<int:activity_id>/attendance/<kind>.png")
def attendance_poster(activity_id: int, kind: str) -> ResponseReturnValue:
    if kind not in (attendance.IN, attendance.OUT):
        abort(404)
    with services().db.Session() as session:
        activity = _activity(session, activity_id)
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


@bp.post("/activities/<int:activity_id>/attendance/walk-ins")
def attendance_walk_ins(activity_id: int) -> ResponseReturnValue:
    allow = request.form.get("allow") == "1"
    with services().db.Session.begin() as session:
        attendance.lock(session, activity_id)  # first: see services/attendance.py
        activity = _activity(session, activity_id)
        codes = attendance.codes_for(session, activity, clock.utcnow())
        codes.walk_ins_allowed = allow
        operators.audit(
            session,
            user(),
            "walk_ins",
            summary=f"{'允许' if allow else '关闭'}现场签到：{activity.title}",
            target=activity,
            ip=client_ip(),
        )
    flash("已允许未报名的志愿者在名额内现场签到。" if allow else "已关闭现场签到。")
    return _back(activity_id)


@bp.post("/activities/<int:activity_id>/attendance/confirm")
def attendance_confirm(activity_id: int) -> ResponseReturnValue:
    evaluation = request.form.get("evaluation") or None
    if evaluation is not None and evaluation not in attendance_records.EVALUATIONS:
        flash("评价请从列表中选择。", "error")
        return _back(activity_id)
    with services().db.Session.begin() as session:
        attendance.lock(session, activity_id)  # first: see services/attendance.py
        activity = _activity(session, activity_id)
        done = attendance_records.confirm_all(session, activity, _recorder(), evaluation)
        operators.audit(
            session,
            user(),
            "hours_confirm",
            summary=f"确认时长：{activity.title}，{done.confirmed} 人",
            target=activity,
            ip=client_ip(),
        )
    message = f"已确认 {done.confirmed} 人的服务时长，共 {format_hours(done.total_hours)} 小时。"
    if done.missing_check_out:
        message += f"{done.missing_check_out} 人未签退，请逐一调整时长或标记缺勤。"
    flash(message)
    return _back(activity_id)


@bp.post("/activities/<int:activity_id>/attendance/<int:volunteer_id>/adjust")
def attendance_adjust(activity_id: int, volunteer_id: int) -> ResponseReturnValue:
    hours = parse_hours(request.form.get("hours", ""))
    if hours is None:
        flash("时长请填写 0 到 168 之间、以 0.5 为单位的数字。", "error")
        return _back(activity_id)
    try:
        with services().db.Session.begin() as session:
            attendance.lock(session, activity_id)  # first: see services/attendance.py
            activity = _activity(session, activity_id)
            _must_be_on_roster(session, activity, volunteer_id)
            attendance_records.adjust(
                session, activity, volunteer_id, hours, request.form.get("reason", ""), _recorder()
            )
            operators.audit(
                session,
                user(),
                "hours_adjust",
                summary=f"调整时长：{activity.title}，志愿者 {volunteer_id} 记 {format_hours(hours)} 小时",
                target=activity,
                ip=client_ip(),
            )
    except ValidationError as exc:
        flash(exc.hint, "error")
    else:
        flash(f"已记录 {format_hours(hours)} 小时。")
    return _back(activity_id)


@bp.post("/activities/<int:activity_id>/attendance/<int:volunteer_id>/absent")
def attendance_absent(activity_id: int, volunteer_id: int) -> ResponseReturnValue:
    with services().db.Session.begin() as session:
        attendance.lock(session, activity_id)  # first: see services/attendance.py
        activity = _activity(session, activity_id)
        _must_be_on_roster(session, activity, volunteer_id)
        attendance_records.mark_absent(
            session, activity, volunteer_id, _recorder(), request.form.get("reason", "")
        )
        operators.audit(
            session,
            user(),
            "hours_absent",
            summary=f"标记缺勤：{activity.title}，志愿者 {volunteer_id}",
            target=activity,
            ip=client_ip(),
        )
    flash("已标记为缺勤。")
    return _back(activity_id)


def _tell(openid: str | None, text: str) -> None:
    """A customer-service message; when WeChat refuses (no message from them in 48 h), the
    volunteer still finds the answer under 「服务记录」."""
    if openid is None:
        return
    try:
        services().api.send_text(openid, text)
    except WeChatAPIError as error:
        log.info("correction answer not delivered openid=%s errcode=%s", openid, error.errcode)


def _must_be_on_roster(session: Session, activity: Activity, volunteer_id: int) -> None:
    if all(row.volunteer_id != volunteer_id for row in attendance_roster.roster(session, activity)):
        abort(404)


@bp.post("/activities/<int:activity_id>/attendance/corrections/<int:correction_id>")
def attendance_correction(activity_id: int, correction_id: int) -> ResponseReturnValue:
    decision = request.form.get("decision")
    reason = request.form.get("reason", "")
    now = clock.utcnow()
    try:
        with services().db.Session.begin() as session:
            attendance.lock(session, activity_id)  # first: see services/attendance.py
            activity = _activity(session, activity_id)
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
            operators.audit(
                session, user(), "correction", summary=summary, target=activity, ip=client_ip()
            )
            openid, text = attendance_corrections.decision_text(session, correction)
    except ValidationError as exc:
        flash(exc.hint, "error")
    else:
        flash("已处理更正申请。")
        _tell(openid, text)
    return _back(activity_id)
