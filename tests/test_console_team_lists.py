"""Long team lists shown a part at a time: the team registrations waiting for an operator and
a team's join requests (the oldest first, with how many there are), and the hierarchy's order
(siblings by level, then id) as the tree pages give it."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from flask.testing import FlaskClient

from domain import team_names
from infra.db import Database
from services import teams
from services.operators import Scope
from services.teams import tree_pages
from tests.team_console_steps import log_in, page_text, team_admin
from tests.test_console_support import add_team, province_client  # noqa: F401  (fixture)
from tests.test_team_support import add_volunteer
from tests.wechat_user import WeChatUser

LANZHOU, CHENGGUAN, TIANSHUI = "620100", "620102", "620500"


def test_waiting_registrations_oldest_first_with_their_number(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    specs = [
        ("城关区科技志愿服务队", team_names.COUNTY, LANZHOU, CHENGGUAN),
        ("七里河区科技志愿服务队", team_names.COUNTY, LANZHOU, "620103"),
        ("甘肃省农学会科技志愿服务队", team_names.SOCIETY, "620000", None),
        ("麦积区科技志愿服务队", team_names.COUNTY, TIANSHUI, "620503"),
    ]
    ids = [
        add_team(db, name, kind=kind, prefecture_code=prefecture, county_code=county,
                 approved=False, registrant=f"oRegistrant{n:015d}")
        for n, (name, kind, prefecture, county) in enumerate(specs)
    ]  # fmt: skip
    with db.Session() as session:
        shown, total = tree_pages.waiting(session, Scope(), shown=2)
        assert [t.id for t in shown] == ids[:2] and total == 4
        lanzhou, total = tree_pages.waiting(session, Scope.for_region(LANZHOU), shown=1)
        assert [t.id for t in lanzhou] == ids[:1] and total == 2  # not the 学会's, not 天水's
        assert tree_pages.waiting(session, Scope.for_region(CHENGGUAN)) == ([], 0)
    page = province_client.get("/console/teams").get_data(as_text=True)
    assert "待审核（4）" in page and "先显示最早的" not in page
    assert all(f"/console/teams/{i}/approve" in page for i in ids)


def test_join_requests_oldest_first_a_few_at_a_time(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    admin = team_admin(app, make_user)
    names = ["刘一", "刘二", "刘三"]
    for name in names:
        user = make_user()
        add_volunteer(app, user.openid, name=name)
        assert "已提交" in user.say(f"加入 {admin.team.invite_code}")
    with db.Session() as session:
        every = teams.join_requests(session, admin.team.id)
        assert [m.name for m in every] == names
        assert [m.name for m in teams.join_requests(session, admin.team.id, limit=2)] == names[:2]
        second = every[1].membership_id
        assert teams.join_requests(session, admin.team.id, membership_id=second) == [every[1]]
        assert teams.join_requests(session, admin.team.id + 1, membership_id=second) == []
    log_in(admin)
    text = page_text(admin.client, f"/team/t/{admin.team.id}/members")
    assert "待审核的入队申请（3）" in text and all(name in text for name in names)
