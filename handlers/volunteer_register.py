"""志愿者 → 注册: registering as a 科技志愿者 by chat (consent, real name, ID number, …)."""

from __future__ import annotations

from domain.errors import Ineligible
from domain.idcard import parse_id_number
from handlers import service_checkin
from handlers.context import Context
from handlers.volunteer_profile import profile_with_actions
from handlers.volunteer_steps import STEPS, form_values
from services import followers, volunteers
from wechat.conversation import Data, Flow, StepError
from wechat.messages import Reply
from wechat.router import Router

router = Router("volunteer")


def _already_registered(ctx: Context) -> Reply | None:
    if ctx.known.get(followers.NO_VOLUNTEER):
        return None  # a newcomer: the first-message observer found no volunteer record
    with ctx.services.db.Session() as session:
        # Most who tap 注册 are not registered: one index probe, the row only for those who are.
        if not volunteers.is_registered(session, ctx.openid):
            return None
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            return None
        return Reply(
            text="您已经是注册志愿者，无需重复注册。\n\n" + profile_with_actions(volunteer)
        )


def _save_registration(ctx: Context, data: Data) -> str:
    card = parse_id_number(data["id_number"])
    form = form_values(data)
    with ctx.services.db.Session.begin() as session:
        try:
            volunteer = volunteers.register(
                session, openid=ctx.openid, card=card, form=form, pii=ctx.services.pii
            )
        except volunteers.DuplicateIdNumber:
            raise StepError(
                "id_number",
                "该身份证号已被注册，不能重复注册。如有疑问，请联系当地科协核实。",
            ) from None
        except volunteers.AlreadyRegistered:
            raise Ineligible("您已经是注册志愿者，无需重复注册。回复「我的信息」查看。") from None
        number = volunteer.volunteer_no
    welcome = (
        f"注册成功！欢迎加入科技志愿者队伍。\n您的志愿者编号：{number}\n\n"
        "接下来可以：点击「志愿者 → 加入队伍」加入科技志愿服务队，或在「活动 → 近期活动」报名参加活动。"
    )
    # Someone who scanned an activity's 签到 code before registering is checked in now.
    checked_in = service_checkin.after_registration(ctx)
    return f"{welcome}\n\n{checked_in}" if checked_in else welcome


REGISTER = Flow(
    name="volunteer_register",
    title="志愿者注册",
    steps=STEPS,
    on_confirm=_save_registration,
    intro="欢迎注册科技志愿者！填写过程中可随时回复「返回」上一步、「取消」退出、「帮助」查看说明。",
    before_start=_already_registered,
    summary_title="请核对您的注册信息",
)


@router.click("VOLUNTEER_REGISTER")
@router.keyword("注册志愿者", "志愿者注册", "我要注册")
def register(ctx: Context) -> Reply:
    return ctx.conversations.start(ctx, REGISTER.name)
