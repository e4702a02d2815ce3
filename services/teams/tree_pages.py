"""The console's team hierarchy one page at a time: with 20,000 teams the whole tree is neither
readable nor quick to draw. The order is the tree's (lookups.hierarchy), worked out from a few
columns of every team; only the page's teams are loaded, and only their members counted."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from domain import team_names
from models.team import MEMBERSHIP_JOINED, MEMBERSHIP_PENDING, Membership, Team
from services.paging import Window
from services.teams.lookups import NOT_IN_TREE, TreeRow

TREE_PAGE_SIZE = 200


def tree_order(session: Session, allows: Callable[[str | None, str | None], bool]) -> list[Any]:
    """(team id, depth) of every team in the tree (rejected and withdrawn registrations left
    out) whose region `allows` accepts, parents before their children."""
    rows = session.execute(
        select(Team.id, Team.parent_id, Team.level, Team.prefecture_code, Team.county_code)
        .where(Team.status.not_in(NOT_IN_TREE))
        .order_by(Team.id)
    ).all()
    known = {row.id for row in rows}
    order = {level: i for i, level in enumerate(team_names.LEVELS)}
    by_parent: dict[int | None, list[Any]] = {}
    for row in rows:
        by_parent.setdefault(row.parent_id if row.parent_id in known else None, []).append(row)
    found: list[tuple[int, int]] = []
    stack: list[tuple[Any, int]] = [
        (row, 0)
        for row in reversed(
            sorted(by_parent.get(None, []), key=lambda r: (order.get(r.level, 9), r.id))
        )
    ]
    while stack:
        row, depth = stack.pop()
        if allows(row.prefecture_code, row.county_code):
            found.append((row.id, depth))
        children = sorted(by_parent.get(row.id, []), key=lambda r: (order.get(r.level, 9), r.id))
        stack.extend((child, depth + 1) for child in reversed(children))
    return found


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
    counts: dict[tuple[int, str], int] = {}
    for team_id, status, n in session.execute(
        select(Membership.team_id, Membership.status, func.count())
        .where(
            Membership.team_id.in_(ids),
            Membership.status.in_((MEMBERSHIP_JOINED, MEMBERSHIP_PENDING)),
        )
        .group_by(Membership.team_id, Membership.status)
    ):
        counts[(int(team_id), str(status))] = int(n)
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
