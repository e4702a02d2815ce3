"""The console's lists at scale: numbered pages counted from either end give exactly the rows
of a plain OFFSET; the team hierarchy comes a page at a time in tree order; and a region with
more teams than a menu can hold filters by the team's number instead."""

from __future__ import annotations

from flask.testing import FlaskClient
from sqlalchemy import insert, select

from infra.db import Database
from models.base import utcnow
from models.operator import AuditEntry
from models.team import STATUS_APPROVED, Team
from services import paging, teams
from services.operators import Scope
from services.teams.tree_pages import tree_page
from tests.test_console_support import (  # noqa: F401  (fixture)
    add_team,
    add_template,
    add_volunteers,
    compose,
    compose_data,
    join_team,
    province_client,
    recipient_count,
)


def _audit_rows(db: Database, count: int) -> None:
    now = utcnow()
    with db.Session.begin() as session:
        session.execute(
            insert(AuditEntry),
            [
                {
                    "created_at": now,
                    "actor": "a" if i % 3 else "b",
                    "action": "x",
                    "summary": str(i),
                }
                for i in range(count)
            ],
        )


def test_every_page_matches_a_plain_offset_from_either_end(db: Database) -> None:
    _audit_rows(db, 23)
    for conditions in ([], [AuditEntry.actor == "a"]):
        with db.Session() as session:
            newest_first = list(
                session.scalars(
                    select(AuditEntry.id).where(*conditions).order_by(AuditEntry.id.desc())
                )
            )
            total = paging.count(session, AuditEntry.id, conditions)
            assert total == len(newest_first)
            for size in (1, 4, 5, 23, 50):
                pages = paging.Window.of(total, 1, size).pages
                for page in range(1, pages + 1):
                    window = paging.Window.of(total, page, size)
                    expected = newest_first[(page - 1) * size : page * size]
                    assert paging.page_ids(session, AuditEntry.id, conditions, window) == expected


def test_a_page_beyond_the_last_shows_the_last() -> None:
    window = paging.Window.of(total=101, page=999, size=50)
    assert (window.page, window.pages) == (3, 3)
    # The last page is read from the oldest end: one row, no offset.
    assert window.slice_desc() == (True, 0, 1)
    assert paging.Window.of(total=0, page=5, size=50).page == 1


def test_audit_log_deep_page(province_client: FlaskClient, db: Database) -> None:  # noqa: F811
    _audit_rows(db, 250)
    last = province_client.get("/console/audit?page=3").get_data(as_text=True)
    assert "第 3/3 页" in last
    first = province_client.get("/console/audit").get_data(as_text=True)
    assert "第 1/3 页" in first


def test_tree_pages_follow_the_tree_and_count_members(db: Database) -> None:
    uni = add_team(db, "兰州大学科技志愿服务队", kind="unit", prefecture_code="620100")
    add_team(db, "天水市科技志愿服务队", kind="prefecture", prefecture_code="620500")
    with db.Session.begin() as session:
        branch = teams.register(
            session,
            openid="oRegistrant0000000000000002",
            form=teams.TeamForm(
                kind="branch",
                name="兰州大学科技志愿服务队化学化工支队",
                parent_id=uni,
                prefecture_code="620100",
                host_org="兰大",
            ),
        )
        teams.approve(session, branch.id)
    join_team(db, uni, add_volunteers(db, 3))
    with db.Session() as session:
        whole = [(row.team.id, row.depth, row.members) for row in teams.tree(session)]
        pages = [tree_page(session, Scope().allows, page, size=3) for page in (1, 2)]
        beyond = tree_page(session, Scope().allows, 3, size=3)
    paged = [(row.team.id, row.depth, row.members) for rows, _ in pages for row in rows]
    assert paged == whole
    assert pages[0][1].total == len(whole) == 4 and pages[0][1].pages == 2
    assert beyond[0] == pages[1][0]  # past the end: the last page
    assert (uni, 1, 3) in paged


def test_a_region_with_many_teams_filters_by_team_number(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    team_id = add_team(db, "兰州大学科技志愿服务队", kind="unit", prefecture_code="620100")
    members = add_volunteers(db, 2, name="队员")
    add_volunteers(db, 2, name="路人")
    join_team(db, team_id, members)
    with db.Session() as session:
        team_no = session.scalar(select(Team.team_no).where(Team.id == team_id))
    menu = province_client.get("/console/volunteers").get_data(as_text=True)
    assert 'name="team_id"' in menu and "<select" in menu.split('name="team_id"')[0][-200:]

    _many_teams(db)
    page = province_client.get("/console/volunteers").get_data(as_text=True)
    assert 'placeholder="服务队编号' in page and "测试12队" not in page
    found = province_client.get(f"/console/volunteers?team_id={team_no}").get_data(as_text=True)
    rows = found.split("<tbody>")[1].split("</tbody>")[0]
    assert rows.count("队员") == 2 and "路人" not in rows
    assert f'value="{team_no}"' in found


def _many_teams(db: Database) -> None:
    now = utcnow()
    with db.Session.begin() as session:
        session.execute(
            insert(Team),
            [
                {
                    "team_no": f"KT9{i:07d}",
                    "name": f"测试{i}队",
                    "name_key": f"测试{i}队",
                    "kind": "unit",
                    "level": "队",
                    "prefecture_code": "620100",
                    "invite_code": f"I{i:05d}",
                    "status": STATUS_APPROVED,
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(301)
            ],
        )


def test_the_notice_audience_takes_a_team_number_when_there_are_many_teams(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    team_id = add_team(db, "兰州大学科技志愿服务队", kind="unit", prefecture_code="620100")
    join_team(db, team_id, add_volunteers(db, 3))
    add_volunteers(db, 2)
    _many_teams(db)
    with db.Session() as session:
        team_no = session.scalar(select(Team.team_no).where(Team.id == team_id))
    template = add_template(db)
    form = province_client.get(f"/console/notices/new?template={template}").get_data(as_text=True)
    assert 'placeholder="服务队编号' in form
    answer = compose(province_client, compose_data(template, team_id=str(team_no)))
    assert recipient_count(answer.data) == 3
    unknown = compose(province_client, compose_data(template, team_id="KT00000000"))
    assert recipient_count(unknown.data) is None
    assert "没有这个服务队编号" in unknown.get_data(as_text=True)
