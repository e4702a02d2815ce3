"""属地管理、逐级负责 in chat: a team's admins decide the 支队 and 分队 registered under it
(组织 → 我的队伍 → 待审核 or 下级队伍, then 「批准下级 N」 or 「驳回下级 N 原因」)."""

from __future__ import annotations

from sqlalchemy.orm import Session

from handlers.context import Context
from handlers.team_admin import Notices, requests_text, with_team
from models.team import STATUS_PENDING, Team
from services import teams
from wechat.router import Router

router = Router("team_review")


def _pending_child(session: Session, team: Team, index: int) -> Team:
    found = teams.children(session, team.id)
    if not 1 <= index <= len(found):
        raise teams.InvalidDecision(f"没有第 {index} 支下级队伍，请回复「下级队伍」查看序号。")
    child = found[index - 1]
    if child.status != STATUS_PENDING:
        raise teams.InvalidDecision(f"「{child.name}」当前状态为{child.status_label}，无需审核。")
    return child


def _decide(
    ctx: Context, session: Session, team: Team, notices: Notices, *, approve: bool, reason: str
) -> str:
    assert ctx.match is not None
    child = _pending_child(session, team, int(ctx.match.group(1)))
    decided = teams.decide_sub_team(
        session, child.id, ctx.openid, approve_it=approve, reason=reason
    )
    notices.append((decided.registrant_openid, teams.decision_text(decided)))
    if approve:
        return f"已通过「{decided.name}」的注册，已通知其注册人。"
    return f"已驳回「{decided.name}」的注册（{decided.reject_reason}），已通知其注册人。"


@router.pattern(r"(?:批准|通过)下级\s*(\d{1,2})")
@with_team
def approve_sub_team(ctx: Context, session: Session, team: Team, notices: Notices) -> str:
    return _decide(ctx, session, team, notices, approve=True, reason="")


@router.pattern(r"驳回下级\s*(\d{1,2})\s*(.*)")
@with_team
def reject_sub_team(ctx: Context, session: Session, team: Team, notices: Notices) -> str:
    assert ctx.match is not None
    reason = ctx.match.group(2).strip()
    if not reason:
        return "请写明驳回原因，如「驳回下级 1 名称不规范」。"
    return _decide(ctx, session, team, notices, approve=False, reason=reason)


@router.keyword("待审核", "待审核事项", "待审批")
@with_team
def pending_items(ctx: Context, session: Session, team: Team, notices: Notices) -> str:
    """What waits for this team's admins: join requests and sub-team registrations."""
    lines = [requests_text(session, team)]
    found = teams.children(session, team.id)
    waiting = [(i, c) for i, c in enumerate(found, 1) if c.status == STATUS_PENDING]
    if not waiting:
        lines.append(f"\n「{team.name}」目前没有待审核的下级队伍注册。")
        return "\n".join(lines)
    lines.append(f"\n待审核的下级队伍注册（{len(waiting)} 支）：")
    for index, child in waiting:
        lines.append(f"{index}. {child.name}（{child.level}，{child.kind_label}）")
    lines.append("回复「批准下级 序号」通过，「驳回下级 序号 原因」驳回，如「批准下级 1」。")
    return "\n".join(lines)
