"""Matching on a fixed data set: the expected order of volunteers and teams, each with its
explanation; volunteers who did not agree to show their skills are counted, never named; a
team paired (结对) with the need's 县区 comes first."""

from __future__ import annotations

from dataclasses import replace
from datetime import date, timedelta
from decimal import Decimal

from flask import Flask
from sqlalchemy import update

from domain import clock, regions
from infra.db import Database
from models.need import Need, Pairing
from models.service import RECORD_CONFIRMED, ServiceRecord
from models.volunteer import Volunteer
from services.needs import NeedDraft, post_need, publish_need
from services.needs_matching import needed_times, suggest
from services.operators import Scope
from tests.test_console_support import (
    add_activity,
    add_operator,
    add_team,
    add_volunteers,
    join_team,
    login,
)

# Saturday 9 and Sunday 10 January 2027: a weekend need in 兰州市城关区.
DRAFT = NeedDraft(
    requester_name="城关区东岗社区",
    requester_kind="社区",
    prefecture_code="620100",
    county_code="620102",
    field="应急安全",
    description="防电信诈骗和用电安全讲座",
    starts_on=date(2027, 1, 9),
    ends_on=date(2027, 1, 10),
    people_needed=3,
    contact_name="李红梅",
    contact_phone="13812345678",
)


def volunteer(
    db: Database,
    name: str,
    prefecture: str,
    county: str | None,
    skills: tuple[str, ...],
    times: tuple[str, ...],
    *,
    visible: bool = True,
) -> str:
    (openid,) = add_volunteers(
        db, 1, prefecture_code=prefecture, county_code=county, skills=skills, service_times=times
    )
    with db.Session.begin() as session:
        session.execute(
            update(Volunteer)
            .where(Volunteer.openid == openid)
            .values(name=name, skills_visible=visible)
        )
    return openid


def served(db: Database, openid: str, activity_id: int, hours: str, days_ago: int) -> None:
    with db.Session.begin() as session:
        volunteer_id = session.query(Volunteer.id).filter(Volunteer.openid == openid).scalar()
        session.add(
            ServiceRecord(
                activity_id=activity_id,
                volunteer_id=volunteer_id,
                status=RECORD_CONFIRMED,
                hours=Decimal(hours),
                activity_title="应急科普",
                service_date=clock.beijing_date() - timedelta(days=days_ago),
                place="城关区",
                content="讲解",
                organiser="某队",
                recorder="记录员",
                recorded_at=clock.utcnow(),
            )
        )


def test_weekend_dates_want_weekend_volunteers() -> None:
    need = Need(starts_on=date(2027, 1, 9), ends_on=date(2027, 1, 10))
    assert needed_times(need) == {"周末"}
    need = Need(starts_on=date(2027, 1, 8), ends_on=date(2027, 1, 9))
    assert needed_times(need) == {"周末", "工作日白天", "工作日晚上"}


def test_ranking_on_a_fixed_data_set(db: Database) -> None:
    local_team = add_team(
        db, "兰州市城关区应急科技志愿服务队", prefecture_code="620100", county_code="620102"
    )
    society = add_team(db, "甘肃省气象学会科技志愿服务队")
    remote = add_team(
        db, "天水市应急科技志愿服务队", prefecture_code="620500", county_code="620502"
    )

    a = volunteer(db, "甲", "620100", "620102", ("应急安全",), ("周末",))
    b = volunteer(db, "乙", "620100", "620103", ("应急安全", "科学普及"), ("周末",))
    c = volunteer(db, "丙", "620100", "620102", ("应急安全",), ("工作日白天",))
    d = volunteer(db, "丁", "620500", "620502", ("应急安全",), ("不定期",))
    volunteer(db, "戊", regions.OUTSIDE_GANSU, None, ("应急安全",), ("周末",))
    volunteer(db, "己", "620100", "620102", ("科学普及",), ("周末",))  # no matching skill
    hidden = [
        volunteer(db, f"隐{i}", "620100", "620102", ("应急安全",), ("周末",), visible=False)
        for i in range(2)
    ]
    activity = add_activity(db, local_team, starts_in=timedelta(days=-30))
    old = add_activity(db, remote, title="旧活动", starts_in=timedelta(days=-400))
    served(db, a, activity, "10", days_ago=30)
    served(db, b, activity, "5", days_ago=30)
    served(db, c, old, "40", days_ago=400)  # more than a year ago: not counted

    join_team(db, local_team, [a, c])
    join_team(db, remote, [d, *hidden])
    join_team(db, society, [b])

    with db.Session.begin() as session:
        need = post_need(session, "oPoster", DRAFT)
        result = suggest(session, need)

    assert [(s.name, s.score) for s in result.volunteers] == [
        ("甲", 9),
        ("乙", 8),
        ("丙", 7),
        ("丁", 6),
        ("戊", 5),
    ]
    assert [s.reasons for s in result.volunteers] == [
        ["技能相符：应急安全", "地区：同县区", "可服务时间：周末", "近一年服务 10 小时"],
        ["技能相符：应急安全", "地区：同市州", "可服务时间：周末", "近一年服务 5 小时"],
        ["技能相符：应急安全", "地区：同县区"],
        ["技能相符：应急安全", "地区：省内", "可服务时间：不定期"],
        ["技能相符：应急安全", "地区：省外", "可服务时间：周末"],
    ]
    assert result.unnamed == 2
    assert all(not s.name.startswith("隐") for s in result.volunteers)

    assert [(s.name, s.reasons) for s in result.teams] == [
        (
            "兰州市城关区应急科技志愿服务队",
            ["2 名队员具备「应急安全」技能", "地区：同县区", "近半年组织活动 1 次"],
        ),
        ("天水市应急科技志愿服务队", ["3 名队员具备「应急安全」技能", "地区：省内"]),
        ("甘肃省气象学会科技志愿服务队", ["1 名队员具备「应急安全」技能", "地区：省内"]),
    ]

    # 结对: the society paired with 城关区 comes first for this 县区's needs only.
    with db.Session.begin() as session:
        session.add(Pairing(team_id=society, county_code="620102", created_by="sheng"))
    with db.Session.begin() as session:
        here = post_need(session, "oPoster", DRAFT)
        there = post_need(
            session, "oPoster", replace(DRAFT, prefecture_code="620500", county_code="620502")
        )
        first_here = suggest(session, here).teams[0]
        first_there = suggest(session, there).teams[0]
    assert first_here.name == "甘肃省气象学会科技志愿服务队"
    assert first_here.reasons[0] == "与需求所在县区结对"
    assert first_there.name == "天水市应急科技志愿服务队"


def test_the_console_shows_the_suggestions_with_their_reasons(app: Flask, db: Database) -> None:
    volunteer(db, "甲", "620100", "620102", ("应急安全",), ("周末",))
    volunteer(db, "隐", "620100", "620102", ("应急安全",), ("周末",), visible=False)
    with db.Session.begin() as session:
        need = post_need(session, "oPoster", DRAFT)
        publish_need(need, Scope(), "sheng")
        need_id = need.id
    add_operator(db, "optianshui", "region:620500")
    client = app.test_client()
    login(client, "optianshui")
    assert client.get(f"/console/needs/{need_id}/suggestions").status_code == 404
    add_operator(db, "oplanzhou", "region:620100")
    client = app.test_client()
    login(client, "oplanzhou")
    assert "匹配建议" in client.get("/console/needs").get_data(as_text=True)
    page = client.get(f"/console/needs/{need_id}/suggestions").get_data(as_text=True)
    assert "甲" in page and "技能相符：应急安全；地区：同县区；可服务时间：周末" in page
    assert "隐" not in page and "另有 1 名" in page
