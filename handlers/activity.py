"""活动: 近期活动 (the next published activities near the user, as a news reply), an activity's
details on request, and WeChat's delivery reports for template messages."""

from __future__ import annotations

import logging

from domain import clock
from domain.text import clip
from handlers.context import Context
from models.operator import Operator
from services import activities, notices, operators, volunteers
from wechat.messages import Article, Reply
from wechat.router import Router

log = logging.getLogger(__name__)
router = Router("activity")

# A news reply shows at most 8 articles: one header and the activities.
MAX_ACTIVITIES = 6
NONE_YET = (
    "近期暂无已发布的活动。\n\n活动发布后，我们会通过模板消息通知符合条件的志愿者；"
    "也可以随时点击「活动 → 近期活动」查看。"
)
DETAIL_HINT = "回复「活动+编号」查看详情，例如「活动{number}」"


@router.click("ACTIVITY_RECENT")
@router.keyword("近期活动", "最近活动", "活动", "活动列表")
def recent(ctx: Context) -> Reply:
    with ctx.services.db.Session() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        found = activities.upcoming(
            session,
            prefecture_code=volunteer.prefecture_code if volunteer else None,
            county_code=volunteer.county_code if volunteer else None,
            limit=MAX_ACTIVITIES,
        )
        if not found:
            return Reply(text=NONE_YET)
        # With several articles WeChat shows only titles, so the header carries the hint.
        hint = DETAIL_HINT.format(number=found[0].id)
        articles = [Article(title=f"近期科技志愿服务活动（{hint}）", description=hint)]
        for activity in found:
            region = activities.region_text(activity).removeprefix("甘肃省") or "全省"
            articles.append(
                Article(
                    title=(
                        f"[{activity.id}] {activity.title}｜"
                        f"{clock.show(activity.starts_at, '%-m月%-d日')} {clip(region, 12)}"
                    ),
                    description=f"{activities.when_text(activity)} {activity.place}",
                )
            )
    return Reply(articles=tuple(articles))


@router.pattern(r"(?:活动详情|活动|查看活动)\s*[#＃]?\s*(\d{1,9})")
def detail(ctx: Context) -> str:
    assert ctx.match is not None
    activity_id = int(ctx.match.group(1))
    with ctx.services.db.Session() as session:
        activity = activities.published(session, activity_id)
        if activity is None:
            return f"没有找到编号为 {activity_id} 的活动。回复「近期活动」查看正在招募的活动。"
        return activities.detail_text(activity, activities.team_name(session, activity))


@router.event("TEMPLATESENDJOBFINISH")
def delivery_report(ctx: Context) -> None:
    raw_msgid = ctx.msg.raw.get("MsgID") or ctx.msg.raw.get("MsgId") or ""
    status = ctx.msg.raw.get("Status", "")
    if not raw_msgid.isdigit():
        log.warning("TEMPLATESENDJOBFINISH without a MsgID")
        return None
    services = ctx.services
    with services.db.Session.begin() as session:
        notices.record_delivery(session, services.redis, services.keys, int(raw_msgid), status)
    return None


@router.pattern(r"绑定\s*(\d{6})")
def bind_operator(ctx: Context) -> str:
    """A console operator links this WeChat account to receive test notices (the code comes
    from the console's 账号 page and works once, for 10 minutes)."""
    assert ctx.match is not None
    services = ctx.services
    key = services.keys.operator_bind(ctx.match.group(1))
    raw = services.redis.getdel(key)
    if raw is None:
        return "绑定码无效或已过期，请在工作台「账号」页重新获取。"
    with services.db.Session.begin() as session:
        operator = session.get(Operator, int(raw))
        if operator is None or not operator.active:
            return "绑定码无效或已过期，请在工作台「账号」页重新获取。"
        operator.openid = ctx.openid
        operators.audit(
            session, operator, "openid_bind", summary="绑定微信接收测试消息", target=operator
        )
        name = operator.username
    return f"已将本微信号绑定到工作台账号 {name}，测试消息将发送到这里。"
