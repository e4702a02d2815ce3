"""The report rollups (models.report) stay equal to a recomputation from the base tables after
each kind of write that changes them: registration, bulk import, profile edit (a move),
de-registration; an activity published, moved and cancelled; service records confirmed,
adjusted, marked absent and corrected. `flask reports rebuild` repairs them; `cover` reads
exactly the days asked for; days are Beijing days."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask
from sqlalchemy import insert, select, text
from sqlalchemy.orm import Session

from domain import team_names
from infra.db import Database
from models.activity import CANCELLED, Activity
from models.report import ServiceCount, TeamMembers, VolunteerCount, VolunteerYear, rebuild
from models.service import ServiceRecord
from models.team import MEMBERSHIP_JOINED, MEMBERSHIP_PENDING, Membership
from models.team_report import TeamJoinCount
from models.volunteer import Volunteer
from services import attendance_corrections, attendance_records, volunteers
from services.reports_rollups import cover
from tests.test_console_support import add_activity, add_team

TABLES = (VolunteerCount, ServiceCount, VolunteerYear, TeamMembers, TeamJoinCount)
_n = iter(range(1, 10_000))


def rollups(session: Session) -> dict[str, set[tuple[Any, ...]]]:
    """Every non-zero rollup row."""
    found: dict[str, set[tuple[Any, ...]]] = {}
    for model in TABLES:
        table = model.__table__
        rows = session.execute(select(table)).all()
        sums = [c.name for c in table.columns if not c.primary_key]
        found[table.name] = {
            tuple(
                Decimal(v) if c in sums else v
                for c, v in zip(table.columns.keys(), row, strict=True)
            )
            for row in rows
            if any(getattr(row, c) for c in sums)
        }
    return found


def assert_exact(db: Database) -> dict[str, set[tuple[Any, ...]]]:
    """The rollups as the writes left them equal a rebuild from the base tables."""
    with db.Session() as session:
        kept = rollups(session)
        rebuild(session.connection())
        assert rollups(session) == kept
        session.rollback()
    return kept


def new_volunteer(county: str, *, created: datetime | None = None, **values: Any) -> Volunteer:
    n = next(_n)
    return Volunteer(
        volunteer_no=f"KR{n:010d}",
        openid=f"oRoll{n:023d}",
        name=f"汇总{n}",
        prefecture_code=county[:4] + "00",
        county_code=county,
        education=values.pop("education", "本科"),
        occupation=values.pop("occupation", "教师"),
        skills=values.pop("skills", ["科学普及", "农业技术"]),
        **({"created_at": created} if created else {}),
        **values,
    )


def count(session: Session, grain: str, facet: str, day: date, value: str = "") -> int:
    return int(
        session.scalar(
            select(VolunteerCount.n).where(
                VolunteerCount.grain == grain,
                VolunteerCount.facet == facet,
                VolunteerCount.day == day,
                VolunteerCount.value == value,
            )
        )
        or 0
    )


def test_volunteer_writes_keep_the_rollup_exact(app: Flask, db: Database) -> None:
    # Registration (an ORM object, as services.volunteers.register writes it). 17:00 UTC on
    # 31 January is 01:00 on 1 February in Beijing: a February registration.
    with db.Session.begin() as session:
        first = new_volunteer("620102", created=datetime(2026, 1, 31, 17, 0))
        second = new_volunteer("620102", created=datetime(2026, 1, 31, 15, 0), skills=["信息技术"])
        session.add_all([first, second])
    with db.Session() as session:
        assert count(session, "d", "all", date(2026, 2, 1)) == 1
        assert count(session, "d", "all", date(2026, 1, 31)) == 1
        assert count(session, "m", "skill", date(2026, 2, 1), "农业技术") == 1
        assert count(session, "a", "education", date(2000, 1, 1), "本科") == 2
    assert_exact(db)

    # An import: an ORM bulk INSERT (no objects).
    with db.Session.begin() as session:
        session.execute(
            insert(Volunteer),
            [
                {
                    "volunteer_no": f"KI{i:010d}",
                    "status": "active",
                    "prefecture_code": "620500",
                    "county_code": "620502",
                    "education": "大专",
                    "skills": ["医疗卫生"],
                    "created_at": datetime(2025, 6, 1, 3),
                    "updated_at": datetime(2025, 6, 1, 3),
                }
                for i in range(3)
            ],
        )
    assert_exact(db)

    # A profile edit that moves the volunteer and changes education and skills.
    with db.Session.begin() as session:
        volunteer = session.get(Volunteer, first.id)
        assert volunteer is not None
        volunteers.update(
            session,
            volunteer,
            {"prefecture_code": "620500", "education": "硕士研究生", "skills": ["生态环保"]},
        )
    with db.Session() as session:
        assert count(session, "a", "skill", date(2000, 1, 1), "生态环保") == 1
    assert_exact(db)

    # De-registration: the volunteer no longer counts.
    with db.Session.begin() as session:
        volunteer = session.get(Volunteer, second.id)
        assert volunteer is not None
        volunteers.deregister(session, volunteer)
    with db.Session() as session:
        assert count(session, "d", "all", date(2026, 1, 31)) == 0
    assert_exact(db)


def test_activity_and_record_writes_keep_the_rollup_exact(app: Flask, db: Database) -> None:
    team = add_team(
        db, "兰州市科技志愿服务队", kind=team_names.PREFECTURE, prefecture_code="620100"
    )
    other = add_team(
        db, "天水市科技志愿服务队", kind=team_names.PREFECTURE, prefecture_code="620500"
    )
    activity_id = add_activity(db, team, starts_in=timedelta(days=-3))
    with db.Session.begin() as session:
        people = [new_volunteer("620102") for _ in range(3)]
        session.add_all(people)
    ids = [p.id for p in people]
    assert_exact(db)

    # Memberships: joined, approved from pending, and ended by de-registration.
    with db.Session.begin() as session:
        session.add(Membership(team_id=team, volunteer_id=ids[0], status=MEMBERSHIP_JOINED))
        session.add(Membership(team_id=team, volunteer_id=ids[1], status=MEMBERSHIP_PENDING))
        session.add(Membership(team_id=other, volunteer_id=ids[1], status=MEMBERSHIP_JOINED))
    with db.Session.begin() as session:
        pending = session.scalar(select(Membership).where(Membership.status == MEMBERSHIP_PENDING))
        assert pending is not None
        pending.status = MEMBERSHIP_JOINED
    with db.Session() as session:
        assert session.get(TeamMembers, team).members == 2  # type: ignore[union-attr]
    assert_exact(db)
    with db.Session.begin() as session:
        volunteer = session.get(Volunteer, ids[1])
        assert volunteer is not None
        volunteers.deregister(session, volunteer)
    with db.Session() as session:
        assert session.get(TeamMembers, team).members == 1  # type: ignore[union-attr]
        assert session.get(TeamMembers, other).members == 0  # type: ignore[union-attr]
    assert_exact(db)

    with db.Session.begin() as session:
        activity = session.get(Activity, activity_id)
        assert activity is not None
        attendance_records.adjust(session, activity, ids[0], Decimal("2.5"), "提前离开", "组织者")
        attendance_records.adjust(session, activity, ids[1], Decimal("3.0"), "按实际", "组织者")
        attendance_records.mark_absent(session, activity, ids[2], "组织者")
    kept = assert_exact(db)
    assert any(row[-1] == Decimal("5.5") for row in kept["report_service_counts"])

    # Absent to confirmed, confirmed to absent.
    with db.Session.begin() as session:
        activity = session.get(Activity, activity_id)
        assert activity is not None
        attendance_records.adjust(session, activity, ids[2], Decimal("1.5"), "补记", "组织者")
        attendance_records.mark_absent(session, activity, ids[1], "组织者")
    assert_exact(db)

    # A correction the volunteer asked for, accepted.
    with db.Session.begin() as session:
        record = session.scalar(
            select(ServiceRecord).where(
                ServiceRecord.activity_id == activity_id, ServiceRecord.volunteer_id == ids[0]
            )
        )
        assert record is not None
        now = datetime.now()
        correction = attendance_corrections.request(session, ids[0], record.id, "时长少记了", now)
        attendance_corrections.accept(session, correction.id, Decimal("4.0"), "属实", "管理员", now)
    assert_exact(db)

    # The activity moves to another region and team: its hours move with it.
    with db.Session.begin() as session:
        activity = session.get(Activity, activity_id)
        assert activity is not None
        activity.prefecture_code, activity.county_code, activity.team_id = "620500", "620502", other
    kept = assert_exact(db)
    assert {row[1] for row in kept["report_service_counts"]} == {0, other}

    # Cancelled: no longer held (its records, if any, still count as hours).
    with db.Session.begin() as session:
        activity = session.get(Activity, activity_id)
        assert activity is not None
        activity.status = CANCELLED
    kept = assert_exact(db)
    assert sum(row[5] for row in kept["report_service_counts"]) == 0  # activities column


def test_rebuild_command_repairs_the_rollups(app: Flask, db: Database) -> None:
    with db.Session.begin() as session:
        session.add_all([new_volunteer("620102"), new_volunteer("620502")])
    expected = assert_exact(db)
    with db.Session.begin() as session:  # plain SQL bypasses the rollups
        session.execute(text("UPDATE report_volunteer_counts SET n = n + 5"))
    with db.Session() as session:
        assert rollups(session) != expected
    result = app.test_cli_runner().invoke(args=["reports", "rebuild"])
    assert result.exit_code == 0, result.output
    assert "report_volunteer_counts" in result.output
    with db.Session() as session:
        assert rollups(session) == expected


def test_cover_reads_each_day_once() -> None:
    def days(pieces: list[tuple[str, date, date]]) -> list[date]:
        found = []
        for grain, first, last in pieces:
            day = first
            while day <= last:
                if grain == "d":
                    found.append(day)
                    day += timedelta(days=1)
                else:
                    end = date(day.year, 12, 31) if grain == "y" else None
                    if end is None:
                        nxt = (day.replace(day=28) + timedelta(days=4)).replace(day=1)
                        end = nxt - timedelta(days=1)
                    found += [day + timedelta(days=i) for i in range((end - day).days + 1)]
                    day = end + timedelta(days=1)
        return found

    for since, until in (
        (date(2024, 3, 15), date(2026, 2, 10)),
        (date(2025, 1, 1), date(2025, 12, 31)),
        (date(2025, 2, 1), date(2025, 2, 28)),
        (date(2025, 2, 3), date(2025, 2, 3)),
        (date(2024, 12, 31), date(2025, 1, 1)),
    ):
        for top in ("a", "m"):
            pieces = cover(since, until, top)
            wanted = [since + timedelta(days=i) for i in range((until - since).days + 1)]
            assert days(pieces) == wanted
            if top == "m":
                assert all(grain in ("m", "d") for grain, _, _ in pieces)
    assert cover(date(2025, 1, 1), date(2025, 12, 31)) == [
        ("y", date(2025, 1, 1), date(2025, 1, 1))
    ]
    assert cover(None, None) == [("a", date(2000, 1, 1), date(2000, 1, 1))]
    assert [g for g, _, _ in cover(date(2024, 3, 15), None)] == ["d", "m", "y"]
