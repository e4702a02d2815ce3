"""The operators' needs list (需求): filters (status, 市州/县区 within the operator's scope,
field, requester kind, Beijing dates), pages, and the same filters for its .xlsx export.

Without a status, merged duplicates are left out, as the dashboard counts (services.reports_needs).
`served` is what the dashboard's 服务完成 figures link to: needs 已完成, dated by completion
instead of submission.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, fields

from sqlalchemy import ColumnElement, func, select
from sqlalchemy.orm import Session

from domain.choices import SKILLS
from models.need import DONE, MERGED, REQUESTER_KINDS, STATUS_LABELS, Need
from models.team import Team
from services.operators import Scope
from services.reports import Filters

PAGE_SIZE = 50


@dataclass(frozen=True)
class NeedFilters:
    status: str = ""
    region: str = ""
    field: str = ""
    kind: str = ""  # the requester's kind (社区, 乡村, ...)
    since: str = ""  # submitted (or, when served, done) on or after, YYYY-MM-DD Beijing
    until: str = ""
    served: str = ""  # "1": needs 已完成, dated by completion

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> NeedFilters:
        return cls(**{f.name: (args.get(f.name) or "").strip()[:16] for f in fields(cls)})

    def as_args(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}

    def conditions(self, scope: Scope) -> list[ColumnElement[bool]]:
        """SQL conditions (ValidationError for a region outside the scope or a bad date)."""
        dated = Filters.of(scope, self.region, self.since, self.until)
        found = [dated.within(Need.prefecture_code, Need.county_code)]
        if self.served == "1":
            found += [Need.status == DONE, *dated.dates(Need.done_at)]
        else:
            found += dated.dates(Need.created_at)
            if self.status in STATUS_LABELS:
                found.append(Need.status == self.status)
            else:
                found.append(Need.status != MERGED)
        if self.field in SKILLS:
            found.append(Need.field == self.field)
        if self.kind in REQUESTER_KINDS:
            found.append(Need.requester_kind == self.kind)
        return found


@dataclass(frozen=True)
class NeedRow:
    need: Need
    team: str | None  # the claiming team's name


@dataclass(frozen=True)
class NeedPage:
    rows: list[NeedRow]
    total: int
    page: int
    pages: int


def need_page(session: Session, conditions: list[ColumnElement[bool]], page: int = 1) -> NeedPage:
    """One page of the needs, newest first."""
    total = int(session.scalar(select(func.count(Need.id)).where(*conditions)) or 0)
    pages = max(1, math.ceil(total / PAGE_SIZE))
    page = min(max(1, page), pages)
    found = session.execute(
        select(Need, Team.name)
        .outerjoin(Team, Team.id == Need.claimed_team_id)
        .where(*conditions)
        .order_by(Need.id.desc())
        .offset((page - 1) * PAGE_SIZE)
        .limit(PAGE_SIZE)
    ).all()
    return NeedPage([NeedRow(need, team) for need, team in found], total, page, pages)
