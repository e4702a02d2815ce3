"""统计 in the team console on a fixed data set (the expected numbers are written here): a team
admin sees their team's and sub-teams' figures, members counted in the month they JOINED (not
the month they registered), with a date range, a chart, a table and downloads for each figure,
and every number leading to the list behind it; nothing of another team."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Callable
from datetime import date, datetime, timedelta

from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import select, update

from infra.db import Database
from models.base import utcnow
from models.team import MEMBERSHIP_LEFT, MEMBERSHIP_PENDING, Membership, Team
from models.volunteer import Volunteer
from services import teams
from tests.team_console_steps import Admin, log_in, page_text, team_admin
from tests.test_console_support import add_activity, add_volunteers, join_team
from tests.test_reports_figures import records
from tests.test_team_support import add_team
from tests.wechat_user import WeChatUser

MakeUser = Callable[..., WeChatUser]


def at(text: str) -> datetime:
    """A UTC time written "YYYY-MM-DD HH:MM"."""
    return datetime.strptime(text, "%Y-%m-%d %H:%M")


def registered_on(db: Database, openids: list[str], created: str) -> list[int]:
    """Set when these volunteers registered (UTC); their ids."""
    with db.Session.begin() as session:
        session.execute(
            update(Volunteer).where(Volunteer.openid.in_(openids)).values(created_at=at(created))
        )
        return list(session.scalars(select(Volunteer.id).where(Volunteer.openid.in_(openids))))


def joined_on(
    db: Database, team_id: int, ids: list[int], asked: str, decided: str | None, **values: str
) -> None:
    """Date these members' request (created_at) and approval (decided_at), UTC."""
    with db.Session.begin() as session:
        session.execute(
            update(Membership)
            .where(Membership.team_id == team_id, Membership.volunteer_id.in_(ids))
            .values(created_at=at(asked), decided_at=at(decided) if decided else None, **values)
        )


def admin_id(db: Database, admin: Admin) -> int:
    with db.Session() as session:
        found = session.scalar(select(Volunteer.id).where(Volunteer.openid == admin.user.openid))
        assert found is not None
        return found


def fixed_teams(app: Flask, db: Database, make_user: MakeUser) -> tuple[Admin, Team, Admin]:
    """Team A with a 支队 below it, and team B. Registration months differ from join months."""
    a = team_admin(app, make_user)
    branch = add_team(
        db, f"{a.team.name}植物保护专委会支队", kind="committee", parent_id=a.team.id,
        registrant="oBranchRegistrant0000000001", auto_approve=True,
    )  # fmt: skip
    b = team_admin(app, make_user, "甘肃省医学会科技志愿服务队", name="李管理")
    registered_on(db, [a.user.openid], "2025-06-01 02:00")
    registered_on(db, [b.user.openid], "2025-06-01 02:00")
    joined_on(db, a.team.id, [admin_id(db, a)], "2025-12-20 02:00", "2025-12-20 02:00")
    joined_on(db, b.team.id, [admin_id(db, b)], "2026-03-01 02:00", "2026-03-01 02:00")

    # Registered in November 2025; asked to join A in January 2026. One approved on 15 January,
    # two on 2026-01-31 17:00 UTC, which is 1 February in Beijing: February members.
    a_openids = add_volunteers(db, 3, skills=("科学普及", "农业技术"), name="甲队")
    in_a = registered_on(db, a_openids, "2025-11-10 02:00")
    join_team(db, a.team.id, a_openids)
    joined_on(db, a.team.id, in_a[:1], "2026-01-10 02:00", "2026-01-15 02:00")
    joined_on(db, a.team.id, in_a[1:], "2026-01-10 02:00", "2026-01-31 17:00")

    # The 支队 auto-approves: joining through the service writes decided_at at once; rows
    # without one (older data) count from the request's time: March.
    branch_openids = add_volunteers(
        db, 2, skills=("信息技术",), education="硕士研究生", name="支队"
    )
    in_branch = registered_on(db, branch_openids, "2026-01-02 02:00")
    with db.Session.begin() as session:
        team = session.get(Team, branch.id)
        assert team is not None
        for volunteer in session.scalars(select(Volunteer).where(Volunteer.id.in_(in_branch))):
            assert teams.join(session, team, volunteer).decided_at is not None
    joined_on(db, branch.id, in_branch, "2026-03-05 02:00", None)

    # In both A (March) and the 支队 (January): counted once, when first joined.
    both_openids = add_volunteers(db, 1, name="两队")
    both = registered_on(db, both_openids, "2025-10-01 02:00")
    join_team(db, a.team.id, both_openids)
    join_team(db, branch.id, both_openids)
    joined_on(db, a.team.id, both, "2026-03-20 02:00", "2026-03-20 02:00")
    joined_on(db, branch.id, both, "2026-01-20 02:00", "2026-01-20 02:00")

    # A request still waiting and a member who left are not members.
    other_openids = add_volunteers(db, 2, name="非成员")
    others = registered_on(db, other_openids, "2026-01-03 02:00")
    join_team(db, a.team.id, other_openids)
    joined_on(db, a.team.id, others[:1], "2026-01-05 02:00", None, status=MEMBERSHIP_PENDING)
    joined_on(db, a.team.id, others[1:], "2026-01-05 02:00", "2026-01-06 02:00",
              status=MEMBERSHIP_LEFT)  # fmt: skip

    b_openids = add_volunteers(db, 4, skills=("医疗卫生",), name="乙队")
    in_b = registered_on(db, b_openids, "2026-01-15 02:00")
    join_team(db, b.team.id, b_openids)
    joined_on(db, b.team.id, in_b, "2026-03-10 02:00", "2026-03-10 02:00")

    a_act = add_activity(db, a.team.id, title="甲队科普", starts_in=starts("2026-01-20 01:00"))
    add_activity(db, a.team.id, title="甲队二月", starts_in=starts("2026-02-15 01:00"))
    add_activity(db, a.team.id, title="甲队草稿", starts_in=starts("2026-02-01 00:00"),
                 status="draft")  # fmt: skip
    branch_act = add_activity(db, branch.id, title="支队植保", starts_in=starts("2026-02-12 01:00"))
    b_act = add_activity(db, b.team.id, title="乙队义诊", starts_in=starts("2026-03-12 01:00"))
    records(db, a_act, in_a, "2.5", date(2026, 1, 20))
    records(db, branch_act, in_branch, "4.0", date(2026, 2, 12))
    records(db, b_act, in_b, "1.5", date(2026, 3, 12))
    return a, branch, b


def starts(text: str) -> timedelta:
    """`starts_in` of an activity starting at this UTC time."""
    return at(text) - utcnow()


def figure(page: str, key: str) -> dict[str, str]:
    """A figure's table on the page: label → number as shown (rows of 0 left out)."""
    found = re.search(rf'id="figure-{key}">(.*?)</section>', page, re.S)
    assert found, key
    cells = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", found.group(1))
    shown = {label: re.sub(r"<[^>]+>", "", value) for label, value in cells}
    return {label: value for label, value in shown.items() if value != "0"}


def links(page: str) -> dict[str, dict[str, str]]:
    """Each figure's rows' links, from the chart data on the page: key → label → address."""
    found = re.search(r'id="figures-data">(.*?)</script>', page, re.S)
    assert found
    return {
        f["key"]: {r["label"]: r["link"] for r in f["rows"] if r["link"]}
        for f in json.loads(found.group(1))
    }


def listed(client: FlaskClient, path: str) -> tuple[str, list[list[str]]]:
    """The list page's total line and its rows' cells (text)."""
    page = page_text(client, path)
    total = re.search(r'id="list-total">(.*?)</p>', page)
    assert total, page[:500]
    body = re.search(r"<tbody>(.*?)</tbody>", page, re.S)
    assert body
    rows = [
        [re.sub(r"<[^>]+>", "", cell) for cell in re.findall(r"<td>(.*?)</td>", row, re.S)]
        for row in re.findall(r"<tr>(.*?)</tr>", body.group(1), re.S)
    ]
    return total.group(1), rows


def test_team_figures_count_members_by_the_month_they_joined(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    a, branch, b = fixed_teams(app, db, make_user)
    log_in(a)
    page = page_text(a.client, f"/team/t/{a.team.id}/reports")
    assert "本队及下级队伍（1支）" in page
    assert figure(page, "members_month") == {
        "2025-12": "1", "2026-01": "2", "2026-02": "2", "2026-03": "2",
    }  # fmt: skip
    assert figure(page, "volunteers_education") == {"本科": "5", "硕士研究生": "2"}
    assert figure(page, "volunteers_skill") == {"科学普及": "5", "农业技术": "3", "信息技术": "2"}
    assert figure(page, "activities_month") == {"2026-01": "1", "2026-02": "2"}
    assert figure(page, "hours_month") == {"2026-01": "7.5", "2026-02": "8"}
    assert figure(page, "activities_team") == {"本队": "2", "植物保护专委会支队": "1"}
    assert figure(page, "hours_team") == {"植物保护专委会支队": "8", "本队": "7.5"}
    assert "乙队" not in page and "义诊" not in page and b.team.name not in page

    # The date range: members by the day they joined, activities by start, hours by service day.
    spring = page_text(a.client, f"/team/t/{a.team.id}/reports?since=2026-01-16&until=2026-02-28")
    assert figure(spring, "members_month") == {"2026-01": "1", "2026-02": "2"}
    assert figure(spring, "volunteers_education") == {"本科": "3"}
    assert figure(spring, "activities_month") == {"2026-01": "1", "2026-02": "2"}
    assert figure(spring, "hours_month") == {"2026-01": "7.5", "2026-02": "8"}
    bad = page_text(a.client, f"/team/t/{a.team.id}/reports?since=2026-03-01&until=2026-01-01")
    assert "开始日期不能晚于结束日期" in bad

    # The 支队 alone (A's admin manages it too): the member of both counts from January.
    below = page_text(a.client, f"/team/t/{branch.id}/reports")
    assert "本队的统计" in below
    assert figure(below, "members_month") == {"2026-01": "1", "2026-03": "2"}
    assert figure(below, "hours_month") == {"2026-02": "8"}
    assert 'id="figure-activities_team"' not in below

    log_in(b)
    theirs = page_text(b.client, f"/team/t/{b.team.id}/reports")
    assert figure(theirs, "members_month") == {"2026-03": "5"}
    assert figure(theirs, "volunteers_skill") == {"科学普及": "1", "医疗卫生": "4"}
    assert figure(theirs, "hours_month") == {"2026-03": "6"}


def test_every_team_figure_links_to_its_list_and_downloads(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    a, branch, _b = fixed_teams(app, db, make_user)
    log_in(a)
    page = page_text(a.client, f"/team/t/{a.team.id}/reports")
    assert "/console/static/vendor/echarts/echarts.min.js" in page
    assert 'id="chart-members_month"' in page and "<summary>表格</summary>" in page
    found = links(page)

    assert 'class="active">统计</a>' in page_text(a.client, found["members_month"]["2026-02"])
    total, rows = listed(a.client, found["members_month"]["2026-02"])
    assert total == "共 2 条"
    assert {r[1][:2] for r in rows} == {"甲队"} and {r[6] for r in rows} == {"2026-02-01"}
    assert {r[2] for r in rows} == {"138****5678"}
    total, rows = listed(a.client, found["members_month"]["2026-01"])
    assert total == "共 2 条"
    assert {r[5] for r in rows} == {a.team.name, f"{a.team.name}、{branch.name}"}
    assert listed(a.client, found["volunteers_education"]["硕士研究生"])[0] == "共 2 条"
    assert listed(a.client, found["volunteers_skill"]["科学普及"])[0] == "共 5 条"

    total, rows = listed(a.client, found["activities_month"]["2026-02"])
    assert total == "共 2 条" and [r[1] for r in rows] == ["支队植保", "甲队二月"]
    total, rows = listed(a.client, found["activities_team"]["植物保护专委会支队"])
    assert total == "共 1 条" and rows[0][2] == branch.name
    total, rows = listed(a.client, found["hours_month"]["2026-01"])
    assert total == "共 3 条，合计 7.5 小时" and {r[5] for r in rows} == {"2.5"}
    assert listed(a.client, found["hours_team"]["植物保护专委会支队"])[0] == "共 2 条，合计 8 小时"

    # Within a date range, a month's link is cut to the range: the list holds what was counted.
    spring = links(page_text(a.client, f"/team/t/{a.team.id}/reports?since=2026-02-13"))
    assert "since=2026-02-13" in spring["activities_month"]["2026-02"]
    total, rows = listed(a.client, spring["activities_month"]["2026-02"])
    assert total == "共 1 条" and rows[0][1] == "甲队二月"

    csv = a.client.get(f"/team/t/{a.team.id}/reports/members_month.csv").get_data(as_text=True)
    assert "2025-12,1" in csv and "2026-02,2" in csv
    xlsx = a.client.get(f"/team/t/{a.team.id}/reports/hours_month.xlsx?since=2026-02-01")
    sheet = load_workbook(io.BytesIO(xlsx.data), read_only=True).active
    assert sheet is not None
    assert list(sheet.iter_rows(values_only=True))[1:] == [("2026-02", 8)]
    assert a.client.get(f"/team/t/{a.team.id}/reports/nothing.csv").status_code == 404
    assert a.client.get(f"/team/t/{a.team.id}/reports/hours_month.csv?since=x").status_code == 400


def test_a_team_admin_sees_nothing_of_another_team(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    a, branch, b = fixed_teams(app, db, make_user)
    log_in(a)
    # Team B's page, lists and downloads are out of A's reach; so is B inside A's own lists.
    page_text(a.client, f"/team/t/{b.team.id}/reports", status=404)
    page_text(a.client, f"/team/t/{b.team.id}/reports/volunteers", status=404)
    assert a.client.get(f"/team/t/{b.team.id}/reports/members_month.csv").status_code == 404
    page_text(a.client, f"/team/t/{a.team.id}/reports/hours?team={b.team.id}", status=400)
    total, rows = listed(a.client, f"/team/t/{a.team.id}/reports/volunteers")
    assert total == "共 7 条" and not any("乙队" in r[1] for r in rows)
    assert listed(a.client, f"/team/t/{a.team.id}/reports/hours")[0] == "共 5 条，合计 15.5 小时"

    log_in(b)
    page_text(b.client, f"/team/t/{a.team.id}/reports", status=404)
    page_text(b.client, f"/team/t/{branch.id}/reports", status=404)
    page_text(b.client, f"/team/t/{branch.id}/reports/activities", status=404)
    assert b.client.get(f"/team/t/{a.team.id}/reports/hours_month.xlsx").status_code == 404
    total, rows = listed(b.client, f"/team/t/{b.team.id}/reports/activities")
    assert total == "共 1 条" and rows[0][1] == "乙队义诊"
