"""志愿者 → 服务时长: confirmed hours, activities, star level and the latest records;
「服务记录」 lists every record, paged."""

from __future__ import annotations

from domain import clock
from domain.hours import format_hours
from domain.stars import Standing
from handlers.context import Context
from models.service import RECORD_CONFIRMED, ServiceRecord
from services import attendance_records, volunteers
from wechat.router import Router

router = Router("service_hours")

PAGE_SIZE = 5
NOT_REGISTERED = (
    "您还不是注册志愿者。点击底部菜单「志愿者 → 注册」完成注册后，参加活动的服务时长会记录在这里。"
)


def star_text(standing: Standing) -> str:
    if standing.next_level is None:
        return f"{standing.level_text}（最高星级）"
    needed = format_hours(standing.hours_to_next or 0)
    return f"{standing.level_text}，距「{standing.next_level}」还差 {needed} 小时"


def record_line(record: ServiceRecord) -> str:
    if record.status == RECORD_CONFIRMED:
        hours = f"{format_hours(record.hours)} 小时"
    else:
        hours = record.status_label
    return f"[{record.id}] {record.service_date:%Y-%m-%d} {record.activity_title}｜{hours}"


@router.click("VOLUNTEER_HOURS")
@router.keyword("服务时长", "我的时长", "志愿时长")
def hours(ctx: Context) -> str:
    with ctx.services.db.Session() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            return NOT_REGISTERED
        summary = attendance_records.summary(session, volunteer)
        lines = [
            "【我的志愿服务时长】",
            f"累计时长：{format_hours(summary.total_hours)} 小时（组织方已确认）",
            f"参加活动：{summary.activity_count} 次",
            f"星级：{star_text(summary.standing)}",
        ]
        if summary.latest:
            lines.append("\n最近记录：")
            lines.extend(record_line(record) for record in summary.latest)
        else:
            lines.append(
                "\n暂无经确认的服务记录。参加活动并扫码签到、签退，组织方确认后时长会记入这里。"
            )
    lines.append("\n回复「服务记录」查看全部记录，「申请证明」开具志愿服务证明。")
    return "\n".join(lines)


@router.keyword("服务记录", "我的服务记录", "时长记录")
def records(ctx: Context) -> str:
    return records_page(ctx, 1)


@router.pattern(r"(?:服务记录|时长记录)\s*(?:第)?\s*(\d{1,4})\s*页?")
def records_numbered(ctx: Context) -> str:
    assert ctx.match is not None
    return records_page(ctx, max(int(ctx.match.group(1)), 1))


def records_page(ctx: Context, page: int) -> str:
    with ctx.services.db.Session() as session:
        volunteer = volunteers.find_by_openid(session, ctx.openid)
        if volunteer is None:
            return NOT_REGISTERED
        found, count = attendance_records.records_page(session, volunteer.id, page, PAGE_SIZE)
        if count == 0:
            return "暂无服务记录。参加活动并扫码签到、签退，组织方确认后会生成服务记录。"
        pages = (count + PAGE_SIZE - 1) // PAGE_SIZE
        if not found:
            return f"服务记录共 {pages} 页，请回复「服务记录 1」到「服务记录 {pages}」。"
        lines = [f"【服务记录】共 {count} 条，第 {page}/{pages} 页"]
        for record in found:
            lines.append(record_line(record))
            detail = f"  {record.place}｜组织方：{record.organiser}｜记录人：{record.recorder}"
            if record.evaluation:
                detail += f"｜评价：{record.evaluation}"
            lines.append(f"{detail}｜{clock.show_date(record.recorded_at)}")
    if page < pages:
        lines.append(f"\n回复「服务记录 {page + 1}」查看下一页。")
    lines.append("如记录有误，可在确认后30天内回复「申请更正」，按方括号中的编号申请。")
    return "\n".join(lines)
