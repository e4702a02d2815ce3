"""The team 统计's member figures as a rollup (`report_team_joins`): for every team, the
members of the team and the teams below it, counted once each by the Beijing day they first
joined one of those teams, by education and by skill, at the grains of models.report ("d",
"m", "y", "a"). A team's page reads its own rows instead of aggregating its memberships.

A volunteer counts under team T when they are active and a joined member of T or of a team
below T; their day is the earliest join (decided_at, else created_at) among those memberships.
That is not a sum over single teams (a member of two sub-teams counts once), so a write is
kept by recomputing what the volunteers it touches count, before and after: models.report's
flush and bulk-statement hooks call `contributions` for the volunteers of memberships
(joined, left, moved), of volunteers (status, education, skills) and of teams moved under
another parent (`members_below`: every member of the moved team and the teams below it). `rebuild` recomputes the table from the
base tables (models.report.rebuild, `flask reports rebuild`, the migration's backfill).

Reads of the state before a write are plain reads in the writer's transaction, as for the
other rollups: two transactions changing one volunteer's memberships at the same moment can
leave a difference that `rebuild` repairs.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Collection, Iterable, Mapping
from datetime import date, datetime
from typing import Any

from sqlalchemy import Connection, Date, Integer, String, func, select, text
from sqlalchemy.orm import Mapped, mapped_column

from domain import clock
from models.base import Base, BigId
from models.team import MEMBERSHIP_JOINED, Membership, Team
from models.volunteer import ACTIVE, Volunteer

BATCH = 1000
EDUCATION, SKILL = "education", "skill"

Key = tuple[int, str, str, date, str]  # (team_id, facet, grain, day, value)


class TeamJoinCount(Base):
    """Members of a team and the teams below it, by the day they first joined, per facet
    (education: one row per volunteer; skill: one per skill of the volunteer)."""

    __tablename__ = "report_team_joins"

    team_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    facet: Mapped[str] = mapped_column(String(12), primary_key=True)
    grain: Mapped[str] = mapped_column(String(1), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)
    value: Mapped[str] = mapped_column(String(20), primary_key=True)
    n: Mapped[int] = mapped_column(Integer, default=0)


def _buckets(day: date) -> list[tuple[str, date]]:
    from models.report import buckets

    return buckets(day)


def _chunks(ids: Iterable[int]) -> Iterable[list[int]]:
    ordered = sorted(set(ids))
    for start in range(0, len(ordered), BATCH):
        yield ordered[start : start + BATCH]


def _ancestors(conn: Connection, team_ids: Collection[int]) -> dict[int, list[int]]:
    """Each team with the teams above it (itself first)."""
    parent: dict[int, int | None] = {}
    wanted = set(team_ids)
    while wanted:
        for chunk in _chunks(wanted):
            for tid, pid in conn.execute(
                select(Team.id, Team.parent_id).where(Team.id.in_(chunk))
            ).all():
                parent[tid] = pid
        wanted = {p for p in parent.values() if p is not None and p not in parent}
    found: dict[int, list[int]] = {}
    for tid in team_ids:
        chain: list[int] = []
        at: int | None = tid
        while at is not None and at not in chain:
            chain.append(at)
            at = parent.get(at)
        found[tid] = chain
    return found


def contributions(
    conn: Connection,
    volunteer_ids: Collection[int],
    *,
    newer_than: int | None = None,
    skip: Collection[int] = (),
) -> Counter[Key]:
    """What these volunteers count in report_team_joins now (as before memberships were
    inserted: `newer_than` leaves out memberships with a higher id, `skip` these ids)."""
    found: Counter[Key] = Counter()
    for chunk in _chunks(volunteer_ids):
        people = {
            row.id: row
            for row in conn.execute(
                select(Volunteer.id, Volunteer.education, Volunteer.skills).where(
                    Volunteer.id.in_(chunk), Volunteer.status == ACTIVE
                )
            )
        }
        if not people:
            continue
        query = select(
            Membership.volunteer_id,
            Membership.team_id,
            func.coalesce(Membership.decided_at, Membership.created_at),
        ).where(Membership.volunteer_id.in_(list(people)), Membership.status == MEMBERSHIP_JOINED)
        if newer_than is not None:
            query = query.where(Membership.id <= newer_than)
        if skip:
            query = query.where(Membership.id.not_in(list(skip)))
        joins = conn.execute(query).all()
        chains = _ancestors(conn, {team for _v, team, _at in joins})
        first: dict[tuple[int, int], datetime] = {}
        for vid, team, at in joins:
            if at is None:
                continue
            for scope in chains[team]:
                if (vid, scope) not in first or at < first[(vid, scope)]:
                    first[(vid, scope)] = at
        for (vid, scope), at in first.items():
            person = people[vid]
            values = [(EDUCATION, str(person.education or "")[:20])]
            values += [
                (SKILL, s[:20])
                for s in dict.fromkeys(person.skills or ())
                if isinstance(s, str) and s
            ]
            for grain, day in _buckets(clock.beijing_date(at)):
                for facet, value in values:
                    found[(scope, facet, grain, day, value)] += 1
    return found


def members_below(conn: Connection, team_ids: Collection[int]) -> set[int]:
    """Volunteers with a joined membership in these teams or the teams below them."""
    teams, frontier = set(team_ids), set(team_ids)
    while frontier:
        below: set[int] = set()
        for chunk in _chunks(frontier):
            below.update(conn.scalars(select(Team.id).where(Team.parent_id.in_(chunk))))
        frontier = below - teams
        teams |= below
    found: set[int] = set()
    for chunk in _chunks(teams):
        found.update(
            conn.scalars(
                select(Membership.volunteer_id).where(
                    Membership.team_id.in_(chunk), Membership.status == MEMBERSHIP_JOINED
                )
            )
        )
    return found


def rows(delta: Mapping[Key, int]) -> list[dict[str, Any]]:
    """The non-zero differences as rows for counters.add."""
    names = ("team_id", "facet", "grain", "day", "value")
    return [dict(zip(names, key, strict=True), n=n) for key, n in delta.items() if n]


# -- rebuilding from the base tables ---------------------------------------------------------


def rebuild(conn: Connection, f: Mapping[str, str], epoch: date) -> None:
    """Recompute report_team_joins (`f`: models.report's dialect snippets, `epoch`: the day of
    the all-time rows). The teams' chains are written to a scratch table (each team with
    itself and every team above it); every member's first join per team is then grouped in
    SQL, into day rows, and the coarser grains from the finer."""
    teams = {tid: pid for tid, pid in conn.execute(select(Team.id, Team.parent_id)).all()}
    pairs: list[dict[str, int]] = []
    for tid in teams:
        at: int | None = tid
        seen: set[int] = set()
        while at is not None and at not in seen:
            seen.add(at)
            pairs.append({"team_id": tid, "scope_id": at})
            at = teams.get(at)
    conn.execute(text("DROP TABLE IF EXISTS report_team_paths_scratch"))
    conn.execute(
        text(
            "CREATE TEMPORARY TABLE report_team_paths_scratch "
            "(team_id BIGINT NOT NULL, scope_id BIGINT NOT NULL, PRIMARY KEY (team_id, scope_id))"
        )
    )
    insert = text(
        "INSERT INTO report_team_paths_scratch (team_id, scope_id) VALUES (:team_id, :scope_id)"
    )
    for start in range(0, len(pairs), 10_000):
        conn.execute(insert, pairs[start : start + 10_000])
    day = f["bj"].format("j.joined_at")
    conn.execute(text("DROP TABLE IF EXISTS report_team_firsts_scratch"))
    conn.execute(
        text(
            "CREATE TEMPORARY TABLE report_team_firsts_scratch (scope_id BIGINT NOT NULL, "
            "volunteer_id BIGINT NOT NULL, day DATE NOT NULL, PRIMARY KEY (volunteer_id, scope_id))"
        )
    )
    conn.execute(
        text(
            "INSERT INTO report_team_firsts_scratch (scope_id, volunteer_id, day) "
            f"SELECT j.scope_id, j.volunteer_id, {day} FROM ("
            "SELECT p.scope_id, m.volunteer_id,"
            " MIN(COALESCE(m.decided_at, m.created_at)) AS joined_at"
            " FROM team_memberships m JOIN report_team_paths_scratch p ON p.team_id = m.team_id"
            f" WHERE m.status = '{MEMBERSHIP_JOINED}' GROUP BY p.scope_id, m.volunteer_id) j"
            " WHERE j.joined_at IS NOT NULL"
        )
    )
    conn.execute(text("DELETE FROM report_team_joins"))
    for facet, source, value in (
        (EDUCATION, "", "COALESCE(v.education, '')"),
        (SKILL, " JOIN volunteer_skills s ON s.volunteer_id = v.id", "s.skill"),
    ):
        conn.execute(
            text(
                "INSERT INTO report_team_joins (team_id, facet, grain, day, value, n) "
                f"SELECT j.scope_id, '{facet}', 'd', j.day, {value}, COUNT(*)"
                " FROM report_team_firsts_scratch j JOIN volunteers v ON v.id = j.volunteer_id"
                f"{source} WHERE v.status = '{ACTIVE}' GROUP BY j.scope_id, j.day, {value}"
            )
        )
    # Months from days, years from months, all time from years (each from the finer rows).
    coarser = (
        ("m", "d", f["m"].format("day")),
        ("y", "m", f["y"].format("day")),
        ("a", "y", f"'{epoch}'"),
    )
    for grain, finer, bucket in coarser:
        conn.execute(
            text(
                "INSERT INTO report_team_joins (team_id, facet, grain, day, value, n) "
                f"SELECT team_id, facet, '{grain}', {bucket}, value, SUM(n) FROM report_team_joins"
                f" WHERE grain = '{finer}' GROUP BY team_id, facet, {bucket}, value"
            )
        )
    conn.execute(text("DROP TABLE report_team_firsts_scratch"))
    conn.execute(text("DROP TABLE report_team_paths_scratch"))
