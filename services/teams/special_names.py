"""Rule 5: a rename to a special name (「在省科协指导下命名」) goes to the province. The old name
stays (and joining stays open) until a province operator approves; then it is an ordinary
rename (sub-teams follow, old name kept, audit). A refusal takes a reason, which the team's
admins are told; both decisions are written to the audit log."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import clock, team_names
from domain.text import clip
from models.base import utcnow
from models.team import LEVEL_CORPS, STATUS_APPROVED, Team
from services.operators import Actor, Scope, audit
from services.teams.decisions import deliver
from services.teams.errors import InvalidDecision
from services.teams.lookups import check_name_free, get
from services.teams.members import admins
from services.teams.renaming import Renamed, rename
from wechat.client import WeChatAPI


def request_special_name(session: Session, team_id: int, typed: str, *, by: str) -> Team:
    """Ask the province for a special name. Raises ValidationError / NameTaken / InvalidDecision."""
    team = get(session, team_id)
    if team.level == LEVEL_CORPS or team.kind in (team_names.PREFECTURE, team_names.COUNTY):
        raise InvalidDecision(
            "总队和市（州）、县（区）科技志愿服务队的名称由规则确定，不能申请特殊命名。"
        )
    if team.status != STATUS_APPROVED:
        raise InvalidDecision(f"「{team.name}」当前状态为{team.status_label}，审核通过后才能改名。")
    name = team_names.free_name(typed)
    if team_names.name_key(name) == team.name_key:
        raise InvalidDecision("新名称与现在的名称相同。")
    check_name_free(session, name, except_team=team.id)
    team.requested_name = name
    team.requested_name_by = by or None
    team.name_requested_at = utcnow()
    session.flush()
    return team


def pending_special_names(session: Session) -> list[Team]:
    """Teams whose special name waits for the province, oldest request first."""
    return list(
        session.scalars(
            select(Team)
            .where(Team.requested_name.is_not(None))
            .order_by(Team.name_requested_at, Team.id)
        )
    )


@dataclass(frozen=True)
class NameDecision:
    """A province operator's decision on a special name, and whom to tell after the commit."""

    team: Team
    requested: str
    approved: bool
    reason: str | None  # why not, when refused
    renamed: Renamed | None  # the rename, when approved
    admins: tuple[str, ...]  # the team's admins (and the requester): told the decision
    asked_at: datetime | None


def decide_special_name(
    session: Session,
    team_id: int,
    *,
    approve_it: bool,
    by: Scope,
    reason: str = "",
    operator: Actor | None = None,
    actor: str = "",
    ip: str | None = None,
) -> NameDecision:
    """The province approves (the rename takes effect) or refuses, with a reason, a special
    name; either way it is written to the audit log. Raises InvalidDecision."""
    if not by.is_province:
        raise InvalidDecision("特殊命名（在省科协指导下命名）只能由省科协审核。")
    reason = " ".join(reason.split())
    if not approve_it and not reason:
        raise InvalidDecision("不同意特殊命名需要填写原因，原因将告知队伍管理员。")
    team = get(session, team_id)
    requested = team.requested_name
    if requested is None:
        raise InvalidDecision(f"「{team.name}」没有待审核的改名申请。")
    asked_at = team.name_requested_at
    told = [a.openid for a in admins(session, team.id)]
    if team.requested_name_by and team.requested_name_by not in told:
        told.append(team.requested_name_by)
    who = actor or (operator.username if operator is not None else "")
    renamed = rename(session, team.id, requested, by=who) if approve_it else None
    if approve_it:
        team.needs_guidance = True  # named under the province's guidance
    team.requested_name = None
    team.requested_name_by = None
    team.name_requested_at = None
    verdict = "通过" if approve_it else "未通过"
    summary = f"特殊命名{verdict}：{requested}" + ("" if approve_it else f"（{reason}）")
    audit(
        session,
        operator,
        "team_special_name",
        summary=summary,
        target=team,
        detail={"requested": requested, "approved": approve_it, "reason": reason or None},
        ip=ip,
        actor=actor or None,
    )
    session.flush()
    return NameDecision(team, requested, approve_it, reason or None, renamed, tuple(told), asked_at)


def name_decision_text(decision: NameDecision) -> str:
    requested, team = decision.requested, decision.team
    if decision.approved:
        return f"您的队伍申请的特殊命名「{requested}」已通过省科协审核，队伍名称已改为「{requested}」。"
    return (
        f"很抱歉，「{team.name}」申请的特殊命名「{requested}」未通过省科协审核。\n"
        f"原因：{decision.reason}\n\n队伍继续使用「{team.name}」，志愿者照常加入。"
        "如需再次申请，请按意见修改后回复「申请特殊命名 新名称」。"
    )


def tell_name_decision(
    api: WeChatAPI, decision: NameDecision, *, template_id: str | None = None
) -> dict[str, str]:
    """After the commit: tell the team's admins (customer-service message, else the template)
    and, on approval, the admins of the sub-teams renamed with it. Returns openid → how."""
    team = decision.team
    stamp = int(decision.asked_at.timestamp()) if decision.asked_at else 0
    data = {
        "thing1": clip(team.name, 20),
        "phrase2": "改名通过" if decision.approved else "改名未通过",
        "time3": clock.show(utcnow()),
        "thing4": clip(
            f"已改为{decision.requested}" if decision.approved else (decision.reason or ""), 20
        ),
    }
    how = {
        openid: deliver(
            api,
            openid,
            name_decision_text(decision),
            team=team,
            template_id=template_id,
            template_data=data,
            client_msg_id=f"team-name-{team.id}-{stamp}",
        )
        for openid in decision.admins
    }
    for old, new, openids in decision.renamed.followers if decision.renamed else []:
        for openid in openids:
            if openid in how:
                continue
            how[openid] = deliver(
                api,
                openid,
                f"您管理的「{old}」已随上级队伍改名为「{new}」。",
                team=team,
                template_id=template_id,
                template_data={**data, "thing1": clip(new, 20), "thing4": "随上级队伍改名"},
                client_msg_id=f"team-name-{team.id}-{stamp}",
            )
    return how
