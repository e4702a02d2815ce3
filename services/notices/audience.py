"""Who a notice goes to: the audience's conditions on volunteers, and the recipient count."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import ColumnElement, exists, false, func, literal, select, true
from sqlalchemy.orm import Session

from domain import regions
from domain.choices import SERVICE_TIMES, SKILLS
from domain.errors import ValidationError
from models.audience import ALL, SKILL, TIME, AudienceCount, VolunteerTime
from models.need import Need
from models.team import MEMBERSHIP_JOINED, Membership, Team
from models.volunteer import ACTIVE, Volunteer, VolunteerSkill
from services import needs_matching, signups
from services.operators import Scope

# -- audience --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Audience:
    """Who a notice goes to: registered volunteers in the region (within the operator's scope),
    narrowed by team, skills (any of) and service times (any of). Sign-ups for an activity come
    with the sign-up feature."""

    region: str | None = None
    team_id: int | None = None
    skills: tuple[str, ...] = ()
    service_times: tuple[str, ...] = ()
    # Those who signed up for / checked in at this activity (services.signups).
    activity_id: int | None = None
    activity_state: str = signups.SIGNED_UP_FOR
    # 「通知这些志愿者」: the volunteers who match this need and agreed to show their skills to
    # teams (services.needs_matching.matched_volunteer_ids), resolved when the notice is sent.
    need_id: int | None = None

    def __post_init__(self) -> None:
        if self.region is not None and regions.get(self.region) is None:
            raise ValidationError("未知的地区。")
        if any(s not in SKILLS for s in self.skills):
            raise ValidationError("未知的专业领域。")
        if any(t not in SERVICE_TIMES for t in self.service_times):
            raise ValidationError("未知的服务时间。")
        if self.activity_state not in signups.AUDIENCE_STATES:
            raise ValidationError("未知的活动受众条件。")

    def to_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "team_id": self.team_id,
            "skills": list(self.skills),
            "service_times": list(self.service_times),
            "activity_id": self.activity_id,
            "activity_state": self.activity_state,
            "need_id": self.need_id,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Audience:
        return cls(
            region=data.get("region") or None,
            team_id=int(data["team_id"]) if data.get("team_id") else None,
            skills=tuple(data.get("skills") or ()),
            service_times=tuple(data.get("service_times") or ()),
            activity_id=int(data["activity_id"]) if data.get("activity_id") else None,
            activity_state=data.get("activity_state") or signups.SIGNED_UP_FOR,
            need_id=int(data["need_id"]) if data.get("need_id") else None,
        )

    @classmethod
    def parse_pairs(cls, pairs: Iterable[str]) -> Audience:
        """CLI form: `all`, `region=620100`, `team=3`, `skill=科学普及`, `time=周末`,
        `signed_up=12` or `checked_in=12` (an activity's number), `need=5` (a need's id: the
        volunteers matched to it)."""
        values: dict[str, Any] = {"skills": [], "service_times": []}
        for pair in pairs:
            if pair.strip() == "all":
                continue
            key, sep, value = pair.partition("=")
            key, value = key.strip(), value.strip()
            if not sep or not value:
                raise ValidationError(f"受众条件应为 key=value：{pair}")
            if key == "region":
                values["region"] = value
            elif key == "team":
                if not value.isdigit():
                    raise ValidationError("team= 后面是服务队编号（数字）。")
                values["team_id"] = int(value)
            elif key == "skill":
                values["skills"].append(value)
            elif key == "time":
                values["service_times"].append(value)
            elif key in signups.AUDIENCE_STATES:
                if not value.isdigit():
                    raise ValidationError(f"{key}= 后面是活动编号（数字）。")
                values["activity_id"], values["activity_state"] = int(value), key
            elif key == "need":
                if not value.isdigit():
                    raise ValidationError("need= 后面是需求的内部编号（数字）。")
                values["need_id"] = int(value)
            else:
                raise ValidationError(
                    f"未知的受众条件：{key}"
                    "（可用 region、team、skill、time、signed_up、checked_in、need）"
                )
        return cls.from_json(values)

    def describe(
        self, scope: Scope, team_name: str | None = None, need_no: str | None = None
    ) -> str:
        parts = [scope.narrow(self.region).label]
        if self.need_id:
            parts.append(f"匹配需求 {need_no or self.need_id}（同意向服务队展示技能）")
        if self.team_id:
            parts.append(f"服务队：{team_name or self.team_id}")
        if self.skills:
            parts.append("专业领域：" + "、".join(self.skills))
        if self.service_times:
            parts.append("服务时间：" + "、".join(self.service_times))
        if self.activity_id:
            parts.append(f"{signups.AUDIENCE_STATES[self.activity_state]}活动{self.activity_id}")
        return " · ".join(parts) + "的注册志愿者"


def json_array_contains(session: Session, column: Any, value: str) -> ColumnElement[bool]:
    """`value` is one of the strings in the JSON array `column`.

    MariaDB's JSON_CONTAINS compares the stored text as is, and SQLAlchemy stores non-ASCII as
    \\u escapes, so it would miss; JSON_SEARCH decodes. (The values come from fixed option lists:
    no LIKE wildcards in them.)"""
    if session.get_bind().dialect.name == "sqlite":
        items = func.json_each(column).table_valued("value")
        return exists(select(literal(1)).select_from(items).where(items.c.value == value))
    return func.json_search(column, "one", value).is_not(None)


def recipient_conditions(
    session: Session, scope: Scope, audience: Audience
) -> list[ColumnElement[bool]]:
    """WHERE conditions on Volunteer for everyone the notice goes to."""
    region = scope.narrow(audience.region)
    conditions: list[ColumnElement[bool]] = [
        Volunteer.status == ACTIVE,
        # A current follower (services.followers keeps the rows) who does not refuse notices:
        # someone with no follower row never followed, and WeChat would refuse the send
        # (43004). models.audience keeps the flag true to the followers table, and it implies
        # an openid.
        Volunteer.receives_notices == true(),
        region.where(Volunteer.prefecture_code, Volunteer.county_code),
    ]
    if audience.team_id:
        conditions.append(
            exists(
                select(literal(1)).where(
                    Membership.volunteer_id == Volunteer.id,
                    Membership.team_id == audience.team_id,
                    Membership.status == MEMBERSHIP_JOINED,
                )
            )
        )
    if audience.skills:
        # The skill rows (models.volunteer.VolunteerSkill). They mirror the volunteer's region
        # and `matchable` (active with an openid, which the conditions above ask anyway), so
        # the database may start from the (skill, matchable, visible, region) index, a few
        # rows of the region, instead of probing every volunteer of the region.
        rows = VolunteerSkill
        conditions.append(
            exists(
                select(literal(1)).where(
                    rows.volunteer_id == Volunteer.id,
                    rows.skill.in_(audience.skills),
                    rows.matchable == true(),
                    region.where(rows.prefecture_code, rows.county_code),
                )
            )
        )
    if audience.service_times:
        # The time rows (models.audience.VolunteerTime), a primary-key probe each.
        conditions.append(
            exists(
                select(literal(1)).where(
                    VolunteerTime.volunteer_id == Volunteer.id,
                    VolunteerTime.service_time.in_(audience.service_times),
                )
            )
        )
    if audience.activity_id:
        conditions.append(signups.audience_condition(audience.activity_id, audience.activity_state))
    if audience.need_id:
        conditions.append(_matching_need(session, audience.need_id))
    return conditions


def _matching_need(session: Session, need_id: int) -> ColumnElement[bool]:
    """The volunteers matched to the need, as a subquery (counted and inserted in the database:
    nothing is loaded into memory)."""
    need = session.get(Need, need_id)
    if need is None:
        return false()
    return Volunteer.id.in_(needs_matching.matched_volunteer_ids(session, need))


def count_recipients(session: Session, scope: Scope, audience: Audience) -> int:
    """The exact number of recipients. A region alone, or one skill or one service time in
    a region, is summed from the counters models.audience keeps (a few hundred rows at
    most); anything else is counted over the conditions the recipients are built from."""
    counter = _counter(audience)
    if counter is not None:
        region = scope.narrow(audience.region)
        kind, value = counter
        total = session.scalar(
            select(func.coalesce(func.sum(AudienceCount.volunteers), 0)).where(
                AudienceCount.kind == kind,
                AudienceCount.value == value,
                region.where(AudienceCount.prefecture_code, AudienceCount.county_code),
            )
        )
        return int(total or 0)
    conditions = recipient_conditions(session, scope, audience)
    return int(session.scalar(select(func.count(Volunteer.id)).where(*conditions)) or 0)


def _counter(audience: Audience) -> tuple[str, str] | None:
    """The counter (kind, value) holding this audience's count, if one does."""
    if audience.team_id or audience.activity_id or audience.need_id:
        return None
    skills, times = set(audience.skills), set(audience.service_times)
    if not skills and not times:
        return (ALL, "")
    if len(skills) == 1 and not times:
        return (SKILL, skills.pop())
    if len(times) == 1 and not skills:
        return (TIME, times.pop())
    return None


def teams_in(session: Session, scope: Scope) -> Sequence[Team]:
    return session.scalars(
        select(Team)
        .where(scope.where(Team.prefecture_code, Team.county_code), Team.status == "approved")
        .order_by(Team.name)
    ).all()
