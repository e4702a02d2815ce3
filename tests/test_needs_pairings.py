"""结对 screen: operators list, add and remove pairings between an approved 学会 team and a 县区
of their scope (province operators any 县区, 市州 operators only theirs), each change audited;
a pairing made there puts the team first among the suggestions for a need from that 县区."""

from __future__ import annotations

import re
from dataclasses import replace

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from domain import team_names
from infra.db import Database
from models.need import Need, Pairing
from models.operator import AuditEntry
from services.needs import post_need, publish_need
from services.needs_matching import suggest
from services.operators import Scope
from tests.needs_notify_support import operator
from tests.test_console_support import add_team, join_team, post_form
from tests.test_needs_matching import DRAFT, volunteer

PAGE = "/console/needs/pairings"


def pair(client: FlaskClient, team_id: int, county: str) -> str:
    answer = post_form(client, PAGE, PAGE, {"team_id": str(team_id), "county_code": county})
    assert answer.status_code == 302
    return client.get(PAGE).get_data(as_text=True)


def pairings(db: Database) -> set[tuple[int, str]]:
    with db.Session() as session:
        return {(p.team_id, p.county_code) for p in session.scalars(select(Pairing))}


def pairing_id(db: Database, team_id: int, county: str) -> int:
    with db.Session() as session:
        found = session.scalar(
            select(Pairing.id).where(Pairing.team_id == team_id, Pairing.county_code == county)
        )
        assert found is not None
        return found


def test_operators_pair_societies_with_the_counties_of_their_scope(
    app: Flask, db: Database
) -> None:
    weather = add_team(db, "甘肃省气象学会科技志愿服务队")
    farming = add_team(db, "甘肃省农学会科技志愿服务队")
    waiting = add_team(db, "甘肃省作物学会科技志愿服务队", approved=False)
    university = add_team(
        db,
        "兰州大学科技志愿服务队",
        kind=team_names.UNIT,
        prefecture_code="620100",
        county_code="620102",
    )

    province = operator(app, db, "sheng", "province")
    page = province.get(PAGE).get_data(as_text=True)
    assert "秦州区" in page and "城关区" in page  # any 县区 of the province
    assert "甘肃省气象学会科技志愿服务队" in page and "兰州大学" not in page  # 学会 only
    listed = pair(province, weather, "620502")
    assert "天水市秦州区" in listed and "甘肃省气象学会科技志愿服务队" in listed
    assert "已与" in pair(province, weather, "620502")  # no duplicate
    assert "只能选择已审核通过的学会服务队" in pair(province, university, "620102")
    assert "只能选择已审核通过的学会服务队" in pair(province, waiting, "620102")
    assert pairings(db) == {(weather, "620502")}

    lanzhou = operator(app, db, "oplanzhou", "region:620100")
    page = lanzhou.get(PAGE).get_data(as_text=True)
    assert "城关区" in page and "秦州区" not in page  # only the 县区 of 兰州市
    assert "本辖区还没有结对" in page  # 天水's pairing is not theirs
    assert "只能为本辖区内的县区" in pair(lanzhou, farming, "620502")
    listed = pair(lanzhou, farming, "620102")
    assert "兰州市城关区" in listed and "甘肃省农学会科技志愿服务队" in listed
    assert pairings(db) == {(weather, "620502"), (farming, "620102")}

    theirs = pairing_id(db, weather, "620502")
    post_form(lanzhou, PAGE, f"{PAGE}/{theirs}/remove", {})
    assert pairings(db) == {(weather, "620502"), (farming, "620102")}
    ours = pairing_id(db, farming, "620102")
    post_form(lanzhou, PAGE, f"{PAGE}/{ours}/remove", {})
    assert pairings(db) == {(weather, "620502")}

    with db.Session() as session:
        entries = session.execute(
            select(AuditEntry.actor, AuditEntry.action, AuditEntry.summary).order_by(AuditEntry.id)
        ).all()
    changes = [(a, b, c) for a, b, c in entries if b.startswith("need_pairing")]
    assert [(actor, action) for actor, action, _ in changes] == [
        ("sheng", "need_pairing_add"),
        ("oplanzhou", "need_pairing_add"),
        ("oplanzhou", "need_pairing_remove"),
    ]
    assert changes[-1][2] == "解除结对：甘肃省农学会科技志愿服务队 ↔ 甘肃省兰州市城关区"


def test_a_pairing_made_on_the_screen_puts_the_team_first(app: Flask, db: Database) -> None:
    local = add_team(
        db, "兰州市城关区应急科技志愿服务队", prefecture_code="620100", county_code="620102"
    )
    society = add_team(db, "甘肃省气象学会科技志愿服务队")
    field = DRAFT.field
    join_team(db, local, [volunteer(db, f"甲{i}", "620100", "620102", (field,), ()) for i in "12"])
    join_team(db, society, [volunteer(db, "乙", "620500", "620502", (field,), ())])
    with db.Session.begin() as session:
        here = post_need(session, "oPoster", DRAFT)
        publish_need(here, Scope(), "sheng")
        before = [s.name for s in suggest(session, here).teams]
        here_id = here.id
    assert before == ["兰州市城关区应急科技志愿服务队", "甘肃省气象学会科技志愿服务队"]

    lanzhou = operator(app, db, "oplanzhou", "region:620100")
    pair(lanzhou, society, "620102")

    with db.Session() as session:
        here = session.get(Need, here_id)
        assert here is not None
        first = suggest(session, here).teams[0]
        elsewhere = post_need(session, "oPoster", replace(DRAFT, county_code="620103"))
        first_elsewhere = suggest(session, elsewhere).teams[0]
        session.rollback()
    assert (first.name, first.reasons[0]) == ("甘肃省气象学会科技志愿服务队", "与需求所在县区结对")
    assert first_elsewhere.name == "兰州市城关区应急科技志愿服务队"  # 七里河区: not paired
    page = lanzhou.get(f"/console/needs/{here_id}/suggestions").get_data(as_text=True)
    teams = re.findall(r"<tr><td>([^<]+科技志愿服务队)</td>", page)
    assert teams[:2] == ["甘肃省气象学会科技志愿服务队", "兰州市城关区应急科技志愿服务队"]
