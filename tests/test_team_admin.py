"""组织 → 我的队伍: team card, join requests, member list, admins, rename, sub-teams, and the
polite refusal for everyone else."""

from __future__ import annotations

from collections.abc import Callable

from flask import Flask
from sqlalchemy import select

from infra.db import Database
from models.operator import AuditEntry
from models.team import FormerName, Membership, Team
from sandbox.fake_wechat import FakeWeChatState
from services import teams, volunteers
from tests.test_team_support import SOCIETY_TEAM as TEAM
from tests.test_team_support import (
    add_committee,
    add_team,
    add_volunteer,
    as_volunteer,
    led_team,
    seed_root,
)
from tests.wechat_user import WeChatUser


def join(app: Flask, make_user: Callable[..., WeChatUser], team: Team, name: str) -> WeChatUser:
    user = as_volunteer(app, make_user(), name=name, phone="13700001234", skills=("农业技术",))
    assert "已提交" in user.say(f"加入 {team.invite_code}")
    return user


def status_of(db: Database, team: Team) -> str:
    with db.Session() as session:
        return teams.get(session, team.id).status


def test_team_card(db: Database, wechat_user: WeChatUser) -> None:
    root = seed_root(db)
    team = add_team(db, TEAM, registrant=wechat_user.openid)
    card = wechat_user.click("TEAM_MINE")
    assert f"【{TEAM}】" in card
    assert f"队伍编号：{team.team_no}" in card
    assert "状态：已通过" in card
    assert "层级：队" in card
    assert f"上级队伍：{root.name}" in card
    assert "成员：0人（待审核申请 0 条）" in card
    assert f"邀请码：{team.invite_code}" in card
    assert "队长：李队长 139****1111" in card
    assert "管理员：注册人" in card
    assert "「入队申请」" in card and "「成员列表」" in card


def test_pending_team_card_says_it_waits(db: Database, wechat_user: WeChatUser) -> None:
    add_team(db, TEAM, registrant=wechat_user.openid, approved=False)
    card = wechat_user.say("我的队伍")
    assert "状态：待审核" in card
    assert "审核通过后志愿者才能加入" in card


def test_admin_of_several_teams_picks_one(db: Database, wechat_user: WeChatUser) -> None:
    add_team(db, TEAM, registrant=wechat_user.openid)
    add_team(db, "兰州大学科技志愿服务队", kind="unit", registrant=wechat_user.openid)
    listing = wechat_user.click("TEAM_MINE")
    assert "您管理 2 支队伍" in listing
    assert f"1. {TEAM}（已通过）" in listing
    assert "选择队伍 序号" in listing
    assert "您管理 2 支队伍" in wechat_user.say("成员列表")  # which team? ask first
    assert "没有第 3 支队伍" in wechat_user.say("选择队伍 3")
    card = wechat_user.say("选择队伍 2")
    assert "【兰州大学科技志愿服务队】" in card
    assert "切换到您管理的其他队伍" in card
    assert "「兰州大学科技志愿服务队」还没有成员" in wechat_user.say("成员列表")


def test_join_requests_approved_and_rejected_by_number(
    app: Flask,
    db: Database,
    make_user: Callable[..., WeChatUser],
    wechat_user: WeChatUser,
    fake_wechat: FakeWeChatState,
) -> None:
    team = add_team(db, TEAM, registrant=wechat_user.openid)
    first = join(app, make_user, team, "赵一")
    second = join(app, make_user, team, "钱二")
    third = join(app, make_user, team, "孙三")
    listing = wechat_user.say("入队申请")
    assert "待审核的入队申请（3 条）" in listing
    assert "1. 赵一 137****1234 农业技术" in listing
    assert "3. 孙三" in listing
    assert "没有第 5 条申请" in wechat_user.say("通过 5")
    assert "已通过 钱二" in wechat_user.say("通过 2")
    assert "已拒绝 赵一" in wechat_user.say("拒绝 1")
    assert "已通过 1 条入队申请" in wechat_user.say("全部通过")
    assert "目前没有待审核的入队申请" in wechat_user.say("入队申请")
    assert any("已通过审核，欢迎加入" in m["content"] for m in fake_wechat.messages(second.openid))
    assert any("未通过您的入队申请" in m["content"] for m in fake_wechat.messages(first.openid))
    assert any("欢迎加入" in m["content"] for m in fake_wechat.messages(third.openid))
    with db.Session() as session:
        statuses = sorted(m.status for m in session.query(Membership).filter_by(team_id=team.id))
    assert statuses == ["joined", "joined", "rejected"]
    # A rejected volunteer may ask again.
    assert "已提交" in first.say(f"加入 {team.invite_code}")


def test_member_list_is_paged_and_masked(app: Flask, db: Database, wechat_user: WeChatUser) -> None:
    team = add_team(db, TEAM, registrant=wechat_user.openid, auto_approve=True)
    openids = [f"oMember{n:022d}" for n in range(12)]
    for n, openid in enumerate(openids):
        add_volunteer(app, openid, name=f"成员{'甲乙丙丁戊己庚辛壬癸子丑'[n]}", phone="13912345678")
    with db.Session.begin() as session:
        for openid in openids:
            volunteer = volunteers.find_by_openid(session, openid)
            assert volunteer is not None
            teams.join(session, team, volunteer)
    first = wechat_user.say("成员列表")
    assert "成员（共 12 人，第 1/2 页）" in first
    assert "1. 成员甲 139****5678 科学普及" in first
    assert "13912345678" not in first
    assert "10. 成员癸" in first and "成员子" not in first
    assert "回复「成员列表 2」" in first
    second = wechat_user.say("成员列表 2")
    assert "第 2/2 页" in second
    assert "11. 成员子" in second and "12. 成员丑" in second
    assert "第 2/2 页" in wechat_user.say("成员列表 9")  # past the end: the last page


def test_non_admins_are_refused_politely(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    team = add_team(db, TEAM, auto_approve=True)
    member = join_auto(app, make_user, team)
    for command in (
        "成员列表",
        "入队申请",
        "通过 1",
        "添加管理员 KJ0000000000",
        "修改队名 甘肃省X学会",
    ):
        assert "只有队伍管理员可以查看和管理" in member.say(command), command
    mine = member.click("TEAM_MINE")
    assert f"1. {TEAM}（已加入）" in mine
    assert "不是这些队伍的管理员" in mine


def join_auto(app: Flask, make_user: Callable[..., WeChatUser], team: Team) -> WeChatUser:
    user = as_volunteer(app, make_user(), name="周四")
    assert "您已加入" in user.say(f"加入 {team.invite_code}")
    return user


def test_strangers_see_how_to_start(wechat_user: WeChatUser, db: Database) -> None:
    reply = wechat_user.click("TEAM_MINE")
    assert "还没有管理或加入任何队伍" in reply
    assert "组织 → 注册" in reply


def test_add_and_remove_admins_by_volunteer_number(
    app: Flask,
    db: Database,
    make_user: Callable[..., WeChatUser],
    wechat_user: WeChatUser,
    fake_wechat: FakeWeChatState,
) -> None:
    _, registrant_no = led_team(app, db, wechat_user)  # 张三, the 队长
    helper = make_user()
    number = add_volunteer(app, helper.openid, name="吴六")
    assert "请在指令后加上志愿者编号" in wechat_user.say("添加管理员")
    assert "没有找到志愿者编号「KJ0000000000」" in wechat_user.say("添加管理员 KJ0000000000")
    assert f"已将 吴六（{number}）设为「{TEAM}」的管理员" in wechat_user.say(
        f"添加管理员 {number.lower()}"
    )
    assert "已经是本队管理员" in wechat_user.say(f"添加管理员 {number}")
    assert any("您已被设为" in m["content"] for m in fake_wechat.messages(helper.openid))
    # The new admin manages the team too, and sees both admins on the card.
    card = helper.click("TEAM_MINE")
    assert f"管理员：张三（{registrant_no}，队长）、吴六（{number}）" in card
    assert f"已取消 吴六（{number}）" in wechat_user.say(f"移除管理员 {number}")
    assert "只有队伍管理员" in helper.say("成员列表")


def test_the_last_admin_stays(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    admin = make_user()
    number = add_volunteer(app, admin.openid, name="郑七")
    add_team(db, TEAM, registrant=admin.openid)
    assert "至少需要一名管理员" in admin.say(f"移除管理员 {number}")


def test_rename_takes_effect_at_once_and_keeps_the_old_name(
    db: Database, wechat_user: WeChatUser
) -> None:
    team = add_team(db, TEAM, registrant=wechat_user.openid)
    add_team(db, "甘肃省作物学会科技志愿服务队")
    usage = wechat_user.say("修改队名")
    assert "「**学会（协会、研究会）科技志愿服务队」" in usage
    assert "以「学会」「协会」或「研究会」结尾" in wechat_user.say("修改队名 兰州大学")
    assert "已被注册" in wechat_user.say("修改队名 甘肃省作物学会")
    assert "没有待确认的改名" in wechat_user.say("确认改名")
    preview = wechat_user.say("修改队名 甘肃省农业学会")
    assert "新队名：「甘肃省农业学会科技志愿服务队」" in preview
    assert status_of(db, team) == "approved"  # nothing changes before 确认改名
    assert "改名成功" in wechat_user.say("确认改名")
    with db.Session() as session:
        renamed = teams.get(session, team.id)
        assert renamed.name == "甘肃省农业学会科技志愿服务队"
        assert renamed.status == "approved"  # joining stays open
        assert teams.pending(session) == []
        former = session.scalars(select(FormerName).where(FormerName.team_id == team.id)).all()
        assert [f.name for f in former] == [TEAM]
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "team_rename")).one()
        assert TEAM in entry.summary and entry.actor == f"wechat:{wechat_user.openid}"
    assert "已被注册" not in wechat_user.say("修改队名 甘肃省农学会")  # the old name is free


def test_region_teams_keep_their_names(db: Database, wechat_user: WeChatUser) -> None:
    add_team(
        db,
        "天水市科技志愿服务队",
        kind="prefecture",
        prefecture_code="620500",
        registrant=wechat_user.openid,
    )
    assert "不能自行修改" in wechat_user.say("修改队名 天水")


def test_sub_teams_and_committee_rename(
    db: Database, wechat_user: WeChatUser, make_user: Callable[..., WeChatUser]
) -> None:
    society = add_team(db, TEAM, registrant=wechat_user.openid)
    assert "暂无下级队伍" in wechat_user.say("下级队伍")
    branch_admin = make_user()
    add_committee(db, society, registrant=branch_admin.openid, approved=False)
    listing = wechat_user.say("下级队伍")
    assert f"1. {TEAM}植物保护专委会支队（支队，待审核，成员 0 人）" in listing
    preview = branch_admin.say("修改队名 植保")
    assert f"新队名：「{TEAM}植保专委会支队」" in preview


def test_auto_approve_setting(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser], wechat_user: WeChatUser
) -> None:
    team = add_team(db, TEAM, registrant=wechat_user.openid)
    assert "已开启" in wechat_user.say("自动通过 开")
    assert "入队方式：自动通过" in wechat_user.say("我的队伍")
    join_auto(app, make_user, team)
    assert "已关闭自动通过" in wechat_user.say("自动通过 关")
    join(app, make_user, team, "冯八")  # asks, and waits for an admin again
    assert "1. 冯八" in wechat_user.say("入队申请")


def test_the_registrant_and_admins_are_members_and_counted(
    app: Flask, db: Database, wechat_user: WeChatUser, make_user: Callable[..., WeChatUser]
) -> None:
    seed_root(db)
    team, registrant_no = led_team(app, db, wechat_user, "王队长")
    card = wechat_user.click("TEAM_MINE")
    assert "成员：1人（待审核申请 0 条）" in card
    assert f"1. 王队长 138****5678 科学普及（{registrant_no}）" in wechat_user.say("成员列表")
    helper = make_user()
    helper_no = add_volunteer(app, helper.openid, name="吴六")
    wechat_user.say(f"添加管理员 {helper_no}")
    assert "成员：2人" in wechat_user.say("我的队伍")
    assert f"2. 吴六 138****5678 科学普及（{helper_no}）" in wechat_user.say("成员列表")
    assert team.name in helper.click("VOLUNTEER_PROFILE")  # 所在队伍 lists it
    assert "已经是" in helper.say(f"加入 {team.invite_code}")
