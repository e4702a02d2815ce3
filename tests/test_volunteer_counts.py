"""The volunteer list at scale: a skill filter counted from the skill rows gives the same number
as the plain count over volunteers, and a registration-date filter pages by registration time."""

from __future__ import annotations

import re
from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import select, update

from infra.db import Database
from models.base import utcnow
from models.volunteer import DEREGISTERED, Volunteer
from services import paging, volunteer_counts
from services import volunteers as volunteer_service
from services.operators import Scope
from services.reports_lists import VolunteerFilters, volunteer_conditions
from tests.test_console_support import add_volunteers, province_client  # noqa: F401  (fixture)


def _edit(db: Database, openids: list[str], action: str) -> None:
    """Through the ORM, as the app does, so the skill rows follow."""
    with db.Session.begin() as session:
        for volunteer in session.scalars(select(Volunteer).where(Volunteer.openid.in_(openids))):
            if action == "imported":  # no openid: not matchable, still listed
                volunteer.openid = None
            elif action == "status":  # status alone: rows kept, not matchable
                volunteer.status = DEREGISTERED
            else:
                volunteer_service.deregister(session, volunteer)


def test_a_skill_count_from_the_skill_rows_equals_the_plain_count(db: Database) -> None:
    chengguan = add_volunteers(db, 6, skills=("科学普及",))
    qilihe = add_volunteers(db, 4, county_code="620103", skills=("科学普及", "农业技术"))
    tianshui = add_volunteers(db, 3, prefecture_code="620500", county_code="620502")
    add_volunteers(db, 2, skills=())
    _edit(db, chengguan[:2], "imported")
    _edit(db, chengguan[2:3], "status")
    _edit(db, qilihe[:1], "deregister")
    _edit(db, tianshui[:1], "imported")
    expected = {
        ("", "", "科学普及"): 11,  # 6 + 4 + 3, less the two no longer active
        ("", "620100", "科学普及"): 8,
        ("", "620102", "科学普及"): 5,
        ("", "620500", "科学普及"): 3,
        ("", "", "农业技术"): 3,
        ("620100", "", "科学普及"): 8,
        ("620100", "620103", "科学普及"): 3,
        ("620102", "", "科学普及"): 5,
        ("620102", "620102", "农业技术"): 0,
    }
    with db.Session() as session:
        for (scope_code, region, skill), count in expected.items():
            scope = Scope.for_region(scope_code) if scope_code else Scope()
            filters = VolunteerFilters(region=region, skill=skill)
            conditions = volunteer_conditions(session, scope, filters)
            plain = paging.count(session, Volunteer.id, conditions)
            fast = volunteer_counts.count(session, scope, filters, conditions)
            assert (scope_code, region, skill, fast, plain) == (
                scope_code,
                region,
                skill,
                count,
                count,
            )
        # With another filter the plain count is used: still the same figure.
        filters = VolunteerFilters(skill="科学普及", education="本科")
        conditions = volunteer_conditions(session, Scope(), filters)
        assert volunteer_counts.count(session, Scope(), filters, conditions) == 11


def test_a_date_filter_pages_by_registration_time(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    openids = add_volunteers(db, 5, name="登记")
    now = utcnow()
    # Registration times out of id order (an import keeps the original dates).
    days = [3, 1, 4, 2, 9]
    with db.Session.begin() as session:
        for openid, day in zip(openids, days, strict=True):
            session.execute(
                update(Volunteer)
                .where(Volunteer.openid == openid)
                .values(created_at=now - timedelta(days=day))
            )
        names = {o: n for o, n in session.execute(select(Volunteer.openid, Volunteer.name))}
    since = (now - timedelta(days=6)).strftime("%Y-%m-%d")
    html = province_client.get(f"/console/volunteers?since={since}").get_data(as_text=True)
    shown = re.findall(r"登记\d+", html)
    newest_first = [
        names[o] for o, _ in sorted(zip(openids, days, strict=True), key=lambda p: p[1])
    ]
    assert shown == newest_first[:4]  # the one registered 9 days ago is outside the range
