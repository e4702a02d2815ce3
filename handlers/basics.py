"""Subscribe and unsubscribe, help, cancel, continue, and the fallback for unknown text."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError

from handlers import membership, service_checkin
from handlers.context import Context
from services import followers
from wechat.router import Router, instant

router = Router("basics")

WELCOME = (
    "欢迎关注甘肃科技志愿服务！\n\n"
    "我们组织科技工作者开展科学普及、农技服务、科技咨询等志愿服务，"
    "弘扬「奉献、友爱、互助、进步」的志愿精神。\n\n"
    "· 个人注册科技志愿者：点击底部菜单「志愿者 → 注册」\n"
    "· 组织注册科技志愿服务队：点击「组织 → 注册」\n"
    "· 查看近期活动：点击「活动 → 近期活动」\n\n"
    "随时回复「帮助」查看使用说明。"
)

GUIDE = (
    "使用说明：\n"
    "1. 注册志愿者：菜单「志愿者 → 注册」\n"
    "2. 查看或修改信息：「志愿者 → 我的信息」\n"
    "3. 加入服务队：「志愿者 → 加入队伍」，或回复「加入 邀请码」\n"
    "4. 服务时长与星级：「志愿者 → 服务时长」；「服务记录」「申请证明」「申请更正」\n"
    "5. 注册服务队：「组织 → 注册」；管理队伍：「组织 → 我的队伍」\n"
    "6. 近期活动：「活动 → 近期活动」，回复「报名+编号」报名；已报名的：「活动 → 我的活动」；"
    "现场扫码签到、签退，无法扫码时回复「签到 6位签到码」\n"
    "7. 提出或承接服务需求：「活动 → 需求对接」；团队管理员回复「发布活动」为本队发布活动\n"
    "8. 了解我们：「活动 → 关于我们」\n\n"
    "填写过程中可回复「返回」上一步、「取消」退出、「继续」接着填写。"
)

ABOUT = (
    "甘肃科技志愿服务由甘肃省科协指导，依托「甘肃省科技志愿服务总队」及各级科技志愿服务队，"
    "面向基层开展科学普及、农技推广、科技咨询等志愿服务。"
)


def _touch_follower(ctx: Context, *, subscribed: bool, scene: str | None = None) -> None:
    with ctx.services.db.Session.begin() as session:
        if subscribed:
            followers.followed(session, ctx.openid, scene)
        else:
            followers.unfollowed(session, ctx.openid)


@router.observe
def record_last_seen(ctx: Context) -> None:
    """Keep followers' last-seen time (and a row for people who followed before this service
    existed), writing to the database at most once an hour per user (the dispatcher's claim
    tells which message is the first of the hour, in the same Redis round trip)."""
    if ctx.msg.msg_type == "event" and ctx.msg.event in {"subscribe", "unsubscribe"}:
        return  # those handlers write the row themselves
    if not ctx.first_message_this_hour:
        return
    try:
        with ctx.services.db.Session.begin() as session:
            newcomer = followers.seen(session, ctx.openid)
    except IntegrityError:
        return  # a subscribe created the row at the same moment
    if newcomer:  # committed: 注册 need not look for a volunteer record again
        ctx.known[followers.NO_VOLUNTEER] = True


@router.event("subscribe")
def subscribe(ctx: Context) -> str:
    try:
        _touch_follower(ctx, subscribed=True, scene=ctx.msg.scene)
    except IntegrityError:  # two deliveries racing on a first subscribe: the row exists now
        _touch_follower(ctx, subscribed=True, scene=ctx.msg.scene)
    # an activity's 签到/签退 code, or a team's QR code
    joined = (
        (service_checkin.scene_reply(ctx) or membership.scene_join(ctx)) if ctx.msg.scene else None
    )
    return f"{WELCOME}\n\n{joined}" if joined else WELCOME


@router.event("unsubscribe")
def unsubscribe(ctx: Context) -> None:
    try:
        _touch_follower(ctx, subscribed=False)
    except IntegrityError:
        _touch_follower(ctx, subscribed=False)
    ctx.conversations.forget(ctx.openid)
    return None


@router.global_word("帮助", "help", "使用帮助")
@instant
def help_word(ctx: Context) -> str:
    in_flow = ctx.conversations.help_reply(ctx)
    return in_flow.text if in_flow is not None else GUIDE


@router.click("HELP")
@instant
def help_click(ctx: Context) -> str:
    return GUIDE


@router.click("ABOUT")
@instant
def about(ctx: Context) -> str:
    return ABOUT


@router.global_word("取消", "退出")
def cancel(ctx: Context) -> str:
    reply = ctx.conversations.cancel(ctx)
    return reply.text if reply is not None else "当前没有进行中的填写。回复「帮助」查看使用说明。"


@router.keyword("继续", "继续填写")
def resume(ctx: Context) -> str:
    reply = ctx.conversations.resume(ctx)
    return reply.text if reply is not None else "当前没有未完成的填写。回复「帮助」查看使用说明。"


@router.fallback
@instant
def fallback(ctx: Context) -> str:
    return "抱歉，没能理解您的消息。\n\n" + GUIDE


@router.message("image", "voice", "video", "shortvideo", "location", "link", "file")
@instant
def non_text(ctx: Context) -> str:
    return "暂时只能识别文字消息。回复「帮助」查看使用说明，或使用底部菜单。"


@router.event("view", "location", "scancode_push", "location_select")
def ignore_event(ctx: Context) -> None:
    return None
