"""签到与时长 for both consoles: the operators' console (an activity in the operator's region)
and the team console (an activity of the admin's teams). Each console describes itself as a
Desk: how it opens an activity (read, or write under the activity's row lock), how it records a
change, who confirms, and where it goes back to. The actions here do the rest: the check-in QR
codes, the printable posters, confirming hours (all, adjust one with a reason, absent) and the
answers to 申请更正; every rule is the attendance services'."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from flask import Blueprint, Response, abort, flash, request
from flask.typing import ResponseReturnValue
from sqlalchemy.orm import Session

from domain import clock
from domain.errors import ValidationError
from domain.hours import format_hours, parse_hours
from extensions import Services
from models.activity import Activity
from models.service import CheckinCode
from services import (
    attendance,
    attendance_corrections,
    attendance_posters,
    attendance_records,
    attendance_roster,
)
from wechat.errors import WeChatAPIError

log = logging.getLogger(__name__)

# (session, activity id) → the activity, or 404 when it is not this desk's.
Finder = Callable[[Session, int], Activity]
# (session, activity, action, summary): the console's audit trail.
Recorder = Callable[[Session, Activity, str, str], None]


@dataclass(frozen=True)
class Desk:
    """What differs between the consoles' 签到与时长 pages."""

    services: Services
    find: Finder
    record: Recorder
    recorder: str  # who confirms, as the service records show it
    back: Callable[[int], ResponseReturnValue]

    @contextmanager
    def open(self, activity_id: int, write: bool = False) -> Iterator[tuple[Session, Activity]]:
        """The activity in a session; with `write`, in a transaction whose first statement is
        the activity's row lock (see services/attendance.py)."""
        db = self.services.db
        with db.Session.begin() if write else db.Session() as session:
            if write:
                attendance.lock(session, activity_id)
            yield session, self.find(session, activity_id)


# The actions, by name, and the URL variables each takes; add_routes gives them a console's
# URLs and endpoint names.
Action = Callable[..., ResponseReturnValue]


def add_routes(bp: Blueprint, desk: Callable[[], Desk], routes: dict[str, tuple[str, str]]) -> None:
    """Register the actions on `bp`: `routes` maps an action's name (codes, poster, confirm,
    adjust, absent, correction) to its URL rule and endpoint."""
    for name, (rule, endpoint) in routes.items():
        action = ACTIONS[name]

        def view(action: Action = action, **values: Any) -> ResponseReturnValue:
            return action(desk(), **values)

        methods = ["GET"] if name == "poster" else ["POST"]
        bp.add_url_rule(rule, endpoint, view, methods=methods)


def page_values(session: Session, activity: Activity, now: datetime) -> dict[str, Any]:
    """What both pages show: the codes, whether the QR codes still work and check-in is open,
    the roster, and the evaluations to choose from."""
    codes = session.get(CheckinCode, activity.id)
    return {
        "activity": activity,
        "codes": codes,
        "qr_ready": codes is not None and attendance.qr_still_valid(codes, now),
        "check_in_open": attendance.check_in_open(activity, now),
        "rows": attendance_roster.roster(session, activity),
        "format_hours": format_hours,
        "evaluations": attendance_records.EVALUATIONS,
    }


def make_codes(desk: Desk, activity_id: int) -> ResponseReturnValue:
    """Create (or re-create, when `renew` is set) the QR codes through WeChat's API."""
    now = clock.utcnow()
    renew = bool(request.form.get("renew"))
    try:
        with desk.open(activity_id, write=True) as (session, activity):
            if not attendance.check_in_open(activity, now):
                raise ValidationError("活动已结束或已取消，不能再生成签到码。")
            if renew:
                attendance.renew(session, activity, now)
            attendance.scene_qr_codes(session, desk.services.api, activity, now)
            desk.record(session, activity, "checkin_codes", f"生成签到二维码：{activity.title}")
    except ValidationError as exc:
        flash(exc.hint, "error")
    except WeChatAPIError:
        flash("微信接口暂时不可用，签到二维码未能生成，请稍后重试。", "error")
    else:
        flash(
            "已重新生成签到码，旧的二维码和6位签到码已失效。"
            if renew
            else "签到、签退二维码已生成，可打印张贴。"
        )
    return desk.back(activity_id)


def poster(desk: Desk, activity_id: int, kind: str) -> ResponseReturnValue:
    """The printable picture of the 签到 (`in`) or 签退 (`out`) QR code."""
    if kind not in (attendance.IN, attendance.OUT):
        abort(404)
    svc = desk.services
    with desk.open(activity_id) as (session, activity):
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


def confirm(desk: Desk, activity_id: int) -> ResponseReturnValue:
    evaluation = request.form.get("evaluation") or None
    if evaluation is not None and evaluation not in attendance_records.EVALUATIONS:
        flash("评价请从列表中选择。", "error")
        return desk.back(activity_id)
    with desk.open(activity_id, write=True) as (session, activity):
        done = attendance_records.confirm_all(session, activity, desk.recorder, evaluation)
        summary = f"确认时长：{activity.title}，{done.confirmed} 人"
        desk.record(session, activity, "hours_confirm", summary)
    message = f"已确认 {done.confirmed} 人的服务时长，共 {format_hours(done.total_hours)} 小时。"
    if done.missing_check_out:
        message += f"{done.missing_check_out} 人未签退，请逐一调整时长或标记缺勤。"
    flash(message)
    return desk.back(activity_id)


def adjust(desk: Desk, activity_id: int, volunteer_id: int) -> ResponseReturnValue:
    hours = parse_hours(request.form.get("hours", ""))
    if hours is None:
        flash("时长请填写 0 到 168 之间、以 0.5 为单位的数字。", "error")
        return desk.back(activity_id)
    reason = request.form.get("reason", "")
    try:
        with desk.open(activity_id, write=True) as (session, activity):
            person = _on_roster(session, activity, volunteer_id)
            attendance_records.adjust(session, activity, volunteer_id, hours, reason, desk.recorder)
            summary = (
                f"调整时长：{activity.title}，{person} 记 {format_hours(hours)} 小时，"
                f"原因：{reason.strip()}"
            )
            desk.record(session, activity, "hours_adjust", summary)
    except ValidationError as exc:
        flash(exc.hint, "error")
    else:
        flash(f"已记录 {format_hours(hours)} 小时。")
    return desk.back(activity_id)


def absent(desk: Desk, activity_id: int, volunteer_id: int) -> ResponseReturnValue:
    with desk.open(activity_id, write=True) as (session, activity):
        person = _on_roster(session, activity, volunteer_id)
        attendance_records.mark_absent(
            session, activity, volunteer_id, desk.recorder, request.form.get("reason", "")
        )
        desk.record(session, activity, "hours_absent", f"标记缺勤：{activity.title}，{person}")
    flash("已标记为缺勤。")
    return desk.back(activity_id)


def correction(desk: Desk, activity_id: int, correction_id: int) -> ResponseReturnValue:
    """Accept (with the corrected hours) or decline a volunteer's 申请更正; they are told."""
    decision = request.form.get("decision")
    reason = request.form.get("reason", "")
    now = clock.utcnow()
    try:
        with desk.open(activity_id, write=True) as (session, activity):
            pending = {
                c.id for c in attendance_corrections.pending_for_activity(session, activity.id)
            }
            if correction_id not in pending:
                raise ValidationError("该更正申请不存在或已处理。")
            if decision == "accept":
                hours = parse_hours(request.form.get("hours", ""))
                if hours is None:
                    raise ValidationError("更正后的时长请填写以 0.5 为单位的数字。")
                answered = attendance_corrections.accept(
                    session, correction_id, hours, reason, desk.recorder, now
                )
                summary = f"同意更正：{activity.title}，记 {format_hours(hours)} 小时"
            else:
                answered = attendance_corrections.decline(
                    session, correction_id, reason, desk.recorder, now
                )
                summary = f"不予更正：{activity.title}"
            desk.record(session, activity, "correction", summary)
            openid, text = attendance_corrections.decision_text(session, answered)
    except ValidationError as exc:
        flash(exc.hint, "error")
    else:
        flash("已处理更正申请。")
        _tell(desk, openid, text)
    return desk.back(activity_id)


ACTIONS: dict[str, Action] = {
    "codes": make_codes,
    "poster": poster,
    "confirm": confirm,
    "adjust": adjust,
    "absent": absent,
    "correction": correction,
}


def _on_roster(session: Session, activity: Activity, volunteer_id: int) -> str:
    """「name（volunteer number）」 of someone on the roster; 404 for anyone else."""
    for row in attendance_roster.roster(session, activity):
        if row.volunteer_id == volunteer_id:
            return f"{row.name}（{row.volunteer_no}）"
    abort(404)


def _tell(desk: Desk, openid: str | None, text: str) -> None:
    """A customer-service message; when WeChat refuses (no message from them in 48 h), the
    volunteer still finds the answer under 「服务记录」."""
    if openid is None:
        return
    try:
        desk.services.api.send_text(openid, text)
    except WeChatAPIError as error:
        log.info("correction answer not delivered errcode=%s", error.errcode)
