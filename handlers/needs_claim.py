"""认领 in chat: a team admin takes a published need on for their team (组织 → 我的队伍 →
「可认领需求」, or 「认领 XQ…」 from the 需求大厅 or the need's public page).

The claim is a flow of the conversation engine: the activity's fields come pre-filled from the
need (title, type, field, people, description and, for a need with dates, its times); the admin
answers the rest (place, contact), checks the summary, edits any line, and confirms. The
activity is then published for the team, in the need's region, linked to the need; the need
shows 已认领 with the team's name and the poster is told (services.needs_claim).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from domain import clock
from domain.errors import Ineligible
from domain.text import clip
from handlers.activity_publish import PUBLISH, STORED, managed_team
from handlers.context import Context
from models.need import Need
from models.team import Team
from services import activities, needs, needs_claim, needs_followup, team_console
from wechat.conversation import Flow, Step
from wechat.conversation.flow import Data
from wechat.messages import Reply
from wechat.router import Router
from worker.needs_jobs import schedule_after_activity
from worker.reminders import schedule_reminder

log = logging.getLogger(__name__)
router = Router("needs_claim")

NOT_ADMIN = "只有已审核通过的科技志愿服务队的管理员可以认领需求。注册队伍请点击「组织 → 注册」。"
CHOOSE_TEAM = (
    "您管理多支队伍，请先点击「组织 → 我的队伍」，回复「选择队伍 序号」选定要认领需求的队伍，"
    "再回复「认领 需求编号」。"
)
NOT_FOUND = "没有找到这个需求编号，或该需求尚未发布。回复「需求大厅」查看已发布的需求。"
# Fields filled from the need when the flow starts (the admin may change each in the summary).
PREFILLED = ("title", "type", "service_field", "capacity", "description", "starts_at", "ends_at")


def claiming_team(ctx: Context, session: Session) -> Team | str:
    """The team to claim for, chosen as for publishing an activity."""
    return managed_team(ctx, session, not_admin=NOT_ADMIN, choose=CHOOSE_TEAM)


def _step(name: str) -> Step:
    step = PUBLISH.step(name)
    assert step is not None, name
    return step


def _typed(value: str) -> datetime:
    return datetime.strptime(value, STORED)


def _utc(value: Any) -> datetime | None:
    return clock.from_beijing(_typed(value)) if value else None


def _confirm(ctx: Context, data: Data) -> str:
    values: dict[str, Any] = {
        **{step.name: data.get(step.name) for step in CLAIM.steps},
        "starts_at": _utc(data["starts_at"]),
        "ends_at": _utc(data["ends_at"]),
        "signup_deadline": _utc(data.get("signup_deadline")),
    }
    try:
        with ctx.services.db.Session.begin() as session:
            who = team_console.admin_user(session, ctx.openid)
            team = session.get(Team, int(data["team_id"]))
            if who is None or team is None or not who.may_manage(team.id):
                raise Ineligible(NOT_ADMIN)
            claimed = needs_claim.claim_need(
                session, int(data["need_id"]), team, who, values, publish=True
            )
    except needs.NeedError as error:
        raise Ineligible(str(error)) from None
    schedule_reminder(ctx.services, claimed.activity_id)
    schedule_after_activity(ctx.services, claimed.activity_id, claimed.ends_at)
    svc = ctx.services
    told = needs_followup.tell_claimed(svc.api, svc.db, svc.settings, claimed.need_id)
    log.info("need %s claimed (poster told: %s)", claimed.need_no, told)
    base = ctx.services.settings.public_base_url
    return (
        f"已为「{claimed.team_name}」认领需求 {claimed.need_no}，"
        f"并发布活动「{claimed.title}」（活动编号 {claimed.activity_id}）。\n"
        f"需求方联系人：{claimed.contact_name} {claimed.contact_phone}（仅用于服务对接，请勿外传）\n"
        f"志愿者回复「报名{claimed.activity_id}」即可报名；活动结束后会请需求方评价服务。\n"
        f"活动页面：{base}{activities.public_path(claimed.activity_id)}"
    )


CLAIM = Flow(
    name="needs_claim",
    title="认领需求",
    intro="认领后将为本队发布一个对接该需求的活动，活动名称、时间、人数等已按需求填好，可在最后修改。",
    steps=tuple(
        _step(name)
        for name in (
            "title",
            "type",
            "service_field",
            "place",
            "starts_at",
            "ends_at",
            "capacity",
            "signup_deadline",
            "required_skills",
            "contact",
            "description",
        )
    ),
    on_confirm=_confirm,
    summary_title="请核对活动信息，确认后认领需求并发布活动",
)

FLOWS = [CLAIM]


def _about(need: Need, team: Team) -> Data:
    """The flow's starting data: which need and team, and the fields the need fills in."""
    defaults = needs_claim.activity_defaults(need)
    about: Data = {
        "need_id": need.id,
        "need_no": need.need_no,
        "team_id": team.id,
        "signup_deadline": None,
        "required_skills": None,
    }
    for name in PREFILLED:
        value = defaults.get(name)
        if isinstance(value, datetime):
            about[name] = value.strftime(STORED)
        elif value is not None:
            about[name] = value
    return about


def _need_card(need: Need, team: Team) -> str:
    view = needs.public_need(need)
    return (
        f"【认领需求 {view.need_no}】为「{team.name}」认领\n需求方：{view.requester}\n"
        f"地区：{view.region}（活动将在此地区发布）\n服务领域：{view.field}\n"
        f"服务时间：{view.when}\n需要人数：{view.people_needed}\n"
        f"需求内容：{clip(view.description, 100)}"
    )


@router.pattern(r"认领(?:需求)?\s*[#＃]?\s*([Xx][Qq]\d{6,14})")
def claim(ctx: Context) -> Reply | str:
    assert ctx.match is not None
    with ctx.services.db.Session() as session:
        team = claiming_team(ctx, session)
        if isinstance(team, str):
            return team
        need = needs.find_need(session, ctx.match.group(1))
        if need is None or need.status not in needs.PUBLIC_STATUSES:
            return NOT_FOUND
        why = needs_claim.refusal(session, team, need)
        if why is not None:
            return why
        card = _need_card(need, team)
        about = _about(need, team)
    reply = ctx.conversations.start(ctx, CLAIM.name, about=about)
    return Reply(text=f"{card}\n\n{reply.text}")


@router.keyword("可认领需求", "认领需求", "认领")
def claimable(ctx: Context) -> str:
    with ctx.services.db.Session() as session:
        team = claiming_team(ctx, session)
        if isinstance(team, str):
            return team
        found = needs_claim.claimable(session, team, limit=10)
        lines = [
            f"{need.need_no}｜{need.requester_name}｜{needs.region_label(need)}｜{need.field}｜"
            f"{needs.when_label(need)}｜需{need.people_needed}人"
            for need in found
        ]
        example = found[0].need_no if found else ""
        name = team.name
    if not lines:
        return f"「{name}」的服务地区内暂时没有待认领的需求。回复「需求大厅」查看全部已发布的需求。"
    return (
        f"「{name}」可认领的需求：\n" + "\n".join(lines) + "\n\n"
        f"回复「需求 编号」看详情，回复「认领 编号」认领，如「认领 {example}」。"
    )
