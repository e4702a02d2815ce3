"""Renaming a team: it takes effect at once (the notice lets an admin rename a registered team),
the sub-teams whose names carry it follow in the same transaction, and every old name is kept
(team_former_names) with an audit entry."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import team_names
from models.base import utcnow
from models.team import LEVEL_CORPS, FormerName, Team, TeamAdmin
from services.operators import audit
from services.teams.errors import InvalidDecision
from services.teams.lookups import children, get
from services.teams.registry import take_name


@dataclass
class Renamed:
    team: Team
    # (old name, new name, admins' openids) of each sub-team renamed with it
    followers: list[tuple[str, str, list[str]]] = field(default_factory=list)


def rename(session: Session, team_id: int, new_name: str, *, by: str = "") -> Renamed:
    """Rename now, with the sub-teams named after it. Raises NameTaken or InvalidDecision.
    `by` says who (an openid as 「wechat:…」, 「cli:…」) for the records."""
    team = get(session, team_id)
    if team.level == LEVEL_CORPS:
        raise InvalidDecision("总队名称不能修改。")
    if team_names.name_key(new_name) == team.name_key:
        raise InvalidDecision("新名称与现在的名称相同。")
    result = Renamed(team)
    old = team.name
    _rename_one(session, team, new_name, by)
    _rename_children(session, team, old, new_name, by, result)
    return result


def _rename_one(session: Session, team: Team, new_name: str, by: str) -> None:
    old = team.name
    now = utcnow()
    session.add(FormerName(team_id=team.id, name=old, renamed_at=now, renamed_by=by or None))
    team.updated_at = now
    take_name(session, team, new_name)
    audit(
        session,
        None,
        "team_rename",
        summary=f"队伍改名：{old} → {new_name}"[:255],
        target=team,
        detail={"old": old, "new": new_name},
        actor=by or "wechat",
    )


def _rename_children(
    session: Session, parent: Team, old: str, new: str, by: str, result: Renamed
) -> None:
    for child in children(session, parent.id):
        if not child.name.startswith(old):
            continue
        child_old = child.name
        child_new = new + child.name[len(old) :]
        _rename_one(session, child, child_new, by)
        admins = session.scalars(select(TeamAdmin.openid).where(TeamAdmin.team_id == child.id))
        result.followers.append((child_old, child_new, list(admins)))
        _rename_children(session, child, child_old, child_new, by, result)
