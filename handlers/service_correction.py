"""申请更正: a volunteer asks the organiser to correct one of their service records (within 30
days, with a reason), as a flow of the conversation engine."""

from __future__ import annotations

import logging
from typing import Any

from domain import clock
from domain.errors import Ineligible, ValidationError
from domain.hours import format_hours
from handlers.context import Context
from models.activity import Activity
from models.service import ServiceRecord
from services import attendance_corrections, teams, volunteers
from wechat.conversation import Data, Flow, Step
from wechat.errors import WeChatAPIError
from wechat.messages import Reply
from wechat.router import Router

log = logging.getLogger(__name__)
router = Router("service_correction")


def _volunteer_id(ctx: Context) -> int:
    with ctx.services.db.Session() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            raise Ineligible("您还不是注册志愿者。")
        return volunteer.id


def _record(text: str, data: Data, ctx: Context) -> int:
    number = text.strip().lstrip("#＃")
    if not number.isdigit() or len(number) > 12:
        raise ValidationError("请输入服务记录的编号（数字），回复「服务记录」可查看编号。")
    with ctx.services.db.Session() as session:
        record = attendance_corrections.correctable(
            session, _volunteer_id(ctx), int(number), clock.utcnow()
        )
        return record.id


def _reason(text: str, data: Data) -> str:
    reason = " ".join(text.split())
    if len(reason) < 4:
        raise ValidationError("请具体说明需要更正的内容，例如「实际服务到12:00，应为3小时」。")
    if len(reason) > attendance_corrections.MAX_REASON:
        raise ValidationError(f"理由请不超过 {attendance_corrections.MAX_REASON} 字。")
    return reason


def _show_record(value: Any, data: Data) -> str:
    return f"记录 {value}"


STEPS = (
    Step(
        "record_id",
        "服务记录",
        "请输入需要更正的服务记录编号（回复「服务记录」时每条记录前方括号中的数字）：",
        parse_in_context=_record,
        display=_show_record,
    ),
    Step(
        "reason",
        "更正理由",
        "请说明需要更正的内容和理由（如实际服务时间），不超过200字：",
        parse=_reason,
    ),
)


def _must_be_registered(ctx: Context) -> Reply | None:
    with ctx.services.db.Session() as session:
        if volunteers.find_by_openid(session, ctx.openid) is None:
            return Reply(text="您还不是注册志愿者，没有可更正的服务记录。")
    return None


def _submit(ctx: Context, data: Data) -> str:
    with ctx.services.db.Session.begin() as session:
        correction = attendance_corrections.request(
            session, _volunteer_id(ctx), int(data["record_id"]), data["reason"], clock.utcnow()
        )
        record = session.get(ServiceRecord, correction.record_id)
        assert record is not None
        title, hours = record.activity_title, format_hours(record.hours)
        number = correction.id
        activity = session.get(Activity, record.activity_id)
        team_id = activity.team_id if activity else None
        admins = [admin.openid for admin in teams.admins(session, team_id)] if team_id else []
    _tell_organisers(
        ctx,
        admins,
        f"志愿者对活动「{title}」的服务记录提出更正申请（编号 {number}），"
        f"回复「更正申请 {record.activity_id}」查看并处理。",
    )
    return (
        f"更正申请已提交（申请编号 {number}）。\n活动：{title}\n当前记录：{hours} 小时\n\n"
        "活动组织方处理后会通知您，处理结果可在「服务记录」中查看。"
    )


def _tell_organisers(ctx: Context, openids: list[str], text: str) -> None:
    """Best effort: WeChat refuses customer-service messages to admins silent for 48 h; they
    still find the request under 「更正申请 活动编号」 and in the console."""
    for openid in openids:
        try:
            ctx.services.api.send_text(openid, text)
        except WeChatAPIError as error:
            log.info("correction request not delivered openid=%s errcode=%s", openid, error.errcode)


CORRECTION = Flow(
    name="service_correction",
    title="申请更正服务记录",
    steps=STEPS,
    on_confirm=_submit,
    before_start=_must_be_registered,
    summary_title="请核对更正申请",
)

FLOWS = [CORRECTION]


@router.keyword("申请更正", "更正记录", "记录有误")
def request_correction(ctx: Context) -> Reply:
    return ctx.conversations.start(ctx, CORRECTION.name)
