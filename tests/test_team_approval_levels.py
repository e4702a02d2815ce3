"""属地管理、逐级负责 for operators (issue 12, rule 4): a 县区 team is approved by its 市州
operator or the province; 学会 teams, 省直 units, 市州 teams and special names only by the
province. The rule lives in the team decision service; the console lists only what the
operator may decide and says why otherwise."""

from __future__ import annotations

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from domain import team_names
from infra.db import Database
from models.team import Team
from services import operators, teams
from tests.test_console_support import add_operator, add_team, csrf_token, login

LANZHOU = "620100"
CHENGGUAN = "620102"
TIANSHUI = "620500"


def pending_teams(db: Database) -> dict[str, int]:
    """One pending registration of each sort the rule tells apart."""
    specs = [
        ("城关区科技志愿服务队", team_names.COUNTY, LANZHOU, CHENGGUAN),
        ("兰州市科技志愿服务队", team_names.PREFECTURE, LANZHOU, None),
        ("甘肃省农学会科技志愿服务队", team_names.SOCIETY, "620000", None),
        ("甘肃省人民医院科技志愿服务队", team_names.UNIT, "620000", None),
        ("黄河之滨科普先锋队", team_names.OTHER, LANZHOU, None),
        ("麦积区科技志愿服务队", team_names.COUNTY, TIANSHUI, "620503"),
        ("兰州大学科技志愿服务队", team_names.UNIT, LANZHOU, None),
    ]
    return {
        name: add_team(
            db,
            name,
            kind=kind,
            prefecture_code=prefecture,
            county_code=county,
            approved=False,
            registrant=f"oRegistrant{n:015d}",
        )
        for n, (name, kind, prefecture, county) in enumerate(specs)
    }


@pytest.mark.parametrize(
    ("team", "region", "allowed", "reason"),
    [
        ("城关区科技志愿服务队", LANZHOU, True, ""),
        ("城关区科技志愿服务队", None, True, ""),
        ("城关区科技志愿服务队", CHENGGUAN, False, "由所在市州科协或省科协审核"),
        ("城关区科技志愿服务队", TIANSHUI, False, "不在您的管辖范围"),
        ("兰州市科技志愿服务队", LANZHOU, False, "市州不能审核本级队伍"),
        ("兰州市科技志愿服务队", None, True, ""),
        ("甘肃省农学会科技志愿服务队", None, True, ""),
        ("甘肃省人民医院科技志愿服务队", None, True, ""),
        ("黄河之滨科普先锋队", LANZHOU, False, "只能由省科协审核"),
        ("黄河之滨科普先锋队", None, True, ""),
        ("麦积区科技志愿服务队", TIANSHUI, True, ""),
        ("麦积区科技志愿服务队", LANZHOU, False, "不在您的管辖范围"),
        # A unit (单位) team located in a 市州 is that 市州's to decide (属地管理).
        ("兰州大学科技志愿服务队", LANZHOU, True, ""),
        ("兰州大学科技志愿服务队", None, True, ""),
        ("兰州大学科技志愿服务队", TIANSHUI, False, "不在您的管辖范围"),
        ("兰州大学科技志愿服务队", CHENGGUAN, False, "不在您的管辖范围"),
        ("甘肃省人民医院科技志愿服务队", LANZHOU, False, "不在您的管辖范围"),
        ("甘肃省农学会科技志愿服务队", LANZHOU, False, "不在您的管辖范围"),
    ],
)
def test_who_may_decide_which_registration(
    db: Database, team: str, region: str | None, allowed: bool, reason: str
) -> None:
    ids = pending_teams(db)
    scope = operators.Scope.for_region(region)
    with db.Session.begin() as session:
        found = session.get(Team, ids[team])
        assert found is not None
        assert teams.may_decide(found, scope) is allowed
        if allowed:
            assert teams.approve(session, found.id, by=scope).status == "approved"
        else:
            with pytest.raises(teams.TeamError) as refused:
                teams.approve(session, found.id, by=scope)
            assert reason in refused.value.hint
            with pytest.raises(teams.TeamError):
                teams.reject(session, found.id, "名称不规范", by=scope)
            assert found.status == "pending"


def region_client(app: Flask, db: Database, code: str) -> FlaskClient:
    add_operator(db, f"op{code}", f"region:{code}")
    client = app.test_client()
    assert login(client, f"op{code}").status_code == 302
    return client


def status(db: Database, team_id: int) -> str | None:
    with db.Session() as session:
        return session.scalar(select(Team.status).where(Team.id == team_id))


def test_prefecture_operator_sees_and_decides_only_county_and_local_unit_teams(
    app: Flask, db: Database
) -> None:
    ids = pending_teams(db)
    client = region_client(app, db, LANZHOU)
    page = client.get("/console/teams").get_data(as_text=True)
    assert f"/console/teams/{ids['城关区科技志愿服务队']}/approve" in page
    assert f"/console/teams/{ids['兰州大学科技志愿服务队']}/approve" in page
    for other in (
        "兰州市科技志愿服务队",
        "甘肃省农学会科技志愿服务队",
        "黄河之滨科普先锋队",
        "麦积区科技志愿服务队",
    ):
        assert f"/console/teams/{ids[other]}/approve" not in page

    token = csrf_token(client, "/console/teams")
    own = client.post(
        f"/console/teams/{ids['兰州市科技志愿服务队']}/approve",
        data={"csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "市州不能审核本级队伍" in own
    special = client.post(
        f"/console/teams/{ids['黄河之滨科普先锋队']}/reject",
        data={"csrf_token": token, "reason": "名称不规范"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "在省科协指导下命名" in special and "只能由省科协审核" in special
    assert status(db, ids["兰州市科技志愿服务队"]) == "pending"
    assert status(db, ids["黄河之滨科普先锋队"]) == "pending"

    county = client.post(
        f"/console/teams/{ids['城关区科技志愿服务队']}/approve",
        data={"csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "审核通过服务队：城关区科技志愿服务队" in county
    assert status(db, ids["城关区科技志愿服务队"]) == "approved"
    unit = client.post(
        f"/console/teams/{ids['兰州大学科技志愿服务队']}/reject",
        data={"csrf_token": token, "reason": "依托单位填写有误"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "驳回服务队：兰州大学科技志愿服务队（依托单位填写有误）" in unit
    assert status(db, ids["兰州大学科技志愿服务队"]) == "rejected"
    for province_only in ("甘肃省农学会科技志愿服务队", "甘肃省人民医院科技志愿服务队"):
        client.post(f"/console/teams/{ids[province_only]}/approve", data={"csrf_token": token})
        assert status(db, ids[province_only]) == "pending"


def test_province_operator_decides_every_level(app: Flask, db: Database) -> None:
    ids = pending_teams(db)
    add_operator(db, "sheng")
    client = app.test_client()
    assert login(client, "sheng").status_code == 302
    page = client.get("/console/teams").get_data(as_text=True)
    for team_id in ids.values():
        assert f"/console/teams/{team_id}/approve" in page
    token = csrf_token(client, "/console/teams")
    for name in ("兰州市科技志愿服务队", "黄河之滨科普先锋队", "甘肃省人民医院科技志愿服务队"):
        client.post(f"/console/teams/{ids[name]}/approve", data={"csrf_token": token})
        assert status(db, ids[name]) == "approved"
