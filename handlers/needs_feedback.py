"""「评价」: the poster of a completed need rates the service (满意度 1–5 and a comment), a short
flow of the conversation engine. The request comes after the activity ends (the needs sweep
sends it, as a customer-service message or the need-progress template); the poster answers
whenever they reply 「评价」 (or 「评价 XQ…」 for one of several), and an interrupted rating is
kept like any flow (继续)."""

from __future__ import annotations

import logging
from typing import Any

from domain.contact import parse_free_text
from domain.errors import Ineligible, ValidationError
from handlers.context import Context
from models.need import Need
from services import needs, needs_followup
from services.needs_followup import SATISFACTION_LABELS
from wechat.conversation import Flow, Step
from wechat.conversation.flow import Data
from wechat.messages import Reply
from wechat.router import Router

log = logging.getLogger(__name__)
router = Router("needs_feedback")

NOTHING = "您目前没有待评价的需求。服务完成后我们会请您评价；回复「我的需求」查看进度。"


def _score(answer: str, _data: Data) -> int:
    if answer not in SATISFACTION_LABELS:  # pragma: no cover - the answer comes from the list
        raise ValidationError("请回复 1-5 的数字。")
    return SATISFACTION_LABELS.index(answer) + 1


def _show_score(value: Any, _data: Data) -> str:
    return f"{value}分（{SATISFACTION_LABELS[int(value) - 1]}）"


def _comment(text: str, _data: Data) -> str:
    return parse_free_text(text, needs_followup.COMMENT_MAX, "意见建议")


def _confirm(ctx: Context, data: Data) -> str:
    with ctx.services.db.Session.begin() as session:
        try:
            need = needs_followup.record_feedback(
                session,
                int(data["need_id"]),
                ctx.openid,
                int(data["satisfaction"]),
                data.get("comment"),
            )
        except ValidationError as error:
            raise Ineligible(error.hint) from None
        need_no = need.need_no
    log.info("need %s rated", need_no)
    return f"感谢您对需求 {need_no} 服务的评价！您的意见会转给服务队和科协，帮助我们改进服务。"


FEEDBACK = Flow(
    name="needs_feedback",
    title="服务评价",
    intro="感谢您使用科技志愿服务，请花半分钟评价本次服务。",
    steps=(
        Step(
            "satisfaction",
            "满意度",
            "请为本次服务的满意度打分（1分最低，5分最高）：",
            parse=_score,
            choices=SATISFACTION_LABELS,
            display=_show_score,
        ),
        Step(
            "comment",
            "意见建议",
            "请写下您对服务的意见或建议（500字以内）：",
            parse=_comment,
            optional=True,
        ),
    ),
    on_confirm=_confirm,
    summary_title="请核对您的评价，确认后提交",
)

FLOWS = [FEEDBACK]


def _start(ctx: Context, need: Need, answer: str | None = None) -> Reply:
    about = {"need_id": need.id, "need_no": need.need_no}
    head = f"【服务评价】需求 {need.need_no}（{need.requester_name}）"
    reply = ctx.conversations.start(ctx, FEEDBACK.name, about=about, answer=answer)
    return Reply(text=f"{head}\n{reply.text}")


@router.keyword("评价", "服务评价", "评价服务", "满意度评价")
def rate(ctx: Context) -> Reply | str:
    with ctx.services.db.Session() as session:
        waiting = list(needs_followup.awaiting_feedback(session, ctx.openid))
        if len(waiting) > 1:
            lines = [f"{n.need_no}｜{n.requester_name}｜{n.field}" for n in waiting[:10]]
            return (
                "您有多个需求待评价：\n" + "\n".join(lines) + f"\n\n请回复「评价 编号」，"
                f"如「评价 {waiting[0].need_no}」。"
            )
    if not waiting:
        return NOTHING
    return _start(ctx, waiting[0])


@router.pattern(r"评价\s*[#＃]?\s*([Xx][Qq]\d{6,14})\s*([1-5])?\s*分?")
def rate_one(ctx: Context) -> Reply | str:
    assert ctx.match is not None
    with ctx.services.db.Session() as session:
        need = needs.find_need(session, ctx.match.group(1))
        why = needs_followup.feedback_refusal(need, ctx.openid)
    if why is not None or need is None:
        return why or NOTHING
    return _start(ctx, need, ctx.match.group(2))
