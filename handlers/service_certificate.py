"""申请证明: a volunteer asks for a service certificate (志愿服务证明) for all their confirmed
records or a date range, and gets the PDF's link and its verification page."""

from __future__ import annotations

from datetime import date
from typing import Any

from domain import clock
from domain.errors import Ineligible, ValidationError
from domain.hours import parse_day
from handlers.context import Context
from services import attendance_records, certificates, volunteers
from wechat.conversation import Data, Flow, Step
from wechat.messages import Reply
from wechat.router import Router

router = Router("service_certificate")

ALL = "全部服务记录"
RANGE = "指定时间段"


def _not_after_today(text: str, data: Data) -> str:
    day = parse_day(text)
    if day > clock.beijing_date():
        raise ValidationError("日期不能晚于今天。")
    return day.isoformat()


def _until(text: str, data: Data) -> str:
    day = _not_after_today(text, data) if text not in ("今天", "至今") else None
    value = day or clock.beijing_date().isoformat()
    if value < data["period_from"]:
        raise ValidationError("结束日期不能早于开始日期。")
    return value


def _ranged(data: Data) -> bool:
    return data.get("scope") == RANGE


STEPS = (
    Step("scope", "证明范围", "请选择证明包含的服务记录：", choices=(ALL, RANGE)),
    Step(
        "period_from",
        "开始日期",
        "请输入开始日期，例如「2026-01-01」：",
        parse=_not_after_today,
        when=_ranged,
        when_label="指定时间段",
    ),
    Step(
        "period_to",
        "结束日期",
        "请输入结束日期，例如「2026-12-31」，或回复「今天」：",
        parse=_until,
        when=_ranged,
        when_label="指定时间段",
    ),
)


def _registered_with_records(ctx: Context) -> Reply | None:
    with ctx.services.db.Session() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            return Reply(text="您还不是注册志愿者，点击底部菜单「志愿者 → 注册」完成注册。")
        if not attendance_records.confirmed_records(session, volunteer.id):
            return Reply(
                text="您还没有经组织方确认的服务记录，暂不能开具志愿服务证明。"
                "参加活动并签到、签退，组织方确认时长后即可申请。"
            )
    return None


def _day(value: Any) -> date | None:
    return date.fromisoformat(value) if isinstance(value, str) else None


def _issue(ctx: Context, data: Data) -> str:
    settings = ctx.services.settings
    with ctx.services.db.Session.begin() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            raise Ineligible("您还不是注册志愿者，不能开具证明。")
        certificate = certificates.issue(
            session,
            volunteer,
            issuer=settings.certificate_issuer,
            base_url=settings.public_base_url,
            period_from=_day(data.get("period_from")),
            period_to=_day(data.get("period_to")),
        )
        content = certificate.content
        code = certificate.code
    base = settings.public_base_url
    return (
        "志愿服务证明已开具。\n"
        f"范围：{content['period']}，共 {content['activity_count']} 次活动、"
        f"{content['total_hours']} 小时。\n"
        f"验证码：{code}\n\n"
        f"下载证明（PDF）：{certificates.pdf_url(base, code)}\n"
        f"在线核验：{certificates.verify_url(base, code)}\n\n"
        "证明出具后不可修改；再次申请会出具新证明，旧证明将显示「已被新证明取代」。"
    )


CERTIFICATE = Flow(
    name="service_certificate",
    title="申请志愿服务证明",
    steps=STEPS,
    on_confirm=_issue,
    before_start=_registered_with_records,
    summary_title="请核对证明范围",
)

FLOWS = [CERTIFICATE]


@router.keyword("申请证明", "开具证明", "志愿服务证明", "服务证明")
def request_certificate(ctx: Context) -> Reply:
    return ctx.conversations.start(ctx, CERTIFICATE.name)
