"""Issue 12: the notice's team rules as a new user meets them (defects and rules, one test each)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask

from infra.db import Database
from sandbox.fake_wechat import FakeWeChatState
from services import operators, teams
from tests.test_console_support import (
    csrf_token,
    province_client,  # noqa: F401  (fixture)
)
from tests.test_team_support import (
    SOCIETY_TEAM,
    add_committee,
    add_team,
    add_volunteer,
    as_volunteer,
    fill_details,
    invoke,
    led_team,
    seed_root,
    statuses_named,
    team_by_name,
)
from tests.wechat_user import WeChatUser


def register_society(user: WeChatUser, society: str = "甘肃省农学会") -> str:
    """组织 → 注册 as a 省级学会 up to the name; returns the reply to the name."""
    user.click("TEAM_REGISTER")
    user.say("1")
    return user.say(society)


def test_a_rejected_registration_frees_its_name(
    runner: Any,
    app: Flask,
    db: Database,
    wechat_user: WeChatUser,
    make_user: Callable[..., WeChatUser],
    fake_wechat: FakeWeChatState,
) -> None:
    seed_root(db)
    as_volunteer(app, wechat_user)
    assert "该名称可以注册" in register_society(wechat_user)
    fill_details(wechat_user)
    assert "提交成功" in wechat_user.say("确认")
    team = team_by_name(db, SOCIETY_TEAM)
    assert team is not None
    assert "已被注册" in register_society(as_volunteer(app, make_user()))
    result = invoke(runner, "reject", team.team_no, "--reason", "依托单位填写有误")
    assert result.exit_code == 0, result.output
    notice = fake_wechat.messages(wechat_user.openid)[-1]["content"]
    assert "名称已释放" in notice and "重新提交" in notice
    # The same person fixes and resubmits; anyone else could have taken the name too.
    assert "该名称可以注册" in register_society(as_volunteer(app, make_user()))
    assert "该名称可以注册" in register_society(wechat_user)
    fill_details(wechat_user)
    assert "提交成功" in wechat_user.say("确认")
    assert statuses_named(db, SOCIETY_TEAM) == ["pending", "rejected"]


def test_a_rejected_team_can_be_approved_while_its_name_is_still_free(
    runner: Any, app: Flask, db: Database, wechat_user: WeChatUser
) -> None:
    seed_root(db)
    add_volunteer(app, wechat_user.openid, name="王队长")
    team = add_team(db, SOCIETY_TEAM, registrant=wechat_user.openid, approved=False)
    invoke(runner, "reject", team.team_no, "--reason", "材料不全")
    assert "成员：0人" in wechat_user.say("我的队伍")
    result = invoke(runner, "approve", team.team_no)
    assert result.exit_code == 0, result.output
    assert "成员：1人" in wechat_user.say("我的队伍")  # the registrant is a member again
    other = add_team(db, "甘肃省作物学会科技志愿服务队", approved=False)
    invoke(runner, "reject", other.team_no, "--reason", "重复")
    add_team(db, "甘肃省作物学会科技志愿服务队", approved=False)  # the name, taken meanwhile
    result = invoke(runner, "approve", other.team_no)
    assert result.exit_code == 1 and "已被注册" in result.output


def test_qrcode_shows_an_unexpected_api_answer_instead_of_crashing(
    runner: Any, db: Database, fake_wechat: FakeWeChatState
) -> None:
    team = add_team(db, SOCIETY_TEAM)
    fake_wechat.answer_oddly("/cgi-bin/qrcode/create", {"errcode": 0, "errmsg": "ok"})
    result = invoke(runner, "qrcode", team.team_no)
    assert result.exit_code == 1
    assert "answer without a ticket" in result.output and '"errmsg": "ok"' in result.output
    assert not isinstance(result.exception, KeyError)
    result = invoke(runner, "qrcode", team.team_no)  # the next answer is a normal one
    assert result.exit_code == 0 and "image: " in result.output


def test_a_unit_cannot_take_a_region_name_or_a_level_word(
    app: Flask, wechat_user: WeChatUser, db: Database
) -> None:
    as_volunteer(app, wechat_user).click("TEAM_REGISTER")
    wechat_user.say("5")  # 单位
    assert "单位名称" in wechat_user.say("兰州市")  # the region of the unit
    assert "「兰州市」是地区名称" in wechat_user.say("兰州市")
    assert "「城关区」是地区名称" in wechat_user.say("城关区")
    assert "不能含有「科技志愿服务」" in wechat_user.say("兰州大学科技志愿服务总队")
    assert "不能含有「科技志愿服务」" in wechat_user.say("甘肃省科技志愿服务总队")
    assert "队伍全称：「兰州大学科技志愿服务队」" in wechat_user.say("兰州大学")


def test_only_provincial_societies_and_no_region_question(
    app: Flask, wechat_user: WeChatUser
) -> None:
    as_volunteer(app, wechat_user).click("TEAM_REGISTER")
    prompt = wechat_user.say("1")
    assert "学会（协会、研究会）的全称" in prompt and "全省（省级单位）" not in prompt
    assert "不是省级学会" in wechat_user.say("兰州市农学会")
    assert "该名称可以注册" in wechat_user.say("甘肃省农学会")


def test_a_rename_renames_the_sub_teams_that_carry_the_name(
    db: Database,
    wechat_user: WeChatUser,
    make_user: Callable[..., WeChatUser],
    fake_wechat: FakeWeChatState,
) -> None:
    society = add_team(db, SOCIETY_TEAM, registrant=wechat_user.openid)
    branch_admin = make_user()
    branch = add_committee(db, society, registrant=branch_admin.openid)
    squad = add_team(db, f"{branch.name}天水分队", kind="squad", parent_id=branch.id)
    wechat_user.say("修改队名 甘肃省农业学会")
    done = wechat_user.say("确认改名")
    assert "2 支下级队伍已同步改名" in done
    new = "甘肃省农业学会科技志愿服务队"
    with db.Session() as session:
        assert teams.get(session, branch.id).name == f"{new}植物保护专委会支队"
        assert teams.get(session, squad.id).name == f"{new}植物保护专委会支队天水分队"
    told = [m["content"] for m in fake_wechat.messages(branch_admin.openid)]
    assert any(f"已随上级队伍改名为「{new}植物保护专委会支队」" in t for t in told)
    assert f"{new}植物保护专委会支队" in branch_admin.say("我的队伍")


def test_county_teams_move_under_their_prefecture_team_when_it_is_approved(
    runner: Any, db: Database
) -> None:
    root = seed_root(db)
    county = add_team(
        db, "秦安县科技志愿服务队", kind="county", prefecture_code="620500", county_code="620522"
    )
    waiting = add_team(
        db,
        "甘谷县科技志愿服务队",
        kind="county",
        prefecture_code="620500",
        county_code="620523",
        approved=False,
    )
    elsewhere = add_team(
        db, "城关区科技志愿服务队", kind="county", prefecture_code="620100", county_code="620102"
    )
    region = add_team(
        db, "天水市科技志愿服务队", kind="prefecture", prefecture_code="620500", approved=False
    )
    with db.Session() as session:
        assert teams.get(session, county.id).parent_id == root.id
    assert invoke(runner, "approve", region.team_no).exit_code == 0
    later = add_team(
        db, "清水县科技志愿服务队", kind="county", prefecture_code="620500", county_code="620521"
    )
    with db.Session() as session:
        parents = {t.id: t.parent_id for t, _ in teams.hierarchy(session)}
    assert parents[county.id] == region.id
    assert parents[waiting.id] == region.id
    assert parents[later.id] == region.id  # new ones go there directly
    assert parents[elsewhere.id] == root.id


def test_teams_tree_prints_the_hierarchy_with_counts(
    runner: Any, app: Flask, db: Database, make_user: Callable[..., WeChatUser]
) -> None:
    seed_root(db)
    captain = as_volunteer(app, make_user(), name="王队长")
    society = add_team(db, SOCIETY_TEAM, registrant=captain.openid)
    add_committee(db, society, auto_approve=True)
    asking = as_volunteer(app, make_user(), name="赵一")
    asking.say(f"加入 {society.invite_code}")
    result = invoke(runner, "tree")
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0].startswith("甘肃省科技志愿服务总队（总队，已通过）")
    assert lines[1] == f"  {SOCIETY_TEAM}（队，已通过） 成员 1 人，待审核入队 1 条"
    assert lines[2] == (
        f"    {SOCIETY_TEAM}植物保护专委会支队（支队，已通过） 成员 0 人，待审核入队 0 条，自动通过"
    )
    assert lines[-1] == "3 teams"


def test_console_tree_shows_counts_and_who_joins_automatically(
    province_client: Any,  # noqa: F811
    db: Database,
) -> None:
    seed_root(db)
    add_team(db, SOCIETY_TEAM, auto_approve=True)
    page = province_client.get("/console/teams").get_data(as_text=True)
    assert "<th>成员</th><th>待审核入队</th><th>入队方式</th>" in page
    assert "<td>0</td><td>0</td><td>自动通过</td>" in page


def test_the_tree_leaves_out_rejected_and_withdrawn_registrations(
    runner: Any,
    app: Flask,
    db: Database,
    make_user: Callable[..., WeChatUser],
    province_client: Any,  # noqa: F811
) -> None:
    seed_root(db)
    captain = as_volunteer(app, make_user(), name="王队长")
    asking = as_volunteer(app, make_user(), name="赵一")
    society = add_team(db, SOCIETY_TEAM, registrant=captain.openid)
    asking.say(f"加入 {society.invite_code}")
    add_team(db, "兰州大学科技志愿服务队", kind="unit", prefecture_code="620100", approved=False)
    rejected = add_team(db, "甘肃省作物学会科技志愿服务队", approved=False)
    withdrawn = add_team(
        db, "甘肃省林学会科技志愿服务队", approved=False, registrant=captain.openid
    )
    assert invoke(runner, "reject", rejected.team_no, "--reason", "材料不全").exit_code == 0
    with db.Session.begin() as session:
        teams.withdraw(session, withdrawn.id, captain.openid)
    result = invoke(runner, "tree")
    assert result.exit_code == 0, result.output
    assert result.output.splitlines() == [
        "甘肃省科技志愿服务总队（总队，已通过） 成员 0 人，待审核入队 0 条",
        f"  {SOCIETY_TEAM}（队，已通过） 成员 1 人，待审核入队 1 条",
        "  兰州大学科技志愿服务队（队，待审核） 成员 0 人，待审核入队 0 条",
        "3 teams",
    ]
    page = province_client.get("/console/teams").get_data(as_text=True)
    tree = page[page.index("队伍层级") :]
    assert "兰州大学科技志愿服务队" in tree and '<span class="tag pending">待审核</span>' in tree
    assert "<td>1</td><td>1</td><td>管理员审核</td>" in tree
    for gone in ("甘肃省作物学会", "甘肃省林学会", "已驳回", "已撤回"):
        assert gone not in tree


def test_only_a_registered_volunteer_registers_a_team_and_becomes_its_captain(
    app: Flask, db: Database, wechat_user: WeChatUser
) -> None:
    assert "请先点击「志愿者 → 注册」" in wechat_user.click("TEAM_REGISTER")
    as_volunteer(app, wechat_user)  # 张三, 13812345678
    wechat_user.click("TEAM_REGISTER")
    wechat_user.say("5")
    wechat_user.say("兰州市")
    wechat_user.say("兰州大学")
    assert "担任什么职务" in wechat_user.say("兰州大学科协")
    assert "联系电话" in wechat_user.say("我是队长")  # no captain questions: it is the registrant
    wechat_user.say("同上")
    wechat_user.say("面向中小学开展科普")
    summary = wechat_user.say("1")
    assert "您的身份：我是队长" in summary and "队长姓名" not in summary
    done = wechat_user.say("确认")
    assert "您已成为本队队长（管理员），是本队成员" in done
    team = team_by_name(db, "兰州大学科技志愿服务队")
    assert team is not None
    assert (team.captain_name, team.captain_phone) == ("张三", "13812345678")
    assert "成员：1人" in wechat_user.say("我的队伍")
    with db.Session() as session:  # the 队长 is not counted among the 管理员
        assert teams.captain_openid(session, team) == wechat_user.openid
        assert teams.counted_admins(session, team) == 0


@pytest.mark.parametrize(
    ("members", "quota"),
    [
        (0, 1),
        (1, 1),
        (100, 1),
        (101, 2),
        (200, 2),
        (201, 3),
        (301, 4),
        (400, 4),
        (401, 5),
        (9000, 5),
    ],
)
def test_admin_quota_grows_with_the_team(members: int, quota: int) -> None:
    assert teams.admin_quota(members) == quota


def test_the_captain_is_not_one_of_the_admins_a_registrant_for_another_captain_is(
    app: Flask, db: Database, wechat_user: WeChatUser, make_user: Callable[..., WeChatUser]
) -> None:
    first, second = make_user(), make_user()
    # Registered as 「我是队长」: the 队长 and, for up to 100 members, one 管理员.
    led, _ = led_team(app, db, wechat_user)
    first_no = add_volunteer(app, first.openid, name="吴六")
    second_no = add_volunteer(app, second.openid, name="郑七")
    assert "设为" in wechat_user.say(f"添加管理员 {first_no}")
    refused = wechat_user.say(f"添加管理员 {second_no}")
    assert "本队现有成员2人，除队长外可设管理员1名，已达上限" in refused
    with db.Session() as session:
        assert len(teams.admins(session, led.id)) == 2
        assert teams.captain_openid(session, led) == wechat_user.openid
        assert teams.counted_admins(session, led) == 1
    # Registered for another captain (李队长): the registrant is that one 管理员 already.
    other = make_user()
    add_volunteer(app, other.openid, name="周八", phone="13600001111")
    helped = add_team(db, "甘肃省作物学会科技志愿服务队", registrant=other.openid)
    other.say("选择队伍 1")
    assert "除队长外可设管理员1名，已达上限" in other.say(f"添加管理员 {second_no}")
    with db.Session() as session:
        assert teams.captain_openid(session, helped) is None
        assert teams.counted_admins(session, helped) == 1


def test_any_approved_team_may_have_branches_and_any_branch_squads(
    app: Flask, db: Database, wechat_user: WeChatUser
) -> None:
    as_volunteer(app, wechat_user)
    add_team(db, "兰州大学科技志愿服务队", kind="unit", prefecture_code="620100")
    wechat_user.click("TEAM_REGISTER")
    assert "已通过审核的队伍中查找" in wechat_user.say("6")  # 已注册队伍的下级支队
    assert "1. 兰州大学科技志愿服务队" in wechat_user.say("兰州大学")
    wechat_user.say("1")
    prompt = wechat_user.say("兰州市")
    assert "「兰州大学科技志愿服务队**支队」" in prompt
    assert "不能含有「队」" in wechat_user.say("化学化工队")
    assert "「兰州大学科技志愿服务队化学化工支队」" in wechat_user.say("化学化工")
    fill_details(wechat_user)
    assert "提交成功" in wechat_user.say("确认")
    branch = team_by_name(db, "兰州大学科技志愿服务队化学化工支队")
    assert branch is not None and (branch.level, branch.kind) == ("支队", "branch")
    with db.Session.begin() as session:
        teams.approve(session, branch.id)
    wechat_user.click("TEAM_REGISTER")
    wechat_user.say("7")  # 已注册支队的下级分队
    assert "1. 兰州大学科技志愿服务队化学化工支队" in wechat_user.say("化学化工")
    wechat_user.say("1")
    wechat_user.say("兰州市")
    assert "「兰州大学科技志愿服务队化学化工支队榆中分队」" in wechat_user.say("榆中")


def test_the_team_above_decides_its_branches_and_squads_in_chat(
    db: Database,
    wechat_user: WeChatUser,
    make_user: Callable[..., WeChatUser],
    fake_wechat: FakeWeChatState,
) -> None:
    society = add_team(db, SOCIETY_TEAM, registrant=wechat_user.openid)
    first, second, outsider = make_user(), make_user(), make_user()
    add_committee(db, society, registrant=first.openid, approved=False)
    add_committee(db, society, "土壤肥料", registrant=second.openid, approved=False)
    listing = wechat_user.say("下级队伍")
    assert "（支队，待审核，成员 0 人）" in listing and "「批准下级 序号」" in listing
    assert "只有队伍管理员" in outsider.say("批准下级 1")
    assert "请写明驳回原因" in wechat_user.say("驳回下级 2")
    assert "已通过「" in wechat_user.say("批准下级 1")
    assert "无需审核" in wechat_user.say("批准下级 1")
    assert "已驳回「" in wechat_user.say("驳回下级 2 请写明专委会全称")
    assert "已通过审核" in fake_wechat.messages(first.openid)[-1]["content"]
    assert "请写明专委会全称" in fake_wechat.messages(second.openid)[-1]["content"]
    assert "（支队，已通过" in wechat_user.say("下级队伍")
    # A 分队 is decided by its 支队's admins, not by the 队 above that.
    branch = team_by_name(db, f"{SOCIETY_TEAM}植物保护专委会支队")
    assert branch is not None
    add_team(
        db,
        f"{branch.name}天水分队",
        kind="squad",
        parent_id=branch.id,
        registrant=outsider.openid,
        approved=False,
    )
    with db.Session.begin() as session:
        squad = teams.find(session, f"{branch.name}天水分队")
        assert squad is not None
        with pytest.raises(teams.InvalidDecision, match="只有「"):
            teams.decide_sub_team(session, squad.id, wechat_user.openid, approve_it=True)
    assert "已通过「" in first.say("批准下级 1")


def test_team_admins_see_what_waits_for_them_under_pending_in_chat(
    app: Flask,
    db: Database,
    wechat_user: WeChatUser,
    make_user: Callable[..., WeChatUser],
) -> None:
    society = add_team(db, SOCIETY_TEAM, registrant=wechat_user.openid)
    assert "目前没有待审核的下级队伍注册" in wechat_user.say("待审核")
    add_committee(db, society, registrant=make_user().openid)
    add_committee(db, society, "土壤肥料", registrant=make_user().openid, approved=False)
    asking = as_volunteer(app, make_user())
    asking.say(f"加入 {society.invite_code}")
    card = wechat_user.say("我的队伍")
    assert "待审核下级队伍：1 支（回复「待审核」查看并审核）" in card
    waiting = wechat_user.say("待审核")
    assert "待审核的入队申请（1 条）" in waiting and "张三" in waiting
    assert "待审核的下级队伍注册（1 支）" in waiting
    assert f"2. {SOCIETY_TEAM}土壤肥料专委会支队（支队，学会的专业委员会）" in waiting
    assert "植物保护" not in waiting  # approved already
    assert "已通过「" in wechat_user.say("批准下级 2")  # the number shown is the one to use
    assert "待审核下级队伍" not in wechat_user.say("我的队伍")


def test_a_registrant_withdraws_a_pending_registration_which_frees_the_name(
    app: Flask,
    db: Database,
    wechat_user: WeChatUser,
    make_user: Callable[..., WeChatUser],
) -> None:
    seed_root(db)
    as_volunteer(app, wechat_user)
    assert "您没有待审核" in wechat_user.say("撤回注册")
    register_society(wechat_user)
    fill_details(wechat_user)
    assert "撤回注册" in wechat_user.say("确认")
    other = as_volunteer(app, make_user())
    assert "已被注册" in register_society(other)
    other.say("取消")
    assert "您没有待审核" in other.say("撤回注册")  # only the registrant withdraws
    listing = wechat_user.say("撤回注册")
    assert f"1. {SOCIETY_TEAM}" in listing and "撤回注册 1" in listing
    assert "没有第 2 个申请" in wechat_user.say("撤回注册 2")
    withdrawn = wechat_user.say("撤回注册 1")
    assert "已撤回" in withdrawn and "名称已释放" in withdrawn
    assert team_by_name(db, SOCIETY_TEAM) is None  # nobody holds the name now
    assert "该名称可以注册" in register_society(other)
    fill_details(other)
    assert "提交成功" in other.say("确认")
    assert statuses_named(db, SOCIETY_TEAM) == ["pending", "withdrawn"]


def test_a_special_name_waits_for_the_province_while_joining_stays_open(
    app: Flask,
    db: Database,
    wechat_user: WeChatUser,
    make_user: Callable[..., WeChatUser],
    fake_wechat: FakeWeChatState,
    province_client: Any,  # noqa: F811
) -> None:
    seed_root(db)
    team = add_team(db, SOCIETY_TEAM, registrant=wechat_user.openid)
    special = "陇原农技先锋队"
    asked = wechat_user.say(f"申请特殊命名 {special}")
    assert "已提交省科协审核" in asked and f"仍使用原名称「{SOCIETY_TEAM}」" in asked
    assert team_by_name(db, SOCIETY_TEAM) is not None  # the old name stays meanwhile
    joiner = as_volunteer(app, make_user())
    assert f"已提交加入「{SOCIETY_TEAM}」的申请" in joiner.say(f"加入 {team.invite_code}")
    with db.Session.begin() as session:  # only the province decides
        with pytest.raises(teams.TeamError) as refused:
            teams.decide_special_name(
                session, team.id, approve_it=True, by=operators.Scope.for_region("620100")
            )
        assert "只能由省科协审核" in refused.value.hint
    page = province_client.get("/console/teams").get_data(as_text=True)
    assert "特殊命名改名待审核（1）" in page and special in page
    token = csrf_token(province_client, "/console/teams")
    done = province_client.post(
        f"/console/teams/{team.id}/name/approve",
        data={"csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert f"特殊命名通过：{special}" in done
    renamed = team_by_name(db, special)
    assert renamed is not None and renamed.id == team.id and renamed.requested_name is None
    told = fake_wechat.messages(wechat_user.openid)[-1]["content"]
    assert f"已改为「{special}」" in told


def test_a_normal_rename_still_takes_effect_at_once(db: Database, wechat_user: WeChatUser) -> None:
    seed_root(db)
    team = add_team(db, SOCIETY_TEAM, registrant=wechat_user.openid)
    wechat_user.say("修改队名 甘肃省作物学会")
    assert "改名成功" in wechat_user.say("确认改名")
    with db.Session() as session:
        assert teams.get(session, team.id).name == "甘肃省作物学会科技志愿服务队"
        assert teams.pending_special_names(session) == []
