"""Console pages: dashboard, volunteers (filters, masking), teams (approve / reject through the
team services, hierarchy), audit log; and what a region operator can see."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from domain import team_names
from infra.db import Database
from models.operator import AuditEntry
from models.team import Team
from models.volunteer import Volunteer
from sandbox.fake_wechat import FakeWeChatState
from tests.test_console_support import (
    add_operator,
    add_team,
    add_volunteers,
    csrf_token,
    join_team,
    login,
    province_client,  # noqa: F401  (fixture)
)


def region_client(app: Flask, db: Database, code: str = "620100") -> FlaskClient:
    add_operator(db, f"op{code}", f"region:{code}")
    client = app.test_client()
    assert login(client, f"op{code}").status_code == 302
    return client


def test_dashboard_counts_what_the_operator_oversees(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    add_volunteers(db, 3, prefecture_code="620100")
    add_volunteers(db, 2, prefecture_code="620500", county_code="620502")
    add_team(db, "兰州市科技志愿服务队", kind=team_names.PREFECTURE, prefecture_code="620100")
    add_team(
        db,
        "天水市科技志愿服务队",
        kind=team_names.PREFECTURE,
        prefecture_code="620500",
        approved=False,
    )

    def stats(client: FlaskClient) -> dict[str, str]:
        page = client.get("/console/").get_data(as_text=True)
        pairs = page.split('class="stat"')[1:]
        return {
            part.split('<div class="l">')[1].split("<")[0]: part.split('<div class="n">')[1].split(
                "<"
            )[0]
            for part in pairs
        }

    province = stats(province_client)
    assert province["注册志愿者"] == "5" and province["待审核服务队"] == "1"
    lanzhou = stats(region_client(app, db))
    assert lanzhou["注册志愿者"] == "3" and lanzhou["待审核服务队"] == "0"
    assert lanzhou["服务队"] == "1"


def test_volunteers_are_filtered_and_masked(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    farmers = add_volunteers(db, 2, skills=("农业技术",), name="农技员", phone="13912345678")
    add_volunteers(db, 3, county_code="620103", education="博士研究生", name="博士")
    add_volunteers(db, 1, prefecture_code="620500", county_code="620502", name="天水人")
    team = add_team(db, "甘肃省农学会科技志愿服务队")
    join_team(db, team, farmers[:1])
    with db.Session.begin() as session:
        session.execute(update(Volunteer).values(id_number_masked="6201**********123X"))

    def names(**query: str) -> list[str]:
        page = province_client.get("/console/volunteers", query_string=query).get_data(as_text=True)
        return sorted(
            cell.split("</td>")[0]
            for cell in page.split("<tr><td>")[1:]
            for cell in [cell.split("</td><td>", 1)[1]]
        )

    assert len(names()) == 6
    assert len(names(region="620100")) == 5
    assert len(names(region="620103")) == 3
    assert names(skill="农业技术") == sorted(n for n in names() if n.startswith("农技员"))
    assert len(names(education="博士研究生")) == 3
    assert len(names(team_id=str(team))) == 1
    assert len(names(q="天水")) == 1

    page = province_client.get("/console/volunteers").get_data(as_text=True)
    assert "6201**********123X" in page
    assert "139****5678" in page and "13912345678" not in page


def test_region_operator_sees_only_their_volunteers(app: Flask, db: Database) -> None:
    add_volunteers(db, 2, name="兰州人")
    add_volunteers(db, 2, prefecture_code="620500", county_code="620502", name="天水人")
    client = region_client(app, db)
    page = client.get("/console/volunteers").get_data(as_text=True)
    assert "兰州人" in page and "天水人" not in page
    outside = client.get("/console/volunteers?region=620502").get_data(as_text=True)
    assert "只能选择本辖区内的地区" in outside and "天水人" not in outside


def test_approve_and_reject_teams(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    fake_wechat: FakeWeChatState,
) -> None:
    good = add_team(
        db, "甘肃省农学会科技志愿服务队", approved=False, registrant="oRegistrantGood0000000000001"
    )
    bad = add_team(
        db,
        "甘肃省天文学会科技志愿服务队",
        approved=False,
        registrant="oRegistrantBad00000000000001",
    )
    page = province_client.get("/console/teams").get_data(as_text=True)
    assert "待审核（2）" in page
    token = csrf_token(province_client, "/console/teams")

    approved = province_client.post(
        f"/console/teams/{good}/approve", data={"csrf_token": token}, follow_redirects=True
    )
    assert "审核通过服务队：甘肃省农学会科技志愿服务队" in approved.get_data(as_text=True)
    (message,) = fake_wechat.messages("oRegistrantGood0000000000001")
    assert "已通过审核" in message["content"]

    no_reason = province_client.post(
        f"/console/teams/{bad}/reject",
        data={"csrf_token": token, "reason": ""},
        follow_redirects=True,
    )
    assert "驳回需要填写原因" in no_reason.get_data(as_text=True)
    rejected = province_client.post(
        f"/console/teams/{bad}/reject",
        data={"csrf_token": token, "reason": "名称不规范，请按通知要求命名"},
        follow_redirects=True,
    )
    assert "驳回服务队" in rejected.get_data(as_text=True)
    (message,) = fake_wechat.messages("oRegistrantBad00000000000001")
    assert "名称不规范" in message["content"]

    with db.Session() as session:
        status = dict(session.execute(select(Team.id, Team.status)).all())
        actions = list(session.scalars(select(AuditEntry.action).order_by(AuditEntry.id)))
    assert (status[good], status[bad]) == ("approved", "rejected")
    assert actions[-2:] == ["team_approve", "team_reject"]

    again = province_client.post(
        f"/console/teams/{good}/approve", data={"csrf_token": token}, follow_redirects=True
    )
    assert "已经通过审核" in again.get_data(as_text=True)
    tree = province_client.get("/console/teams").get_data(as_text=True)
    assert "甘肃省科技志愿服务总队" in tree and "└ 甘肃省农学会科技志愿服务队" in tree


def test_region_operator_decides_only_their_teams(app: Flask, db: Database) -> None:
    tianshui = add_team(
        db,
        "天水市科技志愿服务队",
        kind=team_names.PREFECTURE,
        prefecture_code="620500",
        approved=False,
    )
    lanzhou = add_team(
        db,
        "城关区科技志愿服务队",
        kind=team_names.COUNTY,
        prefecture_code="620100",
        county_code="620102",
        approved=False,
    )
    client = region_client(app, db)
    page = client.get("/console/teams").get_data(as_text=True)
    assert "城关区科技志愿服务队" in page and "天水市科技志愿服务队" not in page
    token = csrf_token(client, "/console/teams")
    assert (
        client.post(f"/console/teams/{tianshui}/approve", data={"csrf_token": token}).status_code
        == 404
    )
    assert (
        client.post(f"/console/teams/{lanzhou}/approve", data={"csrf_token": token}).status_code
        == 302
    )
    with db.Session() as session:
        assert session.scalar(select(Team.status).where(Team.id == tianshui)) == "pending"


def test_audit_log_is_for_province_operators(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    page = province_client.get("/console/audit").get_data(as_text=True)
    assert "login" in page and "sheng" in page
    assert region_client(app, db).get("/console/audit").status_code == 403
