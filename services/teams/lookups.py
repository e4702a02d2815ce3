"""Finding teams: by reference, invite code, scene, name; the hierarchy."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import team_names
from models.team import (
    LEVEL_CORPS,
    MEMBERSHIP_JOINED,
    MEMBERSHIP_PENDING,
    STATUS_APPROVED,
    STATUS_REJECTED,
    STATUS_WITHDRAWN,
    Membership,
    Team,
)
from services.teams.errors import NameTaken, TeamNotFound

SCENE_PREFIX = "team:"


# -- lookups ------------------------------------------------------------------------------


def get(session: Session, team_id: int) -> Team:
    team = session.get(Team, team_id)
    if team is None:
        raise TeamNotFound
    return team


def find(session: Session, ref: str | int) -> Team | None:
    """A team by id, team number, invite code or exact name (as an operator would type it)."""
    text = str(ref).strip()
    if not text:
        return None
    if text.isdigit():
        team = session.get(Team, int(text))
        if team is not None:
            return team
    upper = text.upper()
    return session.scalar(
        select(Team).where(
            (Team.team_no == upper)
            | (Team.invite_code == upper)
            | (Team.name_key == team_names.name_key(text))
        )
    )


def by_invite_code(session: Session, code: str) -> Team | None:
    return session.scalar(select(Team).where(Team.invite_code == code.strip().upper()))


def by_scene(session: Session, scene: str | None) -> Team | None:
    """The team of a scene QR code («team:<team_no>»), if the scene is one of ours."""
    if not scene or not scene.startswith(SCENE_PREFIX):
        return None
    return session.scalar(select(Team).where(Team.team_no == scene[len(SCENE_PREFIX) :]))


def scene_for(team: Team) -> str:
    return f"{SCENE_PREFIX}{team.team_no}"


def name_taken(session: Session, name: str) -> bool:
    key = team_names.name_key(name)
    return session.scalar(select(Team.id).where(Team.name_key == key)) is not None


def check_name_free(session: Session, name: str, *, except_team: int | None = None) -> None:
    key = team_names.name_key(name)
    found = session.scalar(select(Team.id).where(Team.name_key == key))
    if found is not None and found != except_team:
        raise NameTaken(name)


def root(session: Session) -> Team | None:
    return session.scalar(select(Team).where(Team.level == LEVEL_CORPS).order_by(Team.id))


def search(
    session: Session, text: str, *, level: str, kind: str | None = None, limit: int = 8
) -> list[Team]:
    """Approved teams of `level` whose name contains `text` (compared like names are)."""
    key = team_names.name_key(text)
    if not key:
        return []
    query = select(Team).where(
        Team.status == STATUS_APPROVED,
        Team.level == level,
        Team.name_key.contains(key, autoescape=True),
    )
    if kind is not None:
        query = query.where(Team.kind == kind)
    return list(session.scalars(query.order_by(Team.name).limit(limit)))


def approved_region_team(session: Session, prefecture_code: str) -> Team | None:
    """The approved 市（州）科技志愿服务队 of a prefecture, if registered."""
    return session.scalar(
        select(Team).where(
            Team.kind == team_names.PREFECTURE,
            Team.prefecture_code == prefecture_code,
            Team.status == STATUS_APPROVED,
        )
    )


def children(session: Session, team_id: int) -> list[Team]:
    return list(session.scalars(select(Team).where(Team.parent_id == team_id).order_by(Team.id)))


def hierarchy(session: Session, *, hide: Collection[str] = ()) -> list[tuple[Team, int]]:
    """Every team in tree order (parents before their children) with its depth (root 0),
    leaving out the teams whose status is in `hide`."""
    query = select(Team).order_by(Team.id)
    if hide:
        query = query.where(Team.status.not_in(list(hide)))
    teams = list(session.scalars(query))
    by_parent: dict[int | None, list[Team]] = {}
    known = {team.id for team in teams}
    for team in teams:
        parent = team.parent_id if team.parent_id in known else None
        by_parent.setdefault(parent, []).append(team)
    order = {level: i for i, level in enumerate(team_names.LEVELS)}
    result: list[tuple[Team, int]] = []

    def visit(parent: int | None, depth: int) -> None:
        for team in sorted(by_parent.get(parent, []), key=lambda t: (order.get(t.level, 9), t.id)):
            result.append((team, depth))
            visit(team.id, depth + 1)

    visit(None, 0)
    return result


def parent_of(session: Session, team: Team) -> Team | None:
    return session.get(Team, team.parent_id) if team.parent_id else None


@dataclass(frozen=True)
class TreeRow:
    team: Team
    depth: int
    members: int  # joined members
    pending: int  # join requests waiting for the team's admins


# Registrations that came to nothing: not part of the tree (pending ones are, marked 待审核).
NOT_IN_TREE = (STATUS_REJECTED, STATUS_WITHDRAWN)


def tree(session: Session) -> list[TreeRow]:
    """The hierarchy with counts, for `teams tree` and the console: approved, pending and
    disabled teams; rejected and withdrawn registrations are left out."""
    members = _counts(session, MEMBERSHIP_JOINED)
    pending = _counts(session, MEMBERSHIP_PENDING)
    return [
        TreeRow(team, depth, members.get(team.id, 0), pending.get(team.id, 0))
        for team, depth in hierarchy(session, hide=NOT_IN_TREE)
    ]


def _counts(session: Session, status: str) -> dict[int, int]:
    rows = session.execute(
        select(Membership.team_id, func.count(Membership.id))
        .where(Membership.status == status)
        .group_by(Membership.team_id)
    ).all()
    return {int(team_id): int(n) for team_id, n in rows}
