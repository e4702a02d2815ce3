"""Joining and leaving teams: 「加入 邀请码」, 志愿者 → 加入队伍, scene QR codes, 退出队伍."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask

from infra.db import Database
from models.team import Membership, Team
from sandbox.fake_wechat import FakeWeChatState
from services import teams
from tests.test_team_support import add_team, add_volunteer
from tests.wechat_user import WeChatUser

ADMIN = "oTeamAdmin0000000000000000001"
TEAM = "甘肃省农学会科技志愿服务队"


def volunteer(app: Flask, make_user: Callable[..., WeChatUser], name: str = "王五") -> WeChatUser:
    user = make_user()
    add_volunteer(app, user.openid, name=name, phone="13711112222")
    return user


def memberships(db: Database, team: Team) -> list[str]:
    with db.Session() as session:
        rows = session.query(Membership).filter_by(team_id=team.id).all()
        return [m.status for m in rows]


def texts(fake_wechat: FakeWeChatState, openid: str) -> list[str]:
    return [m["content"] for m in fake_wechat.messages(openid) if m["type"] == "text"]


def test_join_by_code_waits_for_the_admin(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser], fake_wechat: FakeWeChatState
) -> None:
    team = add_team(db, TEAM, registrant=ADMIN)
    user = volunteer(app, make_user)
    reply = user.say(f"加入 {team.invite_code.lower()}")
    assert f"已提交加入「{TEAM}」的申请" in reply
    assert memberships(db, team) == ["pending"]
    [notice] = texts(fake_wechat, ADMIN)
    assert "收到新的入队申请：王五" in notice
    assert f"所在队伍：{TEAM}（待审核）" in user.say("我的信息")


def test_joining_twice_gets_a_specific_hint(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    team = add_team(db, TEAM)
    user = volunteer(app, make_user)
    user.say(f"加入 {team.invite_code}")
    assert f"您已申请加入「{TEAM}」，请耐心等待" in user.say(f"加入{team.invite_code}")
    with db.Session.begin() as session:
        [request] = teams.join_requests(session, team.id)
        teams.approve_member(session, request.membership_id)
    assert f"您已经是「{TEAM}」的成员" in user.say(f"加入 {team.invite_code}")


def test_unknown_and_malformed_codes(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    user = volunteer(app, make_user)
    assert "邀请码「ZZZZ99」不存在" in user.say("加入 ZZZZ99")
    assert "不是有效的邀请码" in user.say("加入 我们吧")


def test_a_sixth_team_is_refused(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    user = volunteer(app, make_user)
    codes = [
        add_team(db, f"甘肃省第{n}学会科技志愿服务队", auto_approve=n % 2 == 0).invite_code
        for n in range(1, 7)
    ]
    for code in codes[:5]:
        reply = user.say(f"加入 {code}")
        assert "已提交" in reply or "您已加入" in reply
    sixth = user.say(f"加入 {codes[5]}")
    assert "最多加入5支队伍" in sixth
    assert "退出队伍" in sixth
    # Leaving one makes room again.
    listing = user.say("退出队伍")
    assert "1. 甘肃省第1学会科技志愿服务队（待审核）" in listing
    assert "2. 甘肃省第2学会科技志愿服务队（已加入）" in listing
    assert "已撤回加入「甘肃省第1学会科技志愿服务队」的申请" in user.say("退出队伍 1")
    assert "您已加入「甘肃省第6学会科技志愿服务队」" in user.say(f"加入 {codes[5]}")


def test_auto_approve_joins_at_once(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser], fake_wechat: FakeWeChatState
) -> None:
    team = add_team(db, TEAM, registrant=ADMIN, auto_approve=True)
    user = volunteer(app, make_user)
    assert f"您已加入「{TEAM}」" in user.say(f"加入 {team.invite_code}")
    assert memberships(db, team) == ["joined"]
    assert texts(fake_wechat, ADMIN) == []  # nothing to review


def test_a_team_waiting_for_approval_cannot_be_joined(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    team = add_team(db, TEAM, approved=False)
    user = volunteer(app, make_user)
    assert f"「{TEAM}」尚未通过审核，暂时不能加入" in user.say(f"加入 {team.invite_code}")


def test_joining_needs_a_registered_volunteer(db: Database, wechat_user: WeChatUser) -> None:
    team = add_team(db, TEAM)
    reply = wechat_user.say(f"加入 {team.invite_code}")
    assert "需要先注册科技志愿者" in reply
    assert f"加入 {team.invite_code}" in reply
    assert "需要先注册科技志愿者" in wechat_user.click("VOLUNTEER_JOIN_TEAM")


def test_menu_asks_for_the_code_and_shows_the_team(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    team = add_team(db, TEAM)
    user = volunteer(app, make_user)
    assert "邀请码" in user.click("VOLUNTEER_JOIN_TEAM")
    assert "不存在" in user.say("ABCDEF" if team.invite_code != "ABCDEF" else "ABCDEG")
    summary = user.say(team.invite_code)
    assert "请确认要加入的队伍" in summary
    assert f"要加入的队伍：{TEAM}（队伍编号 {team.team_no}）" in summary
    assert "已提交加入" in user.say("确认")
    assert memberships(db, team) == ["pending"]
    # The same team again through the menu: the hint, and the flow ends.
    user.click("VOLUNTEER_JOIN_TEAM")
    user.say(team.invite_code)
    assert "您已申请加入" in user.say("确认")
    assert "当前没有进行中的填写" in user.say("取消")


def test_scan_of_a_team_code_by_a_follower(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    team = add_team(db, TEAM)
    user = volunteer(app, make_user)
    answer = user.event("SCAN", teams.scene_for(team))
    assert f"已提交加入「{TEAM}」的申请" in answer.text
    assert memberships(db, team) == ["pending"]
    assert user.event("SCAN", "activity:42").empty  # not a team's code


def test_subscribe_by_scan_welcomes_and_explains(db: Database, wechat_user: WeChatUser) -> None:
    team = add_team(db, TEAM)
    reply = wechat_user.subscribe(scene=teams.scene_for(team))
    assert "欢迎关注" in reply
    assert f"您正在申请加入「{TEAM}」" in reply
    assert f"加入 {team.invite_code}" in reply


def test_subscribe_by_scan_of_a_registered_volunteer_joins(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    team = add_team(db, TEAM, auto_approve=True)
    user = volunteer(app, make_user)
    reply = user.subscribe(scene=teams.scene_for(team))
    assert "欢迎关注" in reply and f"您已加入「{TEAM}」" in reply


def test_leave_a_team(app: Flask, db: Database, make_user: Callable[..., WeChatUser]) -> None:
    team = add_team(db, TEAM, auto_approve=True)
    user = volunteer(app, make_user)
    user.say(f"加入 {team.invite_code}")
    assert "没有第 3 支队伍" in user.say("退出队伍 3")
    assert f"您已退出「{TEAM}」" in user.say("退出队伍 1")
    assert memberships(db, team) == ["left"]
    assert "没有加入任何队伍" in user.say("退出队伍")
    assert "您已加入" in user.say(f"加入 {team.invite_code}")  # may come back


def test_deregistering_leaves_every_team(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    team = add_team(db, TEAM, auto_approve=True)
    user = volunteer(app, make_user)
    user.say(f"加入 {team.invite_code}")
    user.say("注销")
    assert "注销完成" in user.say("确认注销")
    assert memberships(db, team) == ["left"]
