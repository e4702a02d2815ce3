"""Notices from a team's admins to the team's own members, through the notice pipeline (the same
template value checks, recipients and sending as operators' notices). A province operator may
switch the right off per team (teams.notices_allowed). Team notices are ordinary notices of the
team's region, so they appear in the operators' notice list."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy.orm import Session

from domain.errors import ValidationError
from models.notice import Notice, NoticeTemplate
from models.team import Team
from services import notices
from services.operators import Actor, audit
from services.team_console import TeamAdminUser, actor_for
from services.team_console_activities import team_scope

SWITCHED_OFF = "省科协已关闭本队在后台发送通知的权限，如需发送请联系省科协。"


def check_allowed(team: Team) -> None:
    if not team.notices_allowed:
        raise ValidationError(SWITCHED_OFF)


def templates(session: Session) -> Sequence[NoticeTemplate]:
    return notices.active_templates(session)


def members_only(team: Team) -> notices.Audience:
    return notices.Audience(team_id=team.id)


def recipient_count(session: Session, team: Team) -> int:
    return notices.count_recipients(session, team_scope(team), members_only(team))


def draft(
    session: Session, team: Team, template_pk: int, data: Mapping[str, str], url: str | None
) -> notices.Draft:
    """A checked draft to the team's members (DraftError / ValidationError with hints)."""
    check_allowed(team)
    return notices.check_draft(
        session,
        team_scope(team),
        template_pk=template_pk,
        data=data,
        url=url,
        audience=members_only(team),
    )


def send(
    session: Session, who: TeamAdminUser, team: Team, checked: notices.Draft, ip: str | None
) -> Notice:
    """Store the notice as queued (the caller enqueues it after commit)."""
    check_allowed(team)
    actor = actor_for(who, team)
    return notices.create_notice(
        session, team_scope(team), checked, actor, ip, actor_name=actor.username
    )


def set_allowed(
    session: Session, operator: Actor, team: Team, allowed: bool, ip: str | None
) -> None:
    """A province operator switches the team admins' notices on or off."""
    team.notices_allowed = allowed
    audit(
        session,
        operator,
        "team_notices_allowed" if allowed else "team_notices_denied",
        summary=f"{'允许' if allowed else '关闭'}队伍后台发送通知：{team.name}",
        target=team,
        ip=ip,
    )
