"""Activities of a team, as its admins manage them in the team console. The rules are the
activity services' (services.activities: checks, transitions, audit); this only fixes the
organiser to the admin's team and the region to the team's."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from models.activity import Activity
from models.team import Team
from services import activities
from services.operators import Scope
from services.team_console import TeamAdminUser, actor_for


def team_scope(team: Team) -> Scope:
    """Where the team's activities may take place: the team's 县区 or 市州 (province-level
    teams: anywhere in Gansu)."""
    if activities.is_province_level(team):
        return Scope()
    return Scope.for_region(team.county_code or team.prefecture_code)


def of_team(session: Session, team_id: int) -> Sequence[Activity]:
    return session.scalars(
        select(Activity)
        .where(Activity.team_id == team_id)
        .order_by(Activity.starts_at.desc(), Activity.id.desc())
        .limit(100)
    ).all()


def _checked(session: Session, team: Team, values: Mapping[str, Any]) -> activities.ActivityInput:
    return activities.ActivityInput.check(session, team_scope(team), {**values, "team_id": team.id})


def create(
    session: Session, who: TeamAdminUser, team: Team, values: Mapping[str, Any], ip: str | None
) -> Activity:
    """A draft activity organised by `team` (ValidationError with a hint)."""
    activity = activities.create(session, _checked(session, team, values), actor_for(who, team), ip)
    activity.created_by_openid = who.openid
    return activity


def update(
    session: Session,
    who: TeamAdminUser,
    team: Team,
    activity: Activity,
    values: Mapping[str, Any],
    ip: str | None,
) -> activities.Outcome:
    return activities.update(
        session, activity, _checked(session, team, values), actor_for(who, team), ip
    )


def set_status(
    session: Session,
    who: TeamAdminUser,
    team: Team,
    activity: Activity,
    status: str,
    ip: str | None,
    reason: str | None = None,
) -> activities.Outcome:
    return activities.set_status(session, activity, status, actor_for(who, team), ip, reason=reason)
