"""统计 in the team console: a team admin sees their team's and sub-teams' figures (members by
month, education and skill; activities and confirmed hours by month) on a fixed data set, and
nothing of another team."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date, datetime

from flask import Flask
from sqlalchemy import select, update

from infra.db import Database
from models.base import utcnow
from models.volunteer import Volunteer
from tests.team_console_steps import log_in, page_text, team_admin
from tests.test_console_support import add_activity, add_volunteers, join_team
from tests.test_reports_figures import records
from tests.test_team_support import add_team
from tests.wechat_user import WeChatUser

MakeUser = Callable[..., WeChatUser]


def registered_on(db: Database, openids: list[str], created: str) -> list[int]:
    """Set when these volunteers registered (UTC, "YYYY-MM-DD HH:MM"); their ids."""
    at = datetime.strptime(created, "%Y-%m-%d %H:%M")
    with db.Session.begin() as session:
        session.execute(
            update(Volunteer).where(Volunteer.openid.in_(openids)).values(created_at=at)
        )
        return list(session.scalars(select(Volunteer.id).where(Volunteer.openid.in_(openids))))


def figure(page: str, key: str) -> dict[str, str]:
    """A figure's table on the page: label → number, as shown."""
    found = re.search(rf'id="figure-{key}">(.*?)</section>', page, re.S)
    assert found, key
    cells = re.findall(r"<tr><td>(.*?)</td><td>(.*?)</td></tr>", found.group(1))
    return dict(cells)


def test_team_admins_see_their_teams_figures_and_nothing_of_another_team(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    a = team_admin(app, make_user)
    branch = add_team(
        db, f"{a.team.name}植物保护专委会支队", kind="committee", parent_id=a.team.id,
        registrant="oBranchRegistrant0000000001",
    )  # fmt: skip
    b = team_admin(app, make_user, "甘肃省医学会科技志愿服务队", name="李管理")
    registered_on(db, [a.user.openid], "2026-01-05 02:00")
    registered_on(db, [b.user.openid], "2026-03-01 02:00")

    in_a = add_volunteers(db, 3, skills=("科学普及", "农业技术"), name="甲队")
    # 2026-01-31 17:00 UTC is 2026-02-01 in Beijing: February members.
    in_branch = add_volunteers(db, 2, skills=("信息技术",), education="硕士研究生", name="支队")
    in_b = add_volunteers(db, 4, skills=("医疗卫生",), name="乙队")
    a_ids = registered_on(db, in_a, "2026-01-15 02:00")
    branch_ids = registered_on(db, in_branch, "2026-01-31 17:00")
    b_ids = registered_on(db, in_b, "2026-03-10 02:00")
    join_team(db, a.team.id, in_a)
    join_team(db, branch.id, in_branch)
    join_team(db, b.team.id, in_b)

    a_act = add_activity(
        db, a.team.id, title="甲队科普", starts_in=datetime(2026, 1, 20, 1) - utcnow()
    )
    branch_act = add_activity(
        db, branch.id, title="支队植保", starts_in=datetime(2026, 2, 12, 1) - utcnow()
    )
    b_act = add_activity(
        db, b.team.id, title="乙队义诊", starts_in=datetime(2026, 3, 12, 1) - utcnow()
    )
    add_activity(db, a.team.id, title="甲队草稿", starts_in=datetime(2026, 2, 1) - utcnow(),
                 status="draft")  # fmt: skip
    records(db, a_act, a_ids, "2.5", date(2026, 1, 20))
    records(db, branch_act, branch_ids, "4.0", date(2026, 2, 12))
    records(db, b_act, b_ids, "1.5", date(2026, 3, 12))

    log_in(a)
    page = page_text(a.client, f"/team/t/{a.team.id}/reports")
    assert "本队及下级队伍（1支）" in page
    assert figure(page, "volunteers_month") == {"2026-01": "4", "2026-02": "2"}
    assert figure(page, "volunteers_education") == {"本科": "4", "硕士研究生": "2"}
    assert figure(page, "volunteers_skill") == {"科学普及": "4", "农业技术": "3", "信息技术": "2"}
    assert figure(page, "activities_month") == {"2026-01": "1", "2026-02": "1"}
    assert figure(page, "hours_month") == {"2026-01": "7.5", "2026-02": "8"}
    assert "乙队" not in page and "医疗卫生</td><td>" not in page and "2026-03" not in page

    # The 支队 alone (its admin is A, from above); team B is out of A's reach.
    below = page_text(a.client, f"/team/t/{branch.id}/reports")
    assert figure(below, "volunteers_month") == {"2026-02": "2"}
    assert figure(below, "hours_month") == {"2026-02": "8"}
    page_text(a.client, f"/team/t/{b.team.id}/reports", status=404)

    log_in(b)
    theirs = page_text(b.client, f"/team/t/{b.team.id}/reports")
    assert "本队的统计" in theirs
    assert figure(theirs, "volunteers_month") == {"2026-03": "5"}
    assert figure(theirs, "volunteers_skill") == {"科学普及": "1", "医疗卫生": "4"}
    assert figure(theirs, "hours_month") == {"2026-03": "6"}
    page_text(b.client, f"/team/t/{a.team.id}/reports", status=404)
    page_text(b.client, f"/team/t/{branch.id}/reports", status=404)
