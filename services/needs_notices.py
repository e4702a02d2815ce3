"""「通知这些志愿者」: one template notice about a need to the volunteers matched to it, through
the notice pipeline (the same value checks, recipient rows, worker sending, dedup, rate limit
and delivery records as every notice).

The matched set is `Audience(need_id=...)`, resolved when the notice is sent by the matching
query (services.needs_matching.matched_volunteer_ids): active volunteers with the need's field
among their skills **who agreed to show their skills to teams** (`skills_visible`), the ones the
suggestions name. Those who did not agree are counted on the suggestions page and not notified:
they agreed to be offered neither to operators' matching nor to teams (operators still reach
them with ordinary notices by skill). As with every notice, only followers who do not refuse
notices are sent to, within the notice's scope and the region chosen.

- Operators: a published (or claimed) need in their scope; the notice is in their scope.
- Team admins: their team is paired (结对) with a published need's 县区 or among the teams
  suggested for it, or claimed the need, and may send notices (teams.notices_allowed). Their notice is sent in the need's 市州
  (or only its 县区) and is listed for that 市州's operators.
"""

from __future__ import annotations

from collections.abc import Mapping

from sqlalchemy import select
from sqlalchemy.orm import Session

from domain import clock
from domain.errors import ValidationError
from models.need import CLAIMED, PUBLISHED, Need, Pairing
from models.notice import Notice
from models.team import Team
from services import needs_matching, notices
from services.operators import OperatorError, Scope
from services.team_console import TeamAdminUser, actor_for, record
from services.team_console_activities import team_scope
from services.team_console_notices import check_allowed

NOTIFIABLE: tuple[str, ...] = (PUBLISHED, CLAIMED)
NOT_SUGGESTED = "本队与该需求所在县区未结对，也不在该需求的建议服务队中，不能通知其匹配志愿者。"
TEAM_CHECKS = 20  # recent needs checked for a team's list (each runs the team ranking)


def visible_need(session: Session, scope: Scope, need_id: int) -> Need | None:
    """A need the operator may notify about: in their scope and published (or claimed)."""
    need = session.get(Need, need_id)
    if need is None or not scope.allows(need.prefecture_code, need.county_code):
        return None
    return need if need.status in NOTIFIABLE else None


def audience(need: Need, region: str | None = None) -> notices.Audience:
    return notices.Audience(region=region or None, need_id=need.id)


def recipient_count(session: Session, scope: Scope, need: Need, region: str | None = None) -> int:
    return notices.count_recipients(session, scope, audience(need, region))


# -- team admins -----------------------------------------------------------------------------


def need_scope(need: Need) -> Scope:
    """Where a team admin's notice about the need is sent: the need's 市州."""
    try:
        return Scope.for_region(need.prefecture_code)
    except OperatorError:
        return Scope()


def region_choices(need: Need) -> list[tuple[str, str]]:
    """A team admin's choice: the need's 市州 (default) or only its 县区."""
    choices = [("", f"需求所在市州：{need_scope(need).label}")]
    if need.county_code:
        choices.append(
            (need.county_code, f"仅需求所在县区：{Scope.for_region(need.county_code).label}")
        )
    return choices


def team_may_notify(session: Session, team: Team, need: Need) -> bool:
    """A published need: the team is paired with its 县区, or among the teams suggested for
    it. A claimed need: only the team that claimed it."""
    if need.status == CLAIMED:
        return need.claimed_team_id == team.id
    if need.status != PUBLISHED:
        return False
    if team.id in needs_matching.paired_team_ids(session, need.county_code):
        return True
    return any(s.id == team.id for s in needs_matching.suggest_teams(session, need, clock.utcnow()))


def check_team_may_notify(session: Session, team: Team, need: Need) -> None:
    """The team's notices are not switched off (team_console_notices.check_allowed) and the team
    may notify about this need (team_may_notify); else ValidationError with the reason."""
    check_allowed(team)
    if not team_may_notify(session, team, need):
        raise ValidationError(NOT_SUGGESTED)


def needs_for_team(session: Session, team: Team) -> list[Need]:
    """Needs this team may notify about: those it claimed and those of its paired 县区 first,
    then the recent needs of its area for which it is suggested."""
    claimed = select(Need).where(Need.status == CLAIMED, Need.claimed_team_id == team.id)
    found: list[Need] = list(session.scalars(claimed.order_by(Need.id.desc())))
    open_needs = select(Need).where(Need.status == PUBLISHED).order_by(Need.id.desc())
    counties = select(Pairing.county_code).where(Pairing.team_id == team.id)
    found += session.scalars(open_needs.where(Need.county_code.in_(counties)))
    seen = {need.id for need in found}
    area = team_scope(team)
    recent = session.scalars(
        open_needs.where(area.where(Need.prefecture_code, Need.county_code)).limit(TEAM_CHECKS)
    )
    for need in recent:
        if need.id not in seen and team_may_notify(session, team, need):
            found.append(need)
    return found


def team_draft(
    session: Session,
    team: Team,
    need: Need,
    *,
    template_pk: int,
    data: Mapping[str, str],
    url: str | None,
    region: str | None,
) -> notices.Draft:
    """A checked draft from a team admin (DraftError / ValidationError with hints)."""
    check_team_may_notify(session, team, need)
    if region and region not in {code for code, _ in region_choices(need)}:
        raise ValidationError("只能选择需求所在的市州或县区。")
    return notices.check_draft(
        session,
        need_scope(need),
        template_pk=template_pk,
        data=data,
        url=url,
        audience=audience(need, region),
    )


def team_send(
    session: Session,
    who: TeamAdminUser,
    team: Team,
    need: Need,
    checked: notices.Draft,
    ip: str | None,
) -> Notice:
    """Store the notice as queued and audit it (the caller enqueues it after commit)."""
    check_team_may_notify(session, team, need)
    actor = actor_for(who, team)
    notice = notices.create_notice(
        session, need_scope(need), checked, actor, ip, actor_name=actor.username
    )
    record(
        session,
        who,
        team,
        "need_notice",
        f"通知需求 {need.need_no} 的匹配志愿者：{checked.template.title}",
        target=notice,
        ip=ip,
        detail={"need_id": need.id, "audience": checked.audience.to_json()},
    )
    return notice
