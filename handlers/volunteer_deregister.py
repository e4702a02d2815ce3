"""志愿者 → 注销: withdrawing consent deletes the volunteer's personal data, after a warning
and 「确认注销」 within that conversation."""

from __future__ import annotations

from domain.errors import Ineligible
from handlers.context import Context
from services import activity_messages, volunteers
from wechat.conversation import Data, Flow
from wechat.messages import Reply
from wechat.router import Router

router = Router("volunteer")

DEREGISTER_WARNING = (
    "【注销志愿者】\n"
    "注销后：\n"
    "· 您的姓名、身份证号、手机号等个人信息将被删除，无法恢复；\n"
    "· 您将退出所有服务队，不再收到活动通知；\n"
    "· 已记录的服务时长仅以匿名方式保留统计，无法再为您出具证明。\n\n"
    "确定要注销，请回复「确认注销」；不注销请回复「取消」。"
)
CONFIRM_DEREGISTER = "确认注销"


def _deregister(ctx: Context, data: Data) -> str:
    with ctx.services.db.Session.begin() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            raise Ineligible("您还没有注册志愿者，无需注销。")
        volunteers.deregister(session, volunteer)
        volunteer_id = volunteer.id
    services = ctx.services
    messenger = activity_messages.Messenger(services.api, services.db, services.settings)
    activity_messages.cancel_upcoming_signups(messenger, volunteer_id)
    ctx.conversations.forget(ctx.openid)
    return "注销完成，您的个人信息已删除。感谢您曾经的志愿付出！如需再次注册，可随时点击「志愿者 → 注册」。"


def _registered_for_deregistration(ctx: Context) -> Reply | None:
    with ctx.services.db.Session() as session:
        if volunteers.find_by_openid(session, ctx.openid) is None:
            return Reply(text="您还没有注册志愿者，无需注销。")
    return None


# No steps: the warning is the whole summary, and only 「确认注销」 within this conversation
# (before its timeout) deletes anything.
DEREGISTER = Flow(
    name="volunteer_deregister",
    title="注销志愿者",
    steps=(),
    on_confirm=_deregister,
    before_start=_registered_for_deregistration,
    confirm_word=CONFIRM_DEREGISTER,
    strict_confirm=True,
    summary=lambda data: DEREGISTER_WARNING,
)


# A bare 「确认注销」 outside that conversation only shows the warning: it never deletes.
@router.keyword("注销", "注销志愿者", "撤回同意", CONFIRM_DEREGISTER)
def deregister(ctx: Context) -> Reply:
    return ctx.conversations.start(ctx, DEREGISTER.name)
