"""属地管理、逐级负责: which operator may decide (approve or reject) a team registration.

One place for the rule, used by the console and the CLI (the CLI acts for the province):
- province operators decide every team;
- a 市州 operator decides the 县区 teams (and local unit teams) of their own 市州 only;
- 学会 teams, 省直 units, 市州 teams and special names (「在省科协指导下命名」) are the
  province's alone; 支队 and 分队 are decided by the admins of the team above, in chat;
- a 县区 operator decides no team registration.
"""

from __future__ import annotations

from domain import team_names
from models.team import Team
from services.operators import Scope
from services.teams.errors import InvalidDecision

PROVINCE = Scope()
PROVINCE_CODE = "620000"


def refusal(team: Team, scope: Scope) -> str | None:
    """Why an operator with `scope` may not decide `team`, in Chinese; None when they may."""
    if scope.is_province:
        return None
    name = f"「{team.name}」"
    if not scope.allows(team.prefecture_code, team.county_code):
        return f"{name}不在您的管辖范围（{scope.label}）内。"
    if team.needs_guidance:
        return f"{name}申请「在省科协指导下命名」，只能由省科协审核。"
    if team.kind in (team_names.BRANCH, team_names.SQUAD):
        return f"{name}是支队或分队，由上级队伍的管理员在「组织 → 我的队伍」中审核。"
    if team.kind in (team_names.SOCIETY, team_names.COMMITTEE):
        return f"{name}是学会（协会、研究会）队伍，只能由省科协审核。"
    if team.kind == team_names.PREFECTURE:
        return f"{name}是市州队伍，由省科协审核，市州不能审核本级队伍。"
    if team.kind == team_names.UNIT and team.prefecture_code in (None, PROVINCE_CODE):
        return f"{name}是省直单位队伍，只能由省科协审核。"
    if scope.county_code:
        return f"{name}由所在市州科协或省科协审核，县区不审核队伍注册。"
    if team.kind in (team_names.COUNTY, team_names.UNIT):
        return None
    return f"{name}只能由省科协审核。"


def may_decide(team: Team, scope: Scope) -> bool:
    return refusal(team, scope) is None


def check_decider(team: Team, scope: Scope) -> None:
    """Raise InvalidDecision (with the Chinese reason) unless `scope` may decide `team`."""
    reason = refusal(team, scope)
    if reason is not None:
        raise InvalidDecision(reason)
