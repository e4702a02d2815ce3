"""Getting into the team console: the one-time link from chat (single use, 5 minutes, bound to
the admin), WeChat's silent web authorisation, logout, and scoping: an admin of team A sees and
changes nothing of team B, by direct URLs and ids, and loses access once removed."""

from __future__ import annotations

from collections.abc import Callable
from urllib.parse import parse_qsl, urlsplit

import pytest
import redis
import requests
from flask import Flask

from infra.db import Database
from models.operator import AuditEntry
from models.team import MEMBERSHIP_PENDING, Membership
from sandbox.fake_wechat import OAUTH_COOKIE
from services import teams, volunteers
from services.team_console_logins import LINK_SECONDS
from tests.team_console_steps import (
    Admin,
    link_from_chat,
    log_in,
    page_text,
    submit,
    team_admin,
)
from tests.test_team_support import add_volunteer
from tests.wechat_user import WeChatUser
from wechat.errors import WeChatAPIError

WECHAT_BROWSER = {"User-Agent": "Mozilla/5.0 (iPhone) MicroMessenger/8.0.50 NetType/WIFI"}


def test_link_logs_in_once(app: Flask, make_user: Callable[..., WeChatUser]) -> None:
    admin = team_admin(app, make_user)
    assert "「管理后台」在手机上打开队伍管理后台" in admin.user.click("TEAM_MINE")
    path = link_from_chat(admin.user)
    assert "5分钟内有效" in admin.user.say("管理后台")
    first = admin.client.get(path)
    assert first.status_code == 302
    home = page_text(admin.client, "/team/")
    assert "甘肃省农学会科技志愿服务队" in home and admin.volunteer_no in home

    again = app.test_client().get(path)
    assert again.status_code == 403
    assert "链接已失效" in again.data.decode()


def test_expired_link_is_refused(
    app: Flask, make_user: Callable[..., WeChatUser], redis_client: redis.Redis
) -> None:
    admin = team_admin(app, make_user)
    path = link_from_chat(admin.user)
    key = app.extensions["services"].keys.team_console_link(path.rsplit("/", 1)[1])
    assert LINK_SECONDS - 5 < redis_client.ttl(key) <= LINK_SECONDS
    redis_client.expire(key, 0)  # the 5 minutes are over
    answer = admin.client.get(path)
    assert answer.status_code == 403 and "链接已失效" in answer.data.decode()
    assert page_text(admin.client, "/team/", 401).count("管理后台") >= 1


def test_made_up_link_and_no_session_are_refused(app: Flask) -> None:
    client = app.test_client()
    assert client.get("/team/login/not-a-real-token").status_code == 403
    text = page_text(client, "/team/", 401)
    assert "回复「管理后台」获取登录链接" in text


def test_only_admins_get_a_link(app: Flask, make_user: Callable[..., WeChatUser]) -> None:
    user = make_user()
    add_volunteer(app, user.openid)
    reply = user.say("管理后台")
    assert "不是任何队伍的管理员" in reply and "/team/login/" not in reply


def test_logout_ends_the_session(app: Flask, make_user: Callable[..., WeChatUser]) -> None:
    admin = team_admin(app, make_user)
    log_in(admin)
    cookie = admin.client.get_cookie("session")
    assert cookie is not None
    answer = submit(admin.client, "/team/", "/team/logout")
    assert "已退出" in answer.data.decode()
    assert admin.client.get("/team/").status_code == 401
    # The old cookie, copied before logout, opens nothing either.
    copy = app.test_client()
    copy.set_cookie("session", cookie.value)
    assert copy.get("/team/").status_code == 401


def test_forms_need_the_csrf_token(app: Flask, make_user: Callable[..., WeChatUser]) -> None:
    admin = team_admin(app, make_user)
    log_in(admin)
    answer = admin.client.post("/team/logout")
    assert answer.status_code == 400 and "页面已过期" in answer.data.decode()


def test_inside_wechat_the_follower_is_recognised_silently(
    app: Flask, make_user: Callable[..., WeChatUser], fake_wechat_url: str
) -> None:
    admin = team_admin(app, make_user)
    team_page = f"/team/t/{admin.team.id}/members"
    to_wechat = admin.client.get(team_page, headers=WECHAT_BROWSER)
    assert to_wechat.status_code == 302
    authorize = to_wechat.headers["Location"]
    assert authorize.startswith(fake_wechat_url + "/connect/oauth2/authorize?")
    assert "scope=snsapi_base" in authorize and authorize.endswith("#wechat_redirect")

    # WeChat's browser knows its follower and comes straight back with a code.
    wechat = requests.get(
        authorize.split("#")[0], cookies={OAUTH_COOKIE: admin.user.openid}, allow_redirects=False
    )
    assert wechat.status_code == 302
    back = urlsplit(wechat.headers["Location"])
    assert back.path == "/team/oauth"
    landed = admin.client.get(f"{back.path}?{back.query}", headers=WECHAT_BROWSER)
    assert landed.status_code == 302 and landed.headers["Location"] == team_page
    assert "待审核的入队申请" in page_text(admin.client, team_page)

    # The code works once.
    code = dict(parse_qsl(back.query))["code"]
    with pytest.raises(WeChatAPIError):
        app.extensions["services"].api.oauth_openid(code)


def test_wechat_follower_who_is_no_admin_is_refused(
    app: Flask, make_user: Callable[..., WeChatUser]
) -> None:
    team_admin(app, make_user)
    someone = make_user()
    client = app.test_client()
    authorize = client.get("/team/", headers=WECHAT_BROWSER).headers["Location"]
    wechat = requests.get(
        authorize.split("#")[0], cookies={OAUTH_COOKIE: someone.openid}, allow_redirects=False
    )
    back = urlsplit(wechat.headers["Location"])
    answer = client.get(f"{back.path}?{back.query}")
    assert answer.status_code == 403 and "不是任何队伍的管理员" in answer.data.decode()


def test_admin_of_a_sees_nothing_of_b(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    a = team_admin(app, make_user)
    b = team_admin(app, make_user, "兰州大学科技志愿服务队", name="李管理")
    with db.Session.begin() as session:
        teams.set_auto_approve(session, b.team.id, False)
    applicant = make_user()
    add_volunteer(app, applicant.openid, name="申请人")
    assert "已提交" in applicant.say(f"加入 {b.team.invite_code}")
    with db.Session() as session:
        request_id = teams.join_requests(session, b.team.id)[0].membership_id
        b_member = teams.members(session, b.team.id).items[0].volunteer_id
    log_in(a)

    home = page_text(a.client, "/team/")
    assert "兰州大学" not in home
    for path in (
        f"/team/t/{b.team.id}/members",
        f"/team/t/{b.team.id}/members.xlsx",
        f"/team/t/{b.team.id}/members?q=申请人",
    ):
        assert a.client.get(path).status_code == 404, path
    own = f"/team/t/{a.team.id}/members"
    for action in (
        f"/team/t/{b.team.id}/requests/{request_id}/approve",
        f"/team/t/{b.team.id}/members/{b_member}/remove",
        f"/team/t/{b.team.id}/members/{b_member}/admin",
    ):
        answer = submit(a.client, own, action, {"reason": "试试", "on": "1"})
        assert answer.status_code == 404, action
    # B's request through A's team URL: not A's request.
    answer = submit(a.client, own, f"/team/t/{a.team.id}/requests/{request_id}/approve")
    assert "该入队申请不存在或已处理" in answer.data.decode()
    with db.Session() as session:
        assert session.get(Membership, request_id).status == MEMBERSHIP_PENDING  # type: ignore[union-attr]
        assert teams.is_admin(session, b.team.id, b.user.openid)
        assert len(teams.admins(session, b.team.id)) == 1


def test_removed_admin_loses_access_at_the_next_request(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    captain = team_admin(app, make_user, captain=True)
    other = make_user()
    number = add_volunteer(app, other.openid, name="赵二")
    with db.Session.begin() as session:
        volunteer = volunteers.find_by_openid(session, other.openid)
        assert volunteer is not None
        teams.add_admin(session, captain.team.id, volunteer)
    a = Admin(other, captain.team, number, app.test_client())  # a 管理员 (the 队长 stays one)
    log_in(a)
    members_page = f"/team/t/{a.team.id}/members"
    assert page_text(a.client, members_page)

    with db.Session.begin() as session:
        teams.remove_admin(session, a.team.id, a.user.openid)
    answer = a.client.get(members_page)
    assert answer.status_code == 403 and "不是任何队伍的管理员" in answer.data.decode()
    assert a.client.get("/team/").status_code == 401  # the session has ended


def test_logins_are_audited_with_the_volunteer_number(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    admin = team_admin(app, make_user)
    log_in(admin)
    with db.Session() as session:
        entry = session.query(AuditEntry).filter_by(action="team_login").one()
    assert entry.actor == f"队管:{admin.volunteer_no}@{admin.team.team_no}"
    assert entry.detail and entry.detail["team_id"] == admin.team.id
