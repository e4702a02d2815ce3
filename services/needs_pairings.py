"""结对: operators record which 学会 team is paired with which 县区 (「鼓励各学会与县区科协协商
对接，建立结对机制」); the suggestions for a need from that 县区 list the paired team first
(services.needs_matching). Province operators pair any 县区, 市州 operators the 县区 of their
市州, 县区 operators their own; every change is audited."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import regions
from domain.errors import ValidationError
from domain.team_names import SOCIETY
from models.need import Pairing
from models.team import STATUS_APPROVED, Team
from services.operators import Actor, Scope, audit


@dataclass(frozen=True)
class PairingRow:
    id: int
    team_id: int
    team_name: str
    county_code: str
    county: str
    created_by: str


def _counties(scope: Scope) -> list[str] | None:
    """The 县区 codes of the scope (None: the whole province)."""
    if scope.county_code:
        return [scope.county_code]
    if scope.prefecture_code:
        return [c.code for c in regions.counties(scope.prefecture_code)]
    return None


def county_choices(scope: Scope) -> list[regions.Division]:
    return [d for d in scope.regions() if d.level == "county"]


def societies(session: Session) -> Sequence[Team]:
    """The teams that may be paired: approved 学会 teams."""
    return session.scalars(
        select(Team).where(Team.kind == SOCIETY, Team.status == STATUS_APPROVED).order_by(Team.name)
    ).all()


def pairings_in(session: Session, scope: Scope) -> list[PairingRow]:
    query = (
        select(Pairing, Team.name)
        .join(Team, Team.id == Pairing.team_id)
        .order_by(Pairing.county_code, Team.name)
    )
    counties = _counties(scope)
    if counties is not None:
        query = query.where(Pairing.county_code.in_(counties or [""]))
    return [
        PairingRow(
            pairing.id,
            pairing.team_id,
            name,
            pairing.county_code,
            regions.label(pairing.county_code).removeprefix("甘肃省"),
            pairing.created_by,
        )
        for pairing, name in session.execute(query).all()
    ]


def _county_in_scope(scope: Scope, county_code: str) -> regions.Division:
    county = regions.get(county_code or "")
    if county is None or county.level != "county":
        raise ValidationError("请选择县区。")
    if not scope.allows(county.parent_code, county.code):
        raise ValidationError("只能为本辖区内的县区建立结对。")
    return county


def add_pairing(
    session: Session, scope: Scope, actor: Actor, team_id: int, county_code: str, ip: str | None
) -> Pairing:
    county = _county_in_scope(scope, county_code)
    team = session.get(Team, team_id)
    if team is None or team.kind != SOCIETY or team.status != STATUS_APPROVED:
        raise ValidationError("只能选择已审核通过的学会服务队。")
    exists = session.scalar(
        select(Pairing.id).where(Pairing.team_id == team.id, Pairing.county_code == county.code)
    )
    if exists is not None:
        raise ValidationError(f"{team.name} 已与 {county.name} 结对。")
    pairing = Pairing(team_id=team.id, county_code=county.code, created_by=actor.username)
    session.add(pairing)
    session.flush()
    audit(
        session,
        actor,
        "need_pairing_add",
        summary=f"建立结对：{team.name} ↔ {regions.label(county.code)}",
        target=pairing,
        detail={"team_id": team.id, "county_code": county.code},
        ip=ip,
    )
    return pairing


def remove_pairing(
    session: Session, scope: Scope, actor: Actor, pairing_id: int, ip: str | None
) -> str:
    """Remove a pairing of the scope; returns what was removed, for the message."""
    pairing = session.get(Pairing, pairing_id)
    if pairing is None:
        raise ValidationError("该结对不存在或已解除。")
    _county_in_scope(scope, pairing.county_code)
    team = session.get(Team, pairing.team_id)
    text = f"{team.name if team else pairing.team_id} ↔ {regions.label(pairing.county_code)}"
    audit(
        session,
        actor,
        "need_pairing_remove",
        summary=f"解除结对：{text}",
        target=pairing,
        detail={"team_id": pairing.team_id, "county_code": pairing.county_code},
        ip=ip,
    )
    session.delete(pairing)
    return text
