"""报名 N, 候补 N, 取消报名 N and 活动 → 我的活动."""

from __future__ import annotations

import logging

from domain import clock
from handlers import paging
from handlers.context import Context
from models.activity import SIGNED_UP, WAITLISTED, Activity, Signup
from services import activities, activity_messages, signups, volunteers
from wechat.messages import Reply
from wechat.router import Router

log = logging.getLogger(__name__)
router = Router("activity_signup")

NOT_REGISTERED = (
    "报名参加活动需要先注册成为科技志愿者：请点击「志愿者 → 注册」，注册后再回复「报名{number}」。"
)
MY_LIST = "my-activities"
MY_PAGE_SIZE = 8
NOTHING_YET = "您还没有报名任何活动。点击「活动 → 近期活动」看看正在招募的活动吧。"


def messenger(ctx: Context) -> activity_messages.Messenger:
    return activity_messages.Messenger(ctx.services.api, ctx.services.db, ctx.services.settings)


def _activity_id(ctx: Context) -> int:
    assert ctx.match is not None
    return int(ctx.match.group(1))


@router.pattern(r"(?:我要)?报名(?:参加)?(?:活动)?\s*[#＃]?\s*(\d{1,9})")
def sign_up(ctx: Context) -> str:
    return _sign_up(ctx, _activity_id(ctx), waitlist=False)


@router.pattern(r"候补(?:报名)?(?:活动)?\s*[#＃]?\s*(\d{1,9})")
def join_waitlist(ctx: Context) -> str:
    return _sign_up(ctx, _activity_id(ctx), waitlist=True)


def _volunteer_id(ctx: Context) -> int | None:
    """Looked up in its own session: the sign-up's transaction must begin with the lock."""
    with ctx.services.db.Session() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        return volunteer.id if volunteer is not None else None


def _sign_up(ctx: Context, activity_id: int, *, waitlist: bool) -> str:
    volunteer_id = _volunteer_id(ctx)
    if volunteer_id is None:
        return NOT_REGISTERED.format(number=activity_id)
    try:
        with ctx.services.db.Session.begin() as session:
            result = signups.sign_up(session, activity_id, volunteer_id, waitlist=waitlist)
            activity = session.get(Activity, activity_id)
            assert activity is not None
            status, rank = result.signup.status, result.waiting_rank
            created = result.created
    except signups.SignupRefused as refused:
        return refused.hint
    if status == WAITLISTED:
        if not created:
            return f"您已在「{activity.title}」的候补名单中，目前排第{rank}位。"
        return (
            f"已加入「{activity.title}」的候补名单，您排第{rank}位。\n"
            "有人取消报名时按顺序递补，递补成功会通知您。"
            f"回复「取消报名{activity.id}」可退出候补。"
        )
    if not created:
        return f"您已报名「{activity.title}」，无需重复报名。"
    return "\n".join(
        [
            "报名成功！",
            f"活动：{activity.title}",
            f"时间：{activities.when_text(activity)}",
            f"地点：{activity.place}",
            "",
            "活动前一天我们会提醒您。"
            f"如不能参加，请回复「取消报名{activity.id}」，把名额留给其他志愿者。",
        ]
    )


@router.pattern(r"取消(?:报名|候补)(?:活动)?\s*[#＃]?\s*(\d{1,9})")
def cancel(ctx: Context) -> str:
    activity_id = _activity_id(ctx)
    volunteer_id = _volunteer_id(ctx)
    if volunteer_id is None:
        return f"您没有报名活动 {activity_id}。"
    try:
        with ctx.services.db.Session.begin() as session:
            result = signups.cancel(session, activity_id, volunteer_id)
            activity = session.get(Activity, activity_id)
            assert activity is not None
            was_waiting = result.was_waiting
            promoted_id = result.promoted.id if result.promoted else None
    except signups.SignupRefused as refused:
        return refused.hint
    if promoted_id is not None:
        activity_messages.tell_promoted(messenger(ctx), promoted_id)
    if was_waiting:
        return f"已退出「{activity.title}」的候补名单。"
    return f"已取消报名「{activity.title}」。期待您参加其他活动！"


@router.click("ACTIVITY_MINE")
@router.keyword("我的活动", "我的报名", "已报名活动")
def mine(ctx: Context) -> Reply | str:
    return mine_page(ctx, 1)


@paging.pages(MY_LIST)
def mine_page(ctx: Context, page: int) -> Reply | str:
    with ctx.services.db.Session() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            return "您还不是注册志愿者。点击「志愿者 → 注册」注册后即可报名参加活动。"
        rows = signups.of_volunteer(
            session, volunteer.id, limit=MY_PAGE_SIZE + 1, offset=(page - 1) * MY_PAGE_SIZE
        )
        ranks = {s.id: signups.waiting_rank(session, s) for s, _a in rows if s.status == WAITLISTED}
    if not rows:
        return NOTHING_YET if page == 1 else "没有更多了。回复「上一页」返回。"
    paging.remember(ctx, MY_LIST, page)
    more = len(rows) > MY_PAGE_SIZE
    lines = [f"我的活动（第{page}页）"]
    lines += [my_line(s, a, ranks.get(s.id)) for s, a in rows[:MY_PAGE_SIZE]]
    lines.append("")
    lines.append("回复「活动+编号」查看详情" + ("，「下一页」看更多" if more else "") + "。")
    return "\n".join(lines)


def my_line(signup: Signup, activity: Activity, rank: int | None) -> str:
    now = clock.utcnow()
    when = clock.show(activity.starts_at, "%-m月%-d日 %H:%M")
    if signup.status == SIGNED_UP:
        state = "已报名"
    elif signup.status == WAITLISTED:
        state = f"候补第{rank}位"
    else:
        state = "已取消报名"
    activity_state = activity.status_label_at(now)
    if activity_state not in ("招募中", "已满"):
        state += f"（活动{activity_state}）"
    return f"[{activity.id}] {activity.title}｜{when}｜{state}"
