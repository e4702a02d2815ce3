"""Rule 5: a rename to a special name (「在省科协指导下命名」) goes to the province. The old name
stays (and joining stays open) until a province operator approves; then it is an ordinary
rename (sub-teams follow, old name kept, audit)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import team_names
from models.base import utcnow
from models.team import LEVEL_CORPS, STATUS_APPROVED, Team
from services.operators import Scope
from services.teams.errors import InvalidDecision
from services.teams.lookups import check_name_free, get
from services.teams.renaming import Renamed, rename


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


def decide_special_name(
    session: Session, team_id: int, *, approve_it: bool, by: Scope, actor: str = ""
) -> tuple[Team, str, Renamed | None]:
    """The province approves (the rename takes effect) or turns down a special name.
    Returns the team, the requested name and, when approved, the rename's result."""
    if not by.is_province:
        raise InvalidDecision("特殊命名（在省科协指导下命名）只能由省科协审核。")
    team = get(session, team_id)
    requested = team.requested_name
    if requested is None:
        raise InvalidDecision(f"「{team.name}」没有待审核的改名申请。")
    renamed = rename(session, team.id, requested, by=actor) if approve_it else None
    if approve_it:
        team.needs_guidance = True  # named under the province's guidance
    team.requested_name = None
    team.requested_name_by = None
    team.name_requested_at = None
    session.flush()
    return team, requested, renamed
