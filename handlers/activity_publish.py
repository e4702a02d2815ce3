"""组织 → 我的队伍 → 发布活动: a team admin publishes an activity for their team in chat, a flow
of the conversation engine (back, cancel, edit, confirm and timeout come from the engine).

Times are typed in Beijing time and kept in the conversation as text (「2026-12-05 09:00」);
they become UTC only when the activity is saved.
"""

from __future__ import annotations

import logging
from datetime import date, datetime
from typing import Any

from sqlalchemy.orm import Session

from domain import clock
from domain.choices import SKILLS
from domain.errors import Ineligible, ValidationError
from domain.when import parse_day_time, parse_time_on
from handlers.context import Context
from models.activity import ACTIVITY_TYPES
from models.team import Team
from services import activities, teams
from wechat.conversation import Flow, Step
from wechat.conversation.flow import Data
from wechat.messages import Reply
from wechat.router import Router
from worker.reminders import schedule_reminder

log = logging.getLogger(__name__)
router = Router("activity_publish")

STORED = "%Y-%m-%d %H:%M"
NOT_ADMIN = "只有已审核通过的科技志愿服务队的管理员可以发布活动。注册队伍请点击「组织 → 注册」。"
CHOOSE_TEAM = (
    "您管理多支队伍，请先点击「组织 → 我的队伍」，回复「选择队伍 序号」选定要发布活动的队伍。"
)


def managed_team(
    ctx: Context, session: Session, *, not_admin: str = NOT_ADMIN, choose: str = CHOOSE_TEAM
) -> Team | str:
    """The team to act for (publish an activity, claim a need): the only approved team this user
    administers, or the one chosen with 「选择队伍 N」 in 我的队伍; otherwise what to answer."""
    own = activities.publishable_teams(session, ctx.openid)
    if not own:
        return not_admin
    if len(own) == 1:
        return own[0]
    chosen = teams.selected_team(session, ctx.openid)
    return next((team for team in own if chosen is not None and team.id == chosen.id), choose)


def _today() -> date:
    return clock.beijing_date()


def _stored(value: datetime) -> str:
    return value.strftime(STORED)


def _typed(value: str) -> datetime:
    return datetime.strptime(value, STORED)


def _future(value: datetime) -> datetime:
    if clock.from_beijing(value) <= clock.utcnow():
        raise ValidationError("这个时间已经过去了，请输入今后的时间。")
    return value


def _parse_start(text: str, _data: Data) -> str:
    return _stored(_future(parse_day_time(text, _today())))


def _parse_end(text: str, data: Data) -> str:
    start = _typed(data["starts_at"])
    end = parse_time_on(text, start.date(), _today())
    if end <= start:
        raise ValidationError("结束时间应晚于开始时间。")
    return _stored(end)


def _parse_deadline(text: str, data: Data) -> str:
    deadline = _future(parse_day_time(text, _today()))
    if deadline > _typed(data["starts_at"]):
        raise ValidationError("报名截止时间不能晚于活动开始时间。")
    return _stored(deadline)


def _parse_capacity(text: str, _data: Data) -> int:
    digits = text.strip().removesuffix("人").strip()
    if not digits.isdigit() or not 1 <= int(digits) <= 100000:
        raise ValidationError("请输入招募人数（1-100000 的数字），不限人数请回复「跳过」。")
    return int(digits)


def _limited(limit: int, label: str) -> Any:
    def parse(text: str, _data: Data) -> str:
        value = text.strip()
        if not value:
            raise ValidationError(f"请输入{label}。")
        if len(value) > limit:
            raise ValidationError(f"{label}不超过{limit}字，请精简后重新输入。")
        return value

    return parse


def _before_start(ctx: Context) -> Reply | None:
    with ctx.services.db.Session() as session:
        team = managed_team(ctx, session)
    return Reply(text=team) if isinstance(team, str) else None


def _confirm(ctx: Context, data: Data) -> str:
    values: dict[str, Any] = {
        **data,
        "starts_at": clock.from_beijing(_typed(data["starts_at"])),
        "ends_at": clock.from_beijing(_typed(data["ends_at"])),
        "signup_deadline": (
            clock.from_beijing(_typed(data["signup_deadline"]))
            if data.get("signup_deadline")
            else None
        ),
    }
    with ctx.services.db.Session.begin() as session:
        team = managed_team(ctx, session)
        if isinstance(team, str):
            raise Ineligible(team)
        activity = activities.publish_for_team(session, team, values, ctx.openid)
        activity_id, title, team_name = activity.id, activity.title, team.name
    schedule_reminder(ctx.services, activity_id)
    log.info("activity %s published in chat for team %s", activity_id, team_name)
    return (
        f"活动「{title}」已发布（活动编号 {activity_id}），志愿者可在「活动 → 近期活动」中看到并报名。\n"
        f"志愿者回复「报名{activity_id}」即可报名；活动前一天会自动提醒已报名的志愿者。\n"
        f"活动页面：{ctx.services.settings.public_base_url}{activities.public_path(activity_id)}"
    )


PUBLISH = Flow(
    name="activity_publish",
    title="发布活动",
    intro="为本队发布一个科技志愿服务活动，发布后志愿者即可报名。",
    steps=(
        Step("title", "活动名称", "请输入活动名称（60字以内）：", parse=_limited(60, "活动名称")),
        Step("type", "活动类型", "请选择活动类型：", choices=ACTIVITY_TYPES),
        Step("service_field", "服务领域", "请选择服务领域：", choices=SKILLS, optional=True),
        Step("place", "活动地点", "请输入活动地点（详细地址）：", parse=_limited(100, "活动地点")),
        Step(
            "starts_at",
            "开始时间",
            "请输入开始时间（北京时间），如「12月5日 9:00」：",
            parse=_parse_start,
            resets=("ends_at", "signup_deadline"),
        ),
        Step(
            "ends_at",
            "结束时间",
            "请输入结束时间，如「12:00」（同一天）或「12月6日 17:00」：",
            parse=_parse_end,
        ),
        Step(
            "capacity",
            "招募人数",
            "请输入招募人数（数字）；不限人数请回复「跳过」：",
            parse=_parse_capacity,
            optional=True,
        ),
        Step(
            "signup_deadline",
            "报名截止",
            "请输入报名截止时间，如「12月4日 18:00」；到活动开始前都可报名请回复「跳过」：",
            parse=_parse_deadline,
            optional=True,
        ),
        Step(
            "required_skills",
            "报名要求",
            "是否只招募具备某些专业领域的志愿者？可多选；不限请回复「跳过」：",
            choices=SKILLS,
            multiple=True,
            optional=True,
        ),
        Step("contact", "联系方式", "请输入联系人和电话：", parse=_limited(60, "联系方式")),
        Step(
            "description",
            "活动简介",
            "请输入活动简介（内容、对象、注意事项，2000字以内）：",
            parse=_limited(2000, "活动简介"),
        ),
    ),
    on_confirm=_confirm,
    before_start=_before_start,
    summary_title="请核对活动信息，确认后立即发布",
)

FLOWS = [PUBLISH]


@router.keyword("发布活动", "发布新活动", "新建活动")
def publish(ctx: Context) -> Reply:
    return ctx.conversations.start(ctx, PUBLISH.name)
