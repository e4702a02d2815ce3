"""签到 and 签退: scanning an activity's scene QR codes (SCAN, or subscribe with the scene for
someone who does not follow yet) or typing 「签到 123456」 / 「签退 123456」.

A registered volunteer is checked in at once. Anyone else is invited to register; the activity
is remembered (Redis, until the check-out window closes) and the check-in completes when the
registration does (`after_registration`, called by the registration flow).
"""

from __future__ import annotations

from datetime import datetime

from domain import clock
from domain.hours import check_in_window
from handlers.context import Context
from models.activity import Activity
from models.service import METHOD_CODE, METHOD_QR, CheckinCode
from services import attendance, volunteers
from wechat.router import Router

router = Router("service_checkin")

# Wrong 6-digit codes one user may type in FAILURE_WINDOW seconds (1 in 10^6 per guess).
MAX_FAILURES = 10
FAILURE_WINDOW = 600

INVALID_QR = "该签到二维码无效或已失效，请扫描现场张贴的最新二维码，或向活动组织方索取签到码。"
INVALID_CODE = "签到码不正确，请核对现场公布的6位签到码后重试。"
TOO_MANY = "签到码输错次数过多，请10分钟后再试，或直接扫描现场二维码。"
PLEASE_REGISTER = (
    "您还不是注册志愿者。请先点击底部菜单「志愿者 → 注册」完成注册，"
    "注册完成后将自动为您在活动「{title}」签到。"
)


def _now() -> datetime:
    return clock.utcnow()


def _run(ctx: Context, codes: CheckinCode, kind: str, method: str) -> str:
    """Check the sender in or out of the activity of `codes`."""
    try:
        with ctx.services.db.Session.begin() as session:
            activity = attendance.lock(session, codes.activity_id)  # the first statement
            assert activity is not None
            volunteer = volunteers.find_by_openid(session, ctx.openid)
            if volunteer is None:
                return _invite_to_register(ctx, activity, kind)
            code = session.merge(codes)
            if kind == attendance.IN:
                done = attendance.check_in(session, code, volunteer, method, _now())
                return attendance.checked_in_text(done, code.code)
            done = attendance.check_out(session, code, volunteer, method, _now())
            return attendance.checked_out_text(done)
    except attendance.CheckinRefused as refused:  # nothing was written
        return refused.hint


def _invite_to_register(ctx: Context, activity: Activity, kind: str) -> str:
    if kind == attendance.OUT:
        return "您还不是注册志愿者，也没有签到，不能签退。请先点击「志愿者 → 注册」完成注册。"
    window = check_in_window(activity.starts_at, activity.ends_at)
    seconds = int((window.closes - _now()).total_seconds())
    if seconds > 0:
        services = ctx.services
        services.redis.set(
            services.keys.checkin_pending(ctx.openid), str(activity.id).encode(), ex=seconds
        )
    return PLEASE_REGISTER.format(title=activity.title)


def scene_reply(ctx: Context) -> str | None:
    """The reply to scanning an activity's 签到/签退 code, or None for any other scene."""
    scene = attendance.parse_scene(ctx.msg.scene or "")
    if scene is None:
        return None
    with ctx.services.db.Session() as session:
        codes = attendance.by_scene(session, scene)
        if codes is not None:
            session.expunge(codes)
    if codes is None:
        return INVALID_QR
    return _run(ctx, codes, scene.kind, METHOD_QR)


@router.pattern(r"(签到|签退)\s*[:：]?\s*(\d{6})")
def typed_code(ctx: Context) -> str:
    assert ctx.match is not None
    kind = attendance.IN if ctx.match.group(1) == "签到" else attendance.OUT
    services = ctx.services
    failures_key = services.keys.checkin_failures(ctx.openid)
    failures = services.redis.get(failures_key)
    if failures is not None and int(failures) >= MAX_FAILURES:
        return TOO_MANY
    with services.db.Session() as session:
        codes = attendance.find_by_code(session, ctx.match.group(2), _now())
        if codes is not None:
            session.expunge(codes)
    if codes is None:
        pipe = services.redis.pipeline()
        pipe.incr(failures_key)
        pipe.expire(failures_key, FAILURE_WINDOW, nx=True)
        pipe.execute()
        return INVALID_CODE
    return _run(ctx, codes, kind, METHOD_CODE)


@router.keyword("签到", "签退", "扫码签到")
def how_to_check_in(ctx: Context) -> str:
    return (
        "活动现场请扫描组织方提供的「签到」二维码签到，活动结束时扫描「签退」二维码签退。\n"
        "无法扫码时，请回复「签到 6位签到码」或「签退 6位签到码」，例如「签到 123456」。\n"
        "签到时间：活动开始前30分钟至活动结束后1小时。"
    )


def after_registration(ctx: Context) -> str | None:
    """Complete a check-in that waited for the registration; the text to add to the reply."""
    services = ctx.services
    raw = services.redis.getdel(services.keys.checkin_pending(ctx.openid))
    if raw is None:
        return None
    with services.db.Session() as session:
        codes = session.get(CheckinCode, int(raw))
        if codes is not None:
            session.expunge(codes)
    if codes is None:
        return None
    return _run(ctx, codes, attendance.IN, METHOD_QR)
