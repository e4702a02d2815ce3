"""活动: 近期活动 (the next published activities near the user, as a news reply), an activity's
details on request, and WeChat's delivery reports for template messages."""

from __future__ import annotations

import logging

from domain import clock
from domain.text import clip
from handlers import paging
from handlers.context import Context
from models.activity import CANCELLED, FINISHED, FULL, ONGOING, SIGNED_UP, WAITLISTED, Activity
from models.operator import Operator
from services import activities, notices, operators, signups, volunteers
from wechat.messages import Article, Reply
from wechat.router import Router

log = logging.getLogger(__name__)
router = Router("activity")

# A news reply shows at most 8 articles: one header and the activities.
PAGE_SIZE = 7
LIST_NAME = "activities"
NONE_YET = (
    "近期暂无已发布的活动。\n\n活动发布后，我们会通过模板消息通知符合条件的志愿者；"
    "也可以随时点击「活动 → 近期活动」查看。"
)
NO_MORE = "没有更多活动了。回复「上一页」返回，或点击「活动 → 近期活动」从头查看。"


def absolute(ctx: Context, path: str) -> str:
    return (
        path
        if path.startswith(("https://", "http://"))
        else ctx.services.settings.public_base_url + path
    )


@router.click("ACTIVITY_RECENT")
@router.keyword("近期活动", "最近活动", "活动", "活动列表")
def recent(ctx: Context) -> Reply | str:
    return recent_page(ctx, 1)


@paging.pages(LIST_NAME)
def recent_page(ctx: Context, page: int) -> Reply | str:
    """One page of upcoming activities as news cards: a header (with the hints), then each
    activity with its cover, linking to its public page. One more is read to know if a next
    page exists."""
    with ctx.services.db.Session() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        found = activities.upcoming(
            session,
            prefecture_code=volunteer.prefecture_code if volunteer else None,
            county_code=volunteer.county_code if volunteer else None,
            skills=(volunteer.skills or []) if volunteer else [],
            limit=PAGE_SIZE + 1,
            offset=(page - 1) * PAGE_SIZE,
        )
    if not found:
        return NONE_YET if page == 1 else NO_MORE
    paging.remember(ctx, LIST_NAME, page)
    more = len(found) > PAGE_SIZE
    shown = found[:PAGE_SIZE]
    # With several articles WeChat shows only titles, so the header carries the hints.
    hint = f"回复「报名{shown[0].id}」报名，「活动{shown[0].id}」看详情"
    header = f"近期活动（第{page}页）：{hint}" + ("；「下一页」看更多" if more else "")
    articles = [
        Article(
            title=header,
            description=hint,
            url=absolute(ctx, activities.public_path(shown[0].id)),
            picurl=absolute(ctx, activities.DEFAULT_COVER_PATH),
        )
    ]
    for activity in shown:
        region = activities.region_text(activity).removeprefix("甘肃省") or "全省"
        articles.append(
            Article(
                title=(
                    f"[{activity.id}] {activity.title}｜"
                    f"{clock.show(activity.starts_at, '%-m月%-d日')} {clip(region, 12)}"
                    + ("（已满，可候补）" if activity.status == FULL else "")
                ),
                description=f"{activities.when_text(activity)} {activity.place}",
                url=absolute(ctx, activities.public_path(activity.id)),
                picurl=absolute(ctx, activities.cover_path(activity)),
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
        text = activities.detail_text(activity, activities.team_name(session, activity))
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        mine = signups.find_live(session, activity.id, volunteer.id) if volunteer else None
        rank = signups.waiting_rank(session, mine) if mine else None
    return "\n".join(
        [
            text,
            "",
            signup_line(activity, mine.status if mine else None, rank),
            f"活动页面：{absolute(ctx, activities.public_path(activity.id))}",
        ]
    )


def signup_line(activity: Activity, status: str | None, rank: int | None) -> str:
    """Where the user stands and what they may do next."""
    if status == SIGNED_UP:
        return f"您已报名。如不能参加，请回复「取消报名{activity.id}」。"
    if status == WAITLISTED:
        return f"您在候补名单第{rank}位。回复「取消报名{activity.id}」可退出候补。"
    now = clock.utcnow()
    if activity.status_at(now) in (ONGOING, FINISHED) or activity.status == CANCELLED:
        return f"状态：{activity.status_label_at(now)}"
    if activity.signup_deadline is not None and now >= activity.signup_deadline:
        return "报名已截止。"
    if activity.status == FULL:
        return f"名额已满，回复「候补{activity.id}」加入候补名单。"
    return f"回复「报名{activity.id}」报名参加。"


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
