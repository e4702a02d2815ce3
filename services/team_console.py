"""The team admins' console: who may manage which team, and the audit trail of what they do.

A team admin manages the teams they administer and every team below them (支队, 分队). Rights
are looked up on every request from `team_admins`, so an admin removed from a team loses the
console at their next click. Audit entries name the admin's volunteer number and the team.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.activity import Activity
from models.operator import AuditEntry
from models.team import Team
from services import teams, volunteers
from services.operators import Actor, audit
from services.teams.errors import TeamError


class NoAccess(TeamError):
    """Not (or no longer) an admin of that team or of a team above it."""


@dataclass(frozen=True)
class TeamAdminUser:
    """The admin behind a team console login, read fresh on every request."""

    openid: str
    name: str
    volunteer_no: str
    admin_team_ids: tuple[int, ...]
    team_ids: frozenset[int]  # their teams and every team below them

    def may_manage(self, team_id: int | None) -> bool:
        return team_id is not None and team_id in self.team_ids


def admin_user(session: Session, openid: str) -> TeamAdminUser | None:
    """The admin's rights now; None when they administer no team any more."""
    admin_of = teams.admin_teams(session, openid)
    if not admin_of:
        return None
    volunteer = volunteers.find_by_openid(session, openid)
    return TeamAdminUser(
        openid=openid,
        name=(volunteer.name if volunteer and volunteer.name else "队伍管理员"),
        volunteer_no=(volunteer.volunteer_no if volunteer else "—"),
        admin_team_ids=tuple(t.id for t in admin_of),
        team_ids=frozenset(_with_descendants(session, [t.id for t in admin_of])),
    )


def _with_descendants(session: Session, roots: list[int]) -> set[int]:
    found, frontier = set(roots), list(roots)
    while frontier:
        below = set(session.scalars(select(Team.id).where(Team.parent_id.in_(frontier))))
        frontier = list(below - found)
        found |= below
    return found


def team_and_below(session: Session, team_id: int) -> frozenset[int]:
    """A team and every team below it (its 支队, their 分队...)."""
    return frozenset(_with_descendants(session, [team_id]))


def managed_teams(session: Session, who: TeamAdminUser) -> list[tuple[Team, int]]:
    """The admin's teams as a tree: (team, depth), their own teams first, each team's children
    in id order. One statement: `who.team_ids` already holds every team below theirs."""
    found = session.scalars(select(Team).where(Team.id.in_(who.team_ids)).order_by(Team.id))
    by_id: dict[int, Team] = {}
    children: dict[int, list[Team]] = {}
    for team in found:
        by_id[team.id] = team
        if team.parent_id is not None:
            children.setdefault(team.parent_id, []).append(team)
    ordered: list[tuple[Team, int]] = []
    seen: set[int] = set()
    stack = [(by_id[t], 0) for t in reversed(who.admin_team_ids) if t in by_id]
    while stack:
        team, depth = stack.pop()
        if team.id in seen:
            continue
        seen.add(team.id)
        ordered.append((team, depth))
        stack.extend((child, depth + 1) for child in reversed(children.get(team.id, [])))
    return ordered


def team_of(session: Session, who: TeamAdminUser, team_id: int) -> Team:
    """The team if this admin may manage it; NoAccess (shown as 404) otherwise."""
    team = session.get(Team, team_id)
    if team is None or not who.may_manage(team.id):
        raise NoAccess("没有找到该队伍，或您无权管理。")
    return team


def activity_of(session: Session, who: TeamAdminUser, activity_id: int) -> Activity:
    activity = session.get(Activity, activity_id)
    if activity is None or not who.may_manage(activity.team_id):
        raise NoAccess("没有找到该活动，或您无权管理。")
    return activity


# -- the audit trail -------------------------------------------------------------------------


@dataclass(frozen=True)
class TeamActor:
    """A team admin as the author of a change. Not an operator: no operators row (id None),
    the name says who and for which team: 「队伍管理员 KT0123456789@T1234」."""

    username: str
    id: None = None


def actor_for(who: TeamAdminUser, team: Team) -> Actor:
    name = f"队管:{who.volunteer_no}@{team.team_no}"
    return cast(Actor, TeamActor(username=name))


def record(
    session: Session,
    who: TeamAdminUser,
    team: Team,
    action: str,
    summary: str,
    *,
    target: Any = None,
    ip: str | None = None,
    detail: dict[str, Any] | None = None,
) -> AuditEntry:
    """An audit entry for an admin's action: their volunteer number and the team."""
    return audit(
        session,
        None,
        f"team_{action}"[:40],
        summary=f"【{team.name}】{summary}",
        target=target,
        detail={
            "volunteer_no": who.volunteer_no,
            "team_id": team.id,
            "team_no": team.team_no,
            **(detail or {}),
        },
        ip=ip,
        actor=f"队管:{who.volunteer_no}@{team.team_no}",
    )
