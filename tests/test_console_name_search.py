"""Searching volunteers by name in the console and the team console: a name matches from its
beginning (a surname, a whole name), within the operator's region; a team's members by a
name's or a volunteer number's beginning and by skill (the skill rows); the team console's home
page lists the admin's teams as a tree with their counts."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from infra.db import Database
from models.team import MEMBERSHIP_PENDING, Membership
from models.volunteer import Volunteer
from services import team_console_members
from tests.team_console_steps import log_in, page_text, team_admin
from tests.test_console_support import (
    add_operator,
    add_volunteers,
    join_team,
    login,
    province_client,  # noqa: F401  (fixture)
)
from tests.test_team_support import add_team
from tests.wechat_user import WeChatUser

MakeUser = Callable[..., WeChatUser]


def listed(client: FlaskClient, q: str, **args: str) -> list[str]:
    """The names on the volunteer list for the search `q`."""
    page = client.get("/console/volunteers", query_string={"q": q, **args})
    assert page.status_code == 200
    rows = page.get_data(as_text=True).split("<tbody>")[1].split("</tbody>")[0]
    return sorted(cell.split("</td>")[0] for cell in rows.split("<tr><td>")[1:] for cell in
                  [cell.split("</td><td>", 1)[1]])  # fmt: skip


def test_a_name_matches_from_its_beginning(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    add_volunteers(db, 2, name="张伟")  # 张伟<n>: numbered by tests.test_console_support
    add_volunteers(db, 1, name="张伟", prefecture_code="620500", county_code="620502")  # 天水
    add_volunteers(db, 1, name="李张")
    add_volunteers(db, 1, name="50%_张")
    every = listed(province_client, "")
    first = next(n for n in every if n.startswith("张伟"))

    assert len(listed(province_client, "张")) == 3
    assert listed(province_client, first) == [first]
    assert listed(province_client, "伟") == []  # the middle of a name is not searched
    assert listed(province_client, "李") == [n for n in every if n.startswith("李张")]
    assert len(listed(province_client, "50%")) == 1
    assert listed(province_client, "5%") == []  # wildcards are plain characters
    assert listed(province_client, "50_") == []
    assert len(listed(province_client, "张", region="620502")) == 1

    add_operator(db, "lanzhou", "region:620100")
    lanzhou = app.test_client()
    assert login(lanzhou, "lanzhou").status_code == 302
    assert len(listed(lanzhou, "张")) == 2
    assert len(listed(lanzhou, "张", region="620102")) == 2
    add_operator(db, "chengguan", "region:620103")
    other_county = app.test_client()
    assert login(other_county, "chengguan").status_code == 302
    assert listed(other_county, "张") == []


def test_team_members_by_name_number_and_skill(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    admin = team_admin(app, make_user)
    farmers = add_volunteers(db, 3, skills=("农业技术",), name="农技员")
    doctors = add_volunteers(db, 2, skills=("医疗卫生", "农业技术"), name="医生")
    add_volunteers(db, 2, skills=("农业技术",), name="农技员")  # not members
    join_team(db, admin.team.id, farmers + doctors)
    with db.Session.begin() as session:  # a hidden skill is still the member's skill
        session.execute(
            update(Volunteer).where(Volunteer.openid == doctors[0]).values(skills_visible=False)
        )
        number = session.scalar(
            select(Volunteer.volunteer_no).where(Volunteer.openid == doctors[1])
        )
    assert number is not None

    def found(**search: str) -> list[str]:
        with db.Session() as session:
            got = team_console_members.member_list(session, admin.team.id, **search)
        assert got.total == len(got.rows)
        return sorted(row.name for row in got.rows)

    assert len(found()) == 6  # and the admin
    assert found(query="农技") == [n for n in found() if n.startswith("农技员")]
    assert len(found(query="农技")) == 3
    assert found(query="技员") == []
    assert found(query="医生") == sorted(n for n in found() if n.startswith("医生"))
    assert len(found(skill="农业技术")) == 5
    assert len(found(skill="医疗卫生")) == 2
    assert len(found(query="医", skill="农业技术")) == 2
    assert len(found(query="农", skill="医疗卫生")) == 0
    with db.Session() as session:
        second_doctor = session.scalar(select(Volunteer.name).where(Volunteer.openid == doctors[1]))
    assert found(query=number) == [second_doctor]
    assert second_doctor in found(query=number[:6].lower())
    log_in(admin)
    text = page_text(admin.client, f"/team/t/{admin.team.id}/members?q=农技&skill=农业技术")
    assert "共 3 人" in text and "医生" not in text


def test_team_home_lists_the_tree_with_counts(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    admin = team_admin(app, make_user)
    branch = add_team(
        db, f"{admin.team.name}植物保护专委会支队", kind="committee", parent_id=admin.team.id,
        registrant="oBranchRegistrant0000000001",
    )  # fmt: skip
    other = add_team(
        db, f"{admin.team.name}土壤专委会支队", kind="committee", parent_id=admin.team.id,
        registrant="oBranchRegistrant0000000002",
    )  # fmt: skip
    join_team(db, branch.id, add_volunteers(db, 3, name="支队员"))
    join_team(db, other.id, add_volunteers(db, 1, name="土壤员"))
    waiting = add_volunteers(db, 2, name="申请人")
    join_team(db, other.id, waiting)
    with db.Session.begin() as session:
        session.execute(
            update(Membership)
            .where(
                Membership.team_id == other.id,
                Membership.volunteer_id.in_(
                    select(Volunteer.id).where(Volunteer.openid.in_(waiting))
                ),
            )
            .values(status=MEMBERSHIP_PENDING)
        )
    log_in(admin)
    home = page_text(admin.client, "/team/")
    assert home.index(admin.team.name) < home.index("植物保护") < home.index("土壤专委会")
    assert "成员 3 人" in home.split("植物保护")[1].split("土壤")[0]
    soil = home.split("土壤专委会")[1]
    assert "成员 1 人" in soil and "待审核申请 2 条" in soil
