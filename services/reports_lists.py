"""The console's lists as filters and exportable rows: volunteers, teams, activities and a
notice's deliveries, always within the operator's scope.

Personal data is masked unless `full` is asked for (the console allows it to province
operators only, and audits it). Times are Beijing time (domain.clock).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, fields
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import ColumnElement, Executable, exists, false, literal, select
from sqlalchemy.orm import Session

from domain import clock, regions
from domain.contact import mask_mobile, parse_mobile
from domain.errors import ValidationError
from domain.idcard import parse_id_number
from domain.pii import PiiCipher
from domain.team_names import kind_label
from models.notice import DELIVERY_LABELS, RECIPIENT_STATUS_LABELS, Notice, NoticeRecipient
from models.team import MEMBERSHIP_JOINED, Membership, Team
from models.team import STATUS_LABELS as TEAM_STATUS_LABELS
from models.volunteer import ACTIVE, Volunteer, VolunteerSkill
from services.operators import Scope
from services.reports_export import Listing
from services.volunteers import ID_CONTEXT

BATCH = 1000


def region_text(prefecture_code: str | None, county_code: str | None) -> str:
    code = county_code or prefecture_code
    if not code:
        return ""
    try:
        return regions.label(code).removeprefix("甘肃省")
    except KeyError:
        return code


def stream(session: Session, query: Executable) -> Iterator[Sequence[Any]]:
    """Rows in batches over a server-side cursor: memory holds one batch."""
    result = session.execute(query.execution_options(yield_per=BATCH))
    yield from result


# -- volunteers ------------------------------------------------------------------------------


@dataclass(frozen=True)
class VolunteerFilters:
    """The volunteer list's filters, as in the page's query string."""

    q: str = ""
    region: str = ""
    skill: str = ""
    education: str = ""
    occupation: str = ""
    team_id: str = ""
    since: str = ""  # registered on or after (YYYY-MM-DD, Beijing)
    until: str = ""  # registered on or before

    @classmethod
    def from_args(cls, args: Mapping[str, str]) -> VolunteerFilters:
        return cls(**{f.name: (args.get(f.name) or "").strip()[:40] for f in fields(cls)})

    def as_args(self) -> dict[str, str]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name)}


ID_NUMBER_LIKE = re.compile(r"[0-9０-９]{17}[0-9０-９xXｘＸ]")
PHONE_LIKE = re.compile(r"[+0-9\s\-]{11,18}")
VOLUNTEER_NO_LIKE = re.compile(r"[A-Z]{2}[0-9]{6,}")  # KJ0123456789; names have no digits


def matching(q: str, pii: PiiCipher | None) -> ColumnElement[bool]:
    """Name (its beginning: the surname, or the whole name), volunteer number, full mobile
    number, or full ID number. An ID number is looked up by its keyed hash (the blind index),
    never by decrypting rows. A name is matched from its start, as an operator types it
    (「张」, 「张伟」): a range of the (status, name) and (status, region, name) indexes, where
    a part from the middle of a name would read every volunteer's name in the scope."""
    if ID_NUMBER_LIKE.fullmatch(q):
        try:
            card = parse_id_number(q)
        except ValidationError:
            return false()
        if pii is None:
            return false()
        return Volunteer.id_number_hash == pii.blind_index(card.number, context=ID_CONTEXT)
    if PHONE_LIKE.fullmatch(q):
        try:
            return Volunteer.phone == parse_mobile(q)
        except ValidationError:
            pass
    if VOLUNTEER_NO_LIKE.fullmatch(q.upper()):
        return Volunteer.volunteer_no == q.upper()  # the unique index; no name looks like this
    return Volunteer.name.startswith(q, autoescape=True)


def volunteer_conditions(
    session: Session, scope: Scope, filters: VolunteerFilters, pii: PiiCipher | None = None
) -> list[ColumnElement[bool]]:
    """SQL conditions for the filters inside `scope`; ValidationError for a region outside it
    or a bad date. `pii` lets `q` find a full ID number (by its keyed hash)."""
    region = scope.narrow(filters.region or None)
    conditions: list[ColumnElement[bool]] = [
        Volunteer.status == ACTIVE,
        region.where(Volunteer.prefecture_code, Volunteer.county_code),
    ]
    if filters.q:
        conditions.append(matching(filters.q, pii))
    if filters.skill:
        # The skill rows (VolunteerSkill, primary key (volunteer_id, skill)), not the JSON.
        conditions.append(
            exists(
                select(literal(1)).where(
                    VolunteerSkill.volunteer_id == Volunteer.id,
                    VolunteerSkill.skill == filters.skill,
                )
            )
        )
    if filters.education:
        conditions.append(Volunteer.education == filters.education)
    if filters.occupation:
        conditions.append(Volunteer.occupation == filters.occupation)
    team = team_reference(filters.team_id)
    if team is not None:
        conditions.append(
            exists(
                select(literal(1)).where(
                    Membership.volunteer_id == Volunteer.id,
                    Membership.team_id == team,
                    Membership.status == MEMBERSHIP_JOINED,
                )
            )
        )
    conditions.extend(date_conditions(Volunteer.created_at, filters.since, filters.until))
    return conditions


def team_reference(text: str) -> Any:
    """A team filter's value: the team's id (menus and links) or its number (KT…, typed when
    the scope has too many teams for a menu). None for anything else (no team filter)."""
    if text.isdigit():
        return int(text)
    if text.upper().startswith("KT"):
        return select(Team.id).where(Team.team_no == text.upper()).scalar_subquery()
    return None


def date_conditions(column: Any, since: str, until: str) -> list[ColumnElement[bool]]:
    """`column` (UTC) within the Beijing days since..until (either may be empty)."""
    start, end = clock_range(since, until)
    found: list[ColumnElement[bool]] = []
    if start is not None:
        found.append(column >= start)
    if end is not None:
        found.append(column < end)
    return found


def clock_range(since: str, until: str) -> tuple[datetime | None, datetime | None]:
    """UTC bounds [start, end) of the Beijing days since..until."""

    def day(text: str) -> datetime | None:
        if not text:
            return None
        try:
            return datetime.strptime(text, "%Y-%m-%d")
        except ValueError:
            raise ValidationError("日期格式应为 2026-01-31。") from None

    start, end = day(since), day(until)
    return (
        clock.from_beijing(start) if start else None,
        clock.from_beijing(end + timedelta(days=1)) if end else None,
    )


VOLUNTEER_COLUMNS = (
    ("志愿者编号", 14),
    ("姓名", 10),
    ("性别", 6),
    ("身份证号", 22),
    ("手机号", 14),
    ("学历", 12),
    ("地区", 22),
    ("工作单位", 24),
    ("职业/身份", 14),
    ("专业领域", 24),
    ("可服务时间", 18),
    ("注册时间", 18),
)


def volunteer_listing(
    session: Session,
    conditions: Sequence[ColumnElement[bool]],
    *,
    full: bool = False,
    pii: PiiCipher | None = None,
) -> Listing:
    query = (
        select(
            Volunteer.volunteer_no,
            Volunteer.name,
            Volunteer.gender,
            Volunteer.id_number_cipher if full else Volunteer.id_number_masked,
            Volunteer.phone,
            Volunteer.education,
            Volunteer.prefecture_code,
            Volunteer.county_code,
            Volunteer.employer,
            Volunteer.occupation,
            Volunteer.skills,
            Volunteer.service_times,
            Volunteer.created_at,
        )
        .where(*conditions)
        .order_by(Volunteer.id.desc())
    )

    def shape(row: Sequence[Any]) -> Sequence[Any]:
        (no, name, gender, id_number, phone, education, pref, county, employer, occupation,
         skills, times, created) = row  # fmt: skip
        if full and id_number and pii is not None:
            id_number = pii.decrypt(id_number, context=ID_CONTEXT)
        return (
            no,
            name,
            gender,
            id_number,
            phone if full else (mask_mobile(phone) if phone else ""),
            education,
            region_text(pref, county),
            employer,
            occupation,
            skills or [],
            times or [],
            clock.show(created),
        )

    return Listing(
        "volunteers", "志愿者", VOLUNTEER_COLUMNS, (shape(r) for r in stream(session, query))
    )


# -- teams -----------------------------------------------------------------------------------


def team_listing(
    session: Session, scope: Scope, status: str = "", kind: str = "", level: str = ""
) -> Listing:
    query = select(
        Team.team_no,
        Team.name,
        Team.level,
        Team.kind,
        Team.prefecture_code,
        Team.county_code,
        Team.host_org,
        Team.captain_name,
        Team.status,
        Team.created_at,
        Team.approved_at,
    ).where(scope.where(Team.prefecture_code, Team.county_code))
    if status in TEAM_STATUS_LABELS:
        query = query.where(Team.status == status)
    if kind:
        query = query.where(Team.kind == kind)
    if level:
        query = query.where(Team.level == level)
    query = query.order_by(Team.id)

    def shape(row: Sequence[Any]) -> Sequence[Any]:
        no, name, level, kind, pref, county, host, captain, status_, created, approved = row
        return (
            no,
            name,
            level,
            kind_label(kind),
            region_text(pref, county),
            host,
            captain,
            TEAM_STATUS_LABELS.get(status_, status_),
            clock.show(created),
            clock.show(approved),
        )

    columns = (
        ("队伍编号", 14),
        ("名称", 36),
        ("层级", 8),
        ("类别", 16),
        ("地区", 20),
        ("依托单位", 24),
        ("队长", 10),
        ("状态", 8),
        ("申请时间", 18),
        ("通过时间", 18),
    )
    return Listing("teams", "服务队", columns, (shape(r) for r in stream(session, query)))


# -- a notice's deliveries -------------------------------------------------------------------


def mask_openid(openid: str) -> str:
    return openid[:4] + "****" + openid[-4:] if len(openid) > 8 else "****"


def recipient_listing(session: Session, notice: Notice, *, full: bool = False) -> Listing:
    query = (
        select(
            NoticeRecipient.openid,
            Volunteer.volunteer_no,
            Volunteer.name,
            NoticeRecipient.status,
            NoticeRecipient.errcode,
            NoticeRecipient.delivery,
            NoticeRecipient.sent_at,
            NoticeRecipient.delivered_at,
        )
        .outerjoin(Volunteer, Volunteer.id == NoticeRecipient.volunteer_id)
        .where(NoticeRecipient.notice_id == notice.id)
        .order_by(NoticeRecipient.id)
    )

    def shape(row: Sequence[Any]) -> Sequence[Any]:
        openid, no, name, status, errcode, delivery, sent, delivered = row
        return (
            openid if full else mask_openid(openid),
            no,
            name,
            RECIPIENT_STATUS_LABELS.get(status, status),
            errcode if errcode is not None else "",
            DELIVERY_LABELS.get(delivery or "", delivery or ""),
            clock.show(sent),
            clock.show(delivered),
        )

    columns = (
        ("openid", 34),
        ("志愿者编号", 14),
        ("姓名", 10),
        ("状态", 10),
        ("错误码", 8),
        ("送达结果", 10),
        ("发送时间", 18),
        ("送达时间", 18),
    )
    return Listing(
        f"notice-{notice.id}",
        f"通知{notice.id}送达",
        columns,
        (shape(r) for r in stream(session, query)),
    )
