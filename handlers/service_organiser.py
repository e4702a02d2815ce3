"""The organiser in chat (a team admin of the activity's team): the 签到/签退 codes as printable
pictures, walk-ins on or off, and, for small activities, the roster and the hours (confirm all,
adjust one with a reason, mark absent). Larger activities are confirmed in the console.

签到码 12                 the two QR codes (news with both pictures) and the 6-digit code
现场签到 12 开|关         walk-ins
签到名单 12               the roster with numbers
确认时长 12               confirm everyone's measured hours
调整时长 12 3 2.5 原因     person 3 gets 2.5 hours, with the reason
缺勤 12 3                 person 3 was absent
更正申请 12               pending 申请更正 of the activity
同意更正 5 3 意见          correction 5 accepted: 3 hours, with the reason
驳回更正 5 理由            correction 5 declined, with the reason
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy.orm import Session

from domain import clock
from domain.errors import ValidationError
from domain.hours import format_hours, parse_hours
from handlers.context import Context
from models.activity import Activity
from models.service import RecordCorrection, ServiceRecord
from models.volunteer import Volunteer
from services import (
    attendance,
    attendance_corrections,
    attendance_records,
    attendance_roster,
    teams,
    volunteers,
)
from wechat.errors import WeChatAPIError
from wechat.messages import Article, Reply
from wechat.router import Router

log = logging.getLogger(__name__)
router = Router("service_organiser")

# Chat shows the whole roster in one message (WeChat cuts text past 2048 bytes): beyond
# this, the console is the place.
SMALL_ACTIVITY = 20
T = TypeVar("T")


class NotOrganiser(ValidationError):
    pass


def _recorder(ctx: Context) -> str:
    with ctx.services.db.Session() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        name = volunteer.name if volunteer and volunteer.name else "队伍管理员"
    return f"{name}（队伍管理员）"


def _as_organiser(ctx: Context, activity_id: int, work: Callable[[Session, Activity], T]) -> T:
    """Run `work(session, activity)` in one transaction if the sender administers the
    activity's team."""
    with ctx.services.db.Session.begin() as session:
        activity = attendance.lock(session, activity_id)  # first: see services/attendance.py
        if activity is None:
            raise NotOrganiser(f"没有找到编号为 {activity_id} 的活动。")
        if activity.team_id is None or not teams.is_admin(session, activity.team_id, ctx.openid):
            raise NotOrganiser(
                "只有活动组织队伍的管理员可以管理签到和时长；科协组织的活动请在工作台操作。"
            )
        return work(session, activity)


def _activity_id(ctx: Context) -> int:
    assert ctx.match is not None
    return int(ctx.match.group(1))


@router.pattern(r"签到码\s*(\d{1,9})")
def codes(ctx: Context) -> Reply | str:
    base = ctx.services.settings.public_base_url

    def make(session: Session, activity: Activity) -> Reply | str:
        now = clock.utcnow()
        if not attendance.check_in_open(activity, now):
            return f"活动「{activity.title}」已结束或已取消，不能再生成签到码。"
        found = attendance.scene_qr_codes(session, ctx.services.api, activity, now)
        page = f"{base}/checkin-codes/{found.token}"
        return Reply(
            articles=(
                Article(
                    title=f"「{activity.title}」签到码 {found.code}（点击打开，可打印）",
                    description="签到、签退二维码各一张，请张贴在现场。",
                    url=page,
                    picurl=f"{page}/in.png",
                ),
                Article(title="签退二维码", url=page, picurl=f"{page}/out.png"),
            )
        )

    try:
        return _as_organiser(ctx, _activity_id(ctx), make)
    except NotOrganiser as refused:
        return refused.hint
    except WeChatAPIError:
        return "微信接口暂时不可用，签到码未能生成，请稍后再试。"


@router.pattern(r"现场签到\s*(\d{1,9})\s*(开|关|开启|关闭|允许|不允许)")
def walk_ins(ctx: Context) -> str:
    assert ctx.match is not None
    allow = ctx.match.group(2) in ("开", "开启", "允许")

    def switch(session: Session, activity: Activity) -> str:
        found = attendance.codes_for(session, activity, clock.utcnow())
        found.walk_ins_allowed = allow
        if allow:
            return f"已允许未报名的志愿者在名额内现场签到「{activity.title}」。"
        return f"已关闭「{activity.title}」的现场签到，只有已报名的志愿者可以签到。"

    try:
        return _as_organiser(ctx, _activity_id(ctx), switch)
    except NotOrganiser as refused:
        return refused.hint


def _roster_text(session: Session, activity: Activity) -> str:
    rows = attendance_roster.roster(session, activity)
    if not rows:
        return f"「{activity.title}」还没有人报名或签到。"
    if len(rows) > SMALL_ACTIVITY:
        return f"「{activity.title}」共 {len(rows)} 人，人数较多，请在工作台「活动 → 签到与时长」中确认时长。"
    lines = [f"【{activity.title}】签到名单（{len(rows)} 人）"]
    for row in rows:
        joined = "" if row.signed_up else "（现场）" if row.walk_in else ""
        lines.append(f"{row.number}. {row.name}{joined}｜{row.state}")
    lines += [
        "",
        f"回复「确认时长 {activity.id}」确认全部已签退者的时长（可加评价，如「确认时长 {activity.id} 优秀」）；",
        f"「调整时长 {activity.id} 序号 小时 原因」调整一人，例如「调整时长 {activity.id} 1 2.5 忘记签退」；",
        f"「缺勤 {activity.id} 序号」标记缺勤。",
    ]
    return "\n".join(lines)


@router.pattern(r"(?:签到名单|签到情况|时长名单)\s*(\d{1,9})")
def roster(ctx: Context) -> str:
    try:
        return _as_organiser(ctx, _activity_id(ctx), _roster_text)
    except NotOrganiser as refused:
        return refused.hint


def _small(session: Session, activity: Activity) -> list[attendance_roster.Row]:
    rows = list(attendance_roster.roster(session, activity))
    if len(rows) > SMALL_ACTIVITY:
        raise NotOrganiser("人数较多的活动请在工作台「活动 → 签到与时长」中确认时长。")
    return rows


@router.pattern(r"确认时长\s*(\d{1,9})\s*(优秀|良好|合格)?")
def confirm_all(ctx: Context) -> str:
    assert ctx.match is not None
    recorder = _recorder(ctx)
    evaluation = ctx.match.group(2)

    def confirm(session: Session, activity: Activity) -> str:
        _small(session, activity)
        done = attendance_records.confirm_all(session, activity, recorder, evaluation)
        text = f"已确认 {done.confirmed} 人的服务时长，共 {format_hours(done.total_hours)} 小时。"
        if done.missing_check_out:
            text += f"\n{done.missing_check_out} 人未签退，请用「调整时长」或「缺勤」逐一处理。"
        return text

    try:
        return _as_organiser(ctx, _activity_id(ctx), confirm)
    except NotOrganiser as refused:
        return refused.hint


def _person(rows: list[attendance_roster.Row], number: int) -> attendance_roster.Row:
    for row in rows:
        if row.number == number:
            return row
    raise NotOrganiser(f"名单中没有序号 {number}，回复「签到名单 活动编号」查看序号。")


@router.pattern(r"调整时长\s*(\d{1,9})\s+(\d{1,4})\s+(\S+)\s*(.*)")
def adjust(ctx: Context) -> str:
    assert ctx.match is not None
    number = int(ctx.match.group(2))
    hours = parse_hours(ctx.match.group(3))
    reason = ctx.match.group(4)
    if hours is None:
        return "时长请填写以 0.5 为单位的数字，例如「调整时长 12 1 2.5 忘记签退」。"
    recorder = _recorder(ctx)

    def change(session: Session, activity: Activity) -> str:
        row = _person(_small(session, activity), number)
        assert hours is not None
        attendance_records.adjust(session, activity, row.volunteer_id, hours, reason, recorder)
        return (
            f"已为 {row.name} 记录 {format_hours(hours)} 小时（原因：{' '.join(reason.split())}）。"
        )

    try:
        return _as_organiser(ctx, _activity_id(ctx), change)
    except ValidationError as refused:
        return refused.hint


@router.pattern(r"缺勤\s*(\d{1,9})\s+(\d{1,4})")
def absent(ctx: Context) -> str:
    assert ctx.match is not None
    number = int(ctx.match.group(2))
    recorder = _recorder(ctx)

    def mark(session: Session, activity: Activity) -> str:
        row = _person(_small(session, activity), number)
        attendance_records.mark_absent(session, activity, row.volunteer_id, recorder)
        return f"已将 {row.name} 标记为缺勤。"

    try:
        return _as_organiser(ctx, _activity_id(ctx), mark)
    except NotOrganiser as refused:
        return refused.hint


# -- corrections (申请更正) of the team's activities -------------------------------------------


@router.pattern(r"更正申请\s*(\d{1,9})")
def corrections(ctx: Context) -> str:
    def listing(session: Session, activity: Activity) -> str:
        pending = attendance_corrections.pending_for_activity(session, activity.id)
        if not pending:
            return f"「{activity.title}」暂无待处理的更正申请。"
        lines = [f"【{activity.title}】待处理的更正申请"]
        for correction in pending:
            volunteer = session.get(Volunteer, correction.volunteer_id)
            name = volunteer.name if volunteer and volunteer.name else "志愿者"
            lines.append(
                f"申请 {correction.id}：{name}，现记 {format_hours(correction.hours_before)} 小时。"
                f"理由：{correction.reason}"
            )
        lines += [
            "",
            "回复「同意更正 申请编号 小时 意见」更正，例如「同意更正 "
            f"{pending[0].id} 3 核对签到表属实」；",
            "回复「驳回更正 申请编号 理由」不予更正。",
        ]
        return "\n".join(lines)

    try:
        return _as_organiser(ctx, _activity_id(ctx), listing)
    except NotOrganiser as refused:
        return refused.hint


def _activity_of_correction(ctx: Context, correction_id: int) -> int:
    with ctx.services.db.Session() as session:
        correction = session.get(RecordCorrection, correction_id)
        record = session.get(ServiceRecord, correction.record_id) if correction else None
        if record is None:
            raise NotOrganiser(f"没有找到编号为 {correction_id} 的更正申请。")
        return record.activity_id


def _answer_correction(ctx: Context, correction_id: int, decide: Callable[..., Any]) -> str:
    try:
        activity_id = _activity_of_correction(ctx, correction_id)

        def answer(session: Session, activity: Activity) -> tuple[str | None, str, str]:
            correction = decide(session)
            openid, told = attendance_corrections.decision_text(session, correction)
            return openid, told, correction.status_label

        openid, told, label = _as_organiser(ctx, activity_id, answer)
    except ValidationError as refused:
        return refused.hint
    _tell(ctx, openid, told)
    return f"更正申请 {correction_id} 已处理：{label}。已通知志愿者。"


@router.pattern(r"同意更正\s*(\d{1,9})\s+(\S+)\s*(.*)")
def accept_correction(ctx: Context) -> str:
    assert ctx.match is not None
    correction_id = int(ctx.match.group(1))
    hours = parse_hours(ctx.match.group(2))
    reason = ctx.match.group(3)
    if hours is None:
        return "时长请填写以 0.5 为单位的数字，例如「同意更正 5 3 核对签到表属实」。"
    recorder = _recorder(ctx)
    return _answer_correction(
        ctx,
        correction_id,
        lambda session: attendance_corrections.accept(
            session, correction_id, hours, reason, recorder, clock.utcnow()
        ),
    )


@router.pattern(r"(?:驳回更正|不予更正)\s*(\d{1,9})\s*(.*)")
def decline_correction(ctx: Context) -> str:
    assert ctx.match is not None
    correction_id = int(ctx.match.group(1))
    reason = ctx.match.group(2)
    recorder = _recorder(ctx)
    return _answer_correction(
        ctx,
        correction_id,
        lambda session: attendance_corrections.decline(
            session, correction_id, reason, recorder, clock.utcnow()
        ),
    )


def _tell(ctx: Context, openid: str | None, text: str) -> None:
    """A customer-service message (refused by WeChat when they have not written in 48 h; the
    answer is in 「服务记录」 all the same)."""
    if openid is None:
        return
    try:
        ctx.services.api.send_text(openid, text)
    except WeChatAPIError as error:
        log.info("correction answer not delivered openid=%s errcode=%s", openid, error.errcode)
