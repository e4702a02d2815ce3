"""需求对接 → 「需求大厅」: published needs, the volunteer's region and skills first, paged with
下一页; 「需求 XQ…」 shows one need (contact masked)."""

from __future__ import annotations

from domain.text import clip
from handlers import paging
from handlers.context import Context
from models.need import PUBLISHED
from services import needs, needs_hall, volunteers
from wechat.messages import Reply
from wechat.router import Router

router = Router("needs_hall")

LIST_NAME = "needs_hall"
NONE_YET = "需求大厅暂无已发布的需求。回复「提交需求」提出服务需求。"
NO_MORE = "没有更多需求了。"


@router.keyword("需求大厅", "查看需求")
def hall(ctx: Context) -> Reply | str:
    return hall_page(ctx, 1)


@paging.pages(LIST_NAME)
def hall_page(ctx: Context, page: int) -> str:
    with ctx.services.db.Session() as session:
        viewer = needs_hall.viewer_of(volunteers.find_by_openid(session, ctx.openid))
        found = needs_hall.hall_page(session, viewer, page)
        shown = [needs.public_need(need) for need in found[: needs_hall.PAGE_SIZE]]
    if not shown:
        return NONE_YET if page == 1 else NO_MORE
    paging.remember(ctx, LIST_NAME, page)
    more = len(found) > needs_hall.PAGE_SIZE
    lines = [f"需求大厅（第{page}页）"]
    for view in shown:
        lines.append(
            f"\n【{view.need_no}】{view.requester}\n{view.region}｜{view.field}｜"
            f"{view.when}｜需{view.people_needed}人\n{clip(view.description, 60)}"
        )
    lines.append("\n回复「需求 编号」看详情" + ("；「下一页」看更多" if more else ""))
    return "\n".join(lines)


@router.pattern(r"需求\s*[#＃]?\s*([Xx][Qq]\d{6,14})")
def detail(ctx: Context) -> str:
    assert ctx.match is not None
    with ctx.services.db.Session() as session:
        need = needs.find_need(session, ctx.match.group(1))
        view = needs.public_need(need) if need is not None else None
        visible = need is not None and (
            need.status in needs.PUBLIC_STATUSES or need.poster_openid == ctx.openid
        )
        team = needs.claimed_team_name(session, need) if need is not None else None
        open_to_claim = need is not None and need.status == PUBLISHED
    if view is None or not visible:
        return "没有找到这个需求编号，或该需求尚未发布。回复「需求大厅」查看已发布的需求。"
    text = (
        f"需求 {view.need_no}（{view.status}）\n需求方：{view.requester}\n地区：{view.region}\n"
        f"服务领域：{view.field}\n服务时间：{view.when}\n需要人数：{view.people_needed}\n"
        f"需求内容：{view.description}\n联系人：{view.contact}"
    )
    if team:
        text += f"\n认领队伍：{team}"
    if open_to_claim:
        text += f"\n\n科技志愿服务队管理员回复「认领 {view.need_no}」可为本队认领。"
    return text
