"""The console's team hierarchy one page at a time: with 20,000 teams the whole tree is neither
readable nor quick to draw. The order is the tree's (lookups.hierarchy), worked out from a few
columns of every team; only the page's teams are loaded, and only their members counted."""

from __future__ import annotations

from collections.abc import Callable, Collection
from typing import Any

from sqlalchemy import bindparam, func, select, text
from sqlalchemy.orm import Session

from domain import team_names
from models.team import MEMBERSHIP_JOINED, MEMBERSHIP_PENDING, STATUS_PENDING, Membership, Team
from services.operators import Scope
from services.paging import Window
from services.teams.approval_levels import may_decide
from services.teams.lookups import NOT_IN_TREE, TreeRow

TREE_PAGE_SIZE = 200
# Registrations waiting for an operator shown at once, oldest first; the rest once these are
# decided (a province may have a thousand waiting, each row with two forms).
WAITING_SHOWN = 50


def waiting(session: Session, scope: Scope, shown: int = WAITING_SHOWN) -> tuple[list[Team], int]:
    """The oldest `shown` team registrations this operator may decide, and how many there are.
    The province decides every one (counted in SQL, `shown` rows read); a 市州 operator's are
    those of their region that `may_decide` allows."""
    pending = (Team.status == STATUS_PENDING,)
    oldest = (Team.created_at, Team.id)
    if scope.is_province:
        total = session.scalar(select(func.count(Team.id)).where(*pending)) or 0
        rows = session.scalars(select(Team).where(*pending).order_by(*oldest).limit(shown))
        return list(rows), int(total)
    found = session.scalars(
        select(Team)
        .where(*pending, scope.where(Team.prefecture_code, Team.county_code))
        .order_by(*oldest)
    )
    decidable = [team for team in found if may_decide(team, scope)]
    return decidable[:shown], len(decidable)


# Every team in the tree as one string, "id,parent_id,prefecture_code,county_code" joined by
# ";", siblings' order first (level, then id): 20,000 rows through PyMySQL cost 3-6 times as
# much as one string (the driver parses each field in Python).
_LEVEL_ORDER = " ".join(f"WHEN :l{i} THEN {i}" for i in range(len(team_names.LEVELS)))
_TREE_ROWS = text(
    "SET STATEMENT group_concat_max_len = 268435456 FOR "
    "SELECT GROUP_CONCAT(CONCAT_WS(',', id, IFNULL(parent_id, ''), IFNULL(prefecture_code, ''), "
    f"IFNULL(county_code, '')) ORDER BY CASE level {_LEVEL_ORDER} ELSE 99 END, id "
    "SEPARATOR ';') FROM teams WHERE status NOT IN :hidden"
).bindparams(bindparam("hidden", expanding=True))


def _tree_rows(session: Session) -> list[tuple[int, int | None, str | None, str | None]]:
    """(id, parent id, prefecture, county) of the teams in the tree, in siblings' order."""
    levels = {f"l{i}": level for i, level in enumerate(team_names.LEVELS)}
    blob = session.scalar(_TREE_ROWS, {**levels, "hidden": list(NOT_IN_TREE)})
    rows = []
    for item in (blob or "").split(";") if blob else ():
        team_id, parent_id, prefecture, county = item.split(",")
        rows.append((int(team_id), int(parent_id) if parent_id else None, prefecture or None,
                     county or None))  # fmt: skip
    return rows


def tree_order(session: Session, allows: Callable[[str | None, str | None], bool]) -> list[Any]:
    """(team id, depth) of every team in the tree (rejected and withdrawn registrations left
    out) whose region `allows` accepts, parents before their children, siblings by level (总队,
    队, 支队, 分队) and id."""
    rows = _tree_rows(session)
    known = {row[0] for row in rows}
    by_parent: dict[int | None, list[Any]] = {}
    for row in rows:  # already in siblings' order
        by_parent.setdefault(row[1] if row[1] in known else None, []).append(row)
    found: list[tuple[int, int]] = []
    stack: list[tuple[Any, int]] = [(row, 0) for row in reversed(by_parent.get(None, []))]
    while stack:
        row, depth = stack.pop()
        if allows(row[2], row[3]):
            found.append((row[0], depth))
        stack.extend((child, depth + 1) for child in reversed(by_parent.get(row[0], [])))
    return found


def membership_counts(session: Session, team_ids: Collection[int]) -> dict[tuple[int, str], int]:
    """{(team id, status): memberships} of the joined members and pending join requests of
    `team_ids`, in one grouped statement (an index walk of (team_id, status, volunteer_id))."""
    if not team_ids:
        return {}
    counts: dict[tuple[int, str], int] = {}
    for team_id, status, n in session.execute(
        select(Membership.team_id, Membership.status, func.count())
        .where(
            Membership.team_id.in_(list(team_ids)),
            Membership.status.in_((MEMBERSHIP_JOINED, MEMBERSHIP_PENDING)),
        )
        .group_by(Membership.team_id, Membership.status)
    ):
        counts[(int(team_id), str(status))] = int(n)
    return counts


def tree_page(
    session: Session,
    allows: Callable[[str | None, str | None], bool],
    page: int,
    size: int = TREE_PAGE_SIZE,
) -> tuple[list[TreeRow], Window]:
    """One page of the tree with each team's joined members and pending join requests."""
    ordered = tree_order(session, allows)
    window = Window.of(len(ordered), page, size)
    chosen = ordered[(window.page - 1) * size : window.page * size]
    ids = [team_id for team_id, _ in chosen]
    teams = {t.id: t for t in session.scalars(select(Team).where(Team.id.in_(ids)))}
    counts = membership_counts(session, ids)
    rows = [
        TreeRow(
            teams[team_id],
            depth,
            counts.get((team_id, MEMBERSHIP_JOINED), 0),
            counts.get((team_id, MEMBERSHIP_PENDING), 0),
        )
        for team_id, depth in chosen
        if team_id in teams
    ]
    return rows, window
