"""Check-in and check-out (签到, 签退) at an activity.

Each activity has two temporary scene QR codes, whose scenes carry a random token
(`act:in:<token>`, `act:out:<token>`), and a 6-digit code for people who cannot scan. Scanning
or typing is accepted from 30 minutes before the start to 1 hour after the end.

A check-in or check-out runs under the activity's row lock, as sign-ups do, so a walk-in never
takes more places than are left. The caller owns the transaction and makes `lock(...)` its
first statement: under MariaDB's REPEATABLE READ the snapshot is then taken after the lock, so
the plain reads that follow see every earlier commit, and no gap locks are taken (locking reads
of missing rows would deadlock check-ins of different activities).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import clock
from domain.errors import ValidationError
from domain.hours import CHECK_OUT_CLOSES_AFTER, check_in_window, format_hours, served_hours
from models.activity import CANCELLED, DRAFT, SIGNED_UP, Activity, Signup
from models.service import Attendance, CheckinCode
from models.volunteer import ACTIVE, Volunteer
from services import signups
from wechat.client import WeChatAPI

__all__ = [
    "IN",
    "OUT",
    "CheckinRefused",
    "Done",
    "Scene",
    "check_in",
    "check_out",
    "codes_for",
    "find_by_code",
    "lock",
    "parse_scene",
    "renew",
    "scene_for",
]

IN = "in"
OUT = "out"
SCENE_PREFIX = "act"
KIND_LABELS = {IN: "签到", OUT: "签退"}
TOKEN_BYTES = 12  # 16 URL-safe characters


class CheckinRefused(ValidationError):
    """The check-in or check-out cannot be taken; `hint` tells the person why (in Chinese)."""


@dataclass(frozen=True)
class Scene:
    kind: str
    token: str


def scene_for(kind: str, token: str) -> str:
    return f"{SCENE_PREFIX}:{kind}:{token}"


def parse_scene(scene: str) -> Scene | None:
    """`act:in:<token>` / `act:out:<token>`, or None for any other scene (a team's, say)."""
    prefix, _, rest = scene.partition(":")
    kind, _, token = rest.partition(":")
    if prefix != SCENE_PREFIX or kind not in KIND_LABELS or not token:
        return None
    return Scene(kind, token)


# -- the codes -------------------------------------------------------------------------------


def _open_codes(session: Session, now: datetime) -> set[str]:
    """6-digit codes of activities whose check-in window has not closed yet."""
    return set(
        session.scalars(
            select(CheckinCode.code)
            .join(Activity, Activity.id == CheckinCode.activity_id)
            .where(Activity.ends_at >= now - CHECK_OUT_CLOSES_AFTER)
        )
    )


def _new_code(session: Session, now: datetime) -> str:
    taken = _open_codes(session, now)
    while True:
        code = f"{secrets.randbelow(900000) + 100000}"
        if code not in taken:
            return code


def codes_for(session: Session, activity: Activity, now: datetime) -> CheckinCode:
    """The activity's check-in codes, made on first use."""
    codes = session.get(CheckinCode, activity.id)
    if codes is None:
        codes = CheckinCode(
            activity_id=activity.id,
            token=secrets.token_urlsafe(TOKEN_BYTES),
            code=_new_code(session, now),
            walk_ins_allowed=False,
        )
        session.add(codes)
        session.flush()
    return codes


def renew(session: Session, activity: Activity, now: datetime) -> CheckinCode:
    """New scenes and a new 6-digit code: printed or shared codes stop working at once."""
    codes = codes_for(session, activity, now)
    codes.token = secrets.token_urlsafe(TOKEN_BYTES)
    codes.code = _new_code(session, now)
    codes.in_ticket = codes.in_url = codes.out_ticket = codes.out_url = None
    codes.qr_expires_at = None
    session.flush()
    return codes


def by_scene(session: Session, scene: Scene) -> CheckinCode | None:
    return session.scalar(select(CheckinCode).where(CheckinCode.token == scene.token))


def find_by_code(session: Session, code: str, now: datetime) -> CheckinCode | None:
    """The activity a typed 6-digit code belongs to: the one whose window is open, else the
    nearest (so the reply can say 'not yet' or 'over')."""
    found = session.scalars(
        select(CheckinCode)
        .join(Activity, Activity.id == CheckinCode.activity_id)
        .where(CheckinCode.code == code)
        .order_by(Activity.starts_at.desc())
    ).all()
    for codes in found:
        activity = session.get(Activity, codes.activity_id)
        if activity is not None and check_in_window(activity.starts_at, activity.ends_at).contains(
            now
        ):
            return codes
    return found[0] if found else None


# -- checking in and out ---------------------------------------------------------------------


@dataclass(frozen=True)
class Done:
    """What happened, for the reply."""

    activity: Activity
    attendance: Attendance
    repeated: bool = False  # checked in (or out) already: nothing changed
    walk_in: bool = False
    hours: Decimal | None = None  # measured on check-out


def _refuse_outside_window(activity: Activity, kind: str, now: datetime) -> None:
    if activity.status == CANCELLED:
        raise CheckinRefused(f"活动「{activity.title}」已取消，无需{KIND_LABELS[kind]}。")
    if activity.status == DRAFT:
        raise CheckinRefused("签到码无效：该活动尚未发布。")
    window = check_in_window(activity.starts_at, activity.ends_at)
    if window.early(now):
        raise CheckinRefused(
            f"活动「{activity.title}」的签到将于 {clock.show(window.opens)} 开始"
            "（活动开始前30分钟），请届时再试。"
        )
    if window.late(now):
        raise CheckinRefused(
            f"活动「{activity.title}」的{KIND_LABELS[kind]}已于 {clock.show(window.closes)} 截止"
            "（活动结束后1小时）。如需补录时长，请联系活动组织方。"
        )


def lock(session: Session, activity_id: int) -> Activity | None:
    """The activity's row lock: the first statement of a check-in's transaction."""
    return signups.lock_activity(session, activity_id)


def attendance_of(session: Session, activity_id: int, volunteer_id: int) -> Attendance | None:
    return session.scalar(
        select(Attendance).where(
            Attendance.activity_id == activity_id, Attendance.volunteer_id == volunteer_id
        )
    )


def _is_signed_up(session: Session, activity_id: int, volunteer_id: int) -> bool:
    signup = signups.find_live(session, activity_id, volunteer_id)
    return signup is not None and signup.status == SIGNED_UP


def places_taken(session: Session, activity_id: int) -> int:
    """Signed-up volunteers plus walk-ins who checked in (under the activity's lock)."""
    walk_ins = session.scalar(
        select(func.count())
        .select_from(Attendance)
        .where(Attendance.activity_id == activity_id, Attendance.walk_in.is_(True))
    )
    signed_up = session.scalar(
        select(func.count())
        .select_from(Signup)
        .where(Signup.activity_id == activity_id, Signup.status == SIGNED_UP)
    )
    return int(walk_ins or 0) + int(signed_up or 0)


def _admit_walk_in(session: Session, activity: Activity, codes: CheckinCode) -> None:
    if not codes.walk_ins_allowed:
        raise CheckinRefused(
            f"您没有报名活动「{activity.title}」，组织方未开放现场签到。"
            "如有疑问，请联系现场工作人员。"
        )
    if activity.capacity is not None and places_taken(session, activity.id) >= activity.capacity:
        raise CheckinRefused(f"活动「{activity.title}」名额已满，暂不能现场签到。")


def _locked_activity(session: Session, codes: CheckinCode) -> Activity:
    activity = lock(session, codes.activity_id)  # already held: the caller's first statement
    if activity is None:  # the foreign key makes this impossible; a clear error all the same
        raise CheckinRefused("签到码无效，请向活动组织方索取新的签到码。")
    return activity


def check_in(
    session: Session, codes: CheckinCode, volunteer: Volunteer, method: str, now: datetime
) -> Done:
    if volunteer.status != ACTIVE:
        raise CheckinRefused("只有注册志愿者可以签到。")
    activity = _locked_activity(session, codes)
    _refuse_outside_window(activity, IN, now)
    existing = attendance_of(session, activity.id, volunteer.id)
    if existing is not None:
        return Done(activity, existing, repeated=True, walk_in=existing.walk_in)
    walk_in = not _is_signed_up(session, activity.id, volunteer.id)
    if walk_in:
        _admit_walk_in(session, activity, codes)
    attendance = Attendance(
        activity_id=activity.id,
        volunteer_id=volunteer.id,
        walk_in=walk_in,
        checked_in_at=now,
        check_in_method=method,
    )
    session.add(attendance)
    session.flush()
    return Done(activity, attendance, walk_in=walk_in)


def check_out(
    session: Session, codes: CheckinCode, volunteer: Volunteer, method: str, now: datetime
) -> Done:
    activity = _locked_activity(session, codes)
    _refuse_outside_window(activity, OUT, now)
    attendance = attendance_of(session, activity.id, volunteer.id)
    if attendance is None:
        raise CheckinRefused(
            f"您还没有在活动「{activity.title}」签到，不能签退。"
            f"请先扫描签到码，或回复「签到 {codes.code}」签到。"
        )
    repeated = attendance.checked_out_at is not None
    if not repeated:
        attendance.checked_out_at = now
        attendance.check_out_method = method
    assert attendance.checked_out_at is not None
    hours = served_hours(
        attendance.checked_in_at, attendance.checked_out_at, activity.starts_at, activity.ends_at
    )
    return Done(activity, attendance, repeated=repeated, walk_in=attendance.walk_in, hours=hours)


# -- what the person is told -----------------------------------------------------------------


def checked_in_text(done: Done, code: str) -> str:
    title = done.activity.title
    when = clock.show(done.attendance.checked_in_at, "%H:%M")
    if done.repeated:
        return f"您已于 {when} 在活动「{title}」签到，无需重复签到。"
    walk_in = "（现场签到）" if done.walk_in else ""
    return (
        f"签到成功{walk_in}！\n活动：{title}\n签到时间：{when}\n\n"
        f"活动结束时请扫描签退码，或回复「签退 {code}」签退。"
    )


def checked_out_text(done: Done) -> str:
    title = done.activity.title
    assert done.attendance.checked_out_at is not None
    when = clock.show(done.attendance.checked_out_at, "%H:%M")
    hours = format_hours(done.hours or 0)
    if done.repeated:
        return f"您已于 {when} 在活动「{title}」签退，本次记录时长 {hours} 小时（待组织方确认）。"
    return (
        f"签退成功！\n活动：{title}\n签退时间：{when}\n"
        f"本次服务时长：{hours} 小时（按活动起止时间计算，待组织方确认后计入「服务时长」）。\n"
        "感谢您的志愿服务！"
    )


def qr_expiry_seconds(activity: Activity, now: datetime) -> int:
    """A temporary QR code lives until the check-out window closes (WeChat: 60 s – 30 days)."""
    closes = check_in_window(activity.starts_at, activity.ends_at).closes
    seconds = int((closes - now).total_seconds())
    return max(60, min(seconds, 2592000))


def qr_still_valid(codes: CheckinCode, now: datetime) -> bool:
    return (
        codes.in_ticket is not None
        and codes.out_ticket is not None
        and codes.qr_expires_at is not None
        and codes.qr_expires_at - timedelta(minutes=5) > now
    )


def scene_qr_codes(
    session: Session, api: WeChatAPI, activity: Activity, now: datetime
) -> CheckinCode:
    """The activity's codes with both temporary scene QR codes (WeChat's qrcode/create with
    QR_STR_SCENE), created or re-created when missing or about to expire."""
    codes = codes_for(session, activity, now)
    if qr_still_valid(codes, now):
        return codes
    seconds = qr_expiry_seconds(activity, now)
    check_in_qr = api.create_qrcode(
        scene_for(IN, codes.token), permanent=False, expire_seconds=seconds
    )
    check_out_qr = api.create_qrcode(
        scene_for(OUT, codes.token), permanent=False, expire_seconds=seconds
    )
    codes.in_ticket, codes.in_url = str(check_in_qr["ticket"]), str(check_in_qr["url"])
    codes.out_ticket, codes.out_url = str(check_out_qr["ticket"]), str(check_out_qr["url"])
    codes.qr_expires_at = now + timedelta(seconds=seconds)
    session.flush()
    return codes


def check_in_open(activity: Activity, now: datetime) -> bool:
    return activity.status not in (CANCELLED, DRAFT) and not check_in_window(
        activity.starts_at, activity.ends_at
    ).late(now)


def scannable(session: Session, now: datetime) -> list[tuple[CheckinCode, Activity]]:
    """Activities whose QR codes exist and whose check-in window has not closed, soonest first
    (what the simulator offers to scan)."""
    rows = session.execute(
        select(CheckinCode, Activity)
        .join(Activity, Activity.id == CheckinCode.activity_id)
        .where(
            CheckinCode.in_ticket.is_not(None),
            Activity.ends_at >= now - CHECK_OUT_CLOSES_AFTER,
            Activity.status.not_in((CANCELLED, DRAFT)),
        )
        .order_by(Activity.starts_at)
        .limit(20)
    ).all()
    return [(codes, activity) for codes, activity in rows]
