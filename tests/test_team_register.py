"""组织 → 注册: one transcript per kind of team and naming rule, and every refusal."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from flask import Flask

from infra.db import Database
from models.team import TeamAdmin
from services import teams
from tests.test_team_support import (
    add_team,
    add_volunteer,
    fill_details,
    seed_root,
    team_by_name,
)
from tests.wechat_user import WeChatUser

SOCIETY_TEAM = "甘肃省农学会科技志愿服务队"


@pytest.fixture(autouse=True)
def registrant_is_a_volunteer(app: Flask, wechat_user: WeChatUser) -> None:
    """Only registered volunteers register teams (see test_team_rules for the refusal)."""
    add_volunteer(app, wechat_user.openid)


def start(user: WeChatUser, kind: str) -> str:
    first = user.click("TEAM_REGISTER")
    assert "总队—队—支队—分队" in first
    assert "**学会（协会、研究会）科技志愿服务队" in first
    return user.say(kind)


def test_society_team_happy_path(wechat_user: WeChatUser, db: Database) -> None:
    root_team = seed_root(db)
    # 省级学会: no region question, the name comes next (the rule and an example).
    assert "甘肃省农学会科技志愿服务队" in start(wechat_user, "1")
    banner = wechat_user.say("甘肃省农学会")
    assert f"队伍全称：「{SOCIETY_TEAM}」，该名称可以注册" in banner
    summary = fill_details(wechat_user)
    assert "请核对队伍注册信息" in summary
    assert f"队伍名称：{SOCIETY_TEAM}" in summary
    assert "注册单位类型：省级学会、协会、研究会" in summary
    assert "所在市州" not in summary  # a 省级学会 is the province's
    assert "队长手机号：138****5678" in summary
    assert "服务领域：科学普及、农业技术" in summary
    done = wechat_user.say("确认")
    assert "提交成功" in done and "已提交审核" in done
    assert "您已成为本队管理员" in done
    assert "组织 → 我的队伍" in done

    with db.Session() as session:
        team = teams.find(session, SOCIETY_TEAM)
        assert team is not None
        assert done.count(team.team_no) == 1
        assert (team.status, team.level, team.kind) == ("pending", "队", "society")
        assert team.parent_id == root_team.id
        assert team.prefecture_code == "620000"
        assert team.captain_phone == "13812345678"
        assert team.contact_phone == "13812345678"  # 同上
        assert team.service_areas == ["科学普及", "农业技术"]
        assert team.needs_guidance is False
        assert team.registrant_openid == wechat_user.openid
        admins = session.query(TeamAdmin).filter_by(team_id=team.id).all()
        assert [a.openid for a in admins] == [wechat_user.openid]


def test_society_name_must_end_with_society(wechat_user: WeChatUser, db: Database) -> None:
    start(wechat_user, "1")
    hint = wechat_user.say("兰州大学")
    assert "以「学会」「协会」或「研究会」结尾" in hint
    assert "队伍全称" in wechat_user.say("甘肃省计算机学会")


def test_a_taken_name_is_refused_even_with_other_brackets_and_spaces(
    wechat_user: WeChatUser, db: Database
) -> None:
    add_team(db, "甘肃省科技馆（科普）科技志愿服务队", kind="unit")
    start(wechat_user, "5")
    wechat_user.say("1")
    hint = wechat_user.say("甘肃省科技馆 (科普)")
    assert "「甘肃省科技馆（科普）科技志愿服务队」已被注册" in hint
    assert "队伍全称：「甘肃省科技馆科技志愿服务队」" in wechat_user.say("甘肃省科技馆")


def test_unit_team_strips_the_association_word(wechat_user: WeChatUser, db: Database) -> None:
    start(wechat_user, "5")
    wechat_user.say("兰州市")
    assert "「兰州大学科技志愿服务队」" in wechat_user.say("兰州大学科协")
    fill_details(wechat_user)
    assert "提交成功" in wechat_user.say("确认")
    team = team_by_name(db, "兰州大学科技志愿服务队")
    assert team is not None and team.prefecture_code == "620100"


def test_committee_branch_under_its_society_team(wechat_user: WeChatUser, db: Database) -> None:
    seed_root(db)
    society = add_team(db, SOCIETY_TEAM)
    add_team(db, "甘肃省作物学会科技志愿服务队")
    assert "学会名称" in start(wechat_user, "2")
    choices = wechat_user.say("农学")
    assert f"1. {SOCIETY_TEAM}" in choices
    assert "作物学会" not in choices
    assert f"「{SOCIETY_TEAM}**专委会支队」" in wechat_user.say("1")  # no region question
    name = f"{SOCIETY_TEAM}植物保护专委会支队"
    assert f"队伍全称：「{name}」" in wechat_user.say("植物保护专业委员会")
    summary = fill_details(wechat_user)
    assert f"上级队伍：{SOCIETY_TEAM}" in summary
    assert "提交成功" in wechat_user.say("确认")
    team = team_by_name(db, name)
    assert team is not None
    assert (team.level, team.parent_id, team.kind) == ("支队", society.id, "committee")


def test_committee_without_a_registered_society_team(wechat_user: WeChatUser, db: Database) -> None:
    add_team(db, "甘肃省林学会科技志愿服务队", approved=False)  # registered, not yet approved
    start(wechat_user, "2")
    hint = wechat_user.say("林学会")
    assert "没有找到名称含「林学会」、已通过审核的学会科技志愿服务队" in hint
    assert "先注册「**学会科技志愿服务队」" in hint
    assert "已取消" in wechat_user.say("取消")


def test_squad_under_an_existing_branch(wechat_user: WeChatUser, db: Database) -> None:
    society = add_team(db, SOCIETY_TEAM)
    branch_name = f"{SOCIETY_TEAM}植物保护专委会支队"
    branch = add_team(db, branch_name, kind="committee", parent_id=society.id)
    assert "支队" in start(wechat_user, "7")
    assert branch_name in wechat_user.say("植物保护")
    wechat_user.say("1")
    assert f"「{branch_name}**分队」" in wechat_user.say("天水市")
    assert f"「{branch_name}天水分队」" in wechat_user.say("天水")
    fill_details(wechat_user)
    wechat_user.say("确认")
    team = team_by_name(db, branch_name + "天水分队")
    assert team is not None
    assert (team.level, team.parent_id) == ("分队", branch.id)


def test_squad_needs_a_registered_branch(wechat_user: WeChatUser, db: Database) -> None:
    add_team(db, SOCIETY_TEAM)  # a 队, not a 支队
    start(wechat_user, "7")
    assert "没有找到名称含「农学会」、已通过审核的支队" in wechat_user.say("农学会")


def test_prefecture_team_named_from_the_list(wechat_user: WeChatUser, db: Database) -> None:
    root_team = seed_root(db)
    prompt = start(wechat_user, "3")
    assert "14. 甘南藏族自治州" in prompt and "全省" not in prompt
    assert "队伍全称：「天水市科技志愿服务队」" in wechat_user.say("天水")
    summary = fill_details(wechat_user)
    assert "所在市州：天水市（队伍名称：天水市科技志愿服务队）" in summary
    wechat_user.say("确认")
    team = team_by_name(db, "天水市科技志愿服务队")
    assert team is not None
    assert (team.kind, team.prefecture_code, team.parent_id) == (
        "prefecture",
        "620500",
        root_team.id,
    )


def test_second_prefecture_team_is_refused(wechat_user: WeChatUser, db: Database) -> None:
    add_team(db, "天水市科技志愿服务队", kind="prefecture", prefecture_code="620500")
    start(wechat_user, "3")
    assert "「天水市科技志愿服务队」已被注册" in wechat_user.say("天水市")


def test_county_team_under_the_registered_prefecture_team(
    wechat_user: WeChatUser, db: Database
) -> None:
    city = add_team(db, "天水市科技志愿服务队", kind="prefecture", prefecture_code="620500")
    assert "县（区）所属的市（州）" in start(wechat_user, "4")
    assert "秦安县" in wechat_user.say("天水")
    wrong = wechat_user.say("城关区")
    assert "「城关区」属于兰州市，不在天水市" in wrong
    assert "秦安县" in wrong  # the right list again
    assert "队伍全称：「秦安县科技志愿服务队」" in wechat_user.say("秦安")
    summary = fill_details(wechat_user)
    assert "所在县区：秦安县（队伍名称：秦安县科技志愿服务队）" in summary
    wechat_user.say("确认")
    team = team_by_name(db, "秦安县科技志愿服务队")
    assert team is not None
    assert (team.county_code, team.parent_id) == ("620522", city.id)


def test_county_team_without_a_prefecture_team_hangs_under_the_root(
    wechat_user: WeChatUser, db: Database
) -> None:
    root_team = seed_root(db)
    start(wechat_user, "4")
    wechat_user.say("兰州")
    wechat_user.say("城关区")
    fill_details(wechat_user)
    wechat_user.say("确认")
    team = team_by_name(db, "城关区科技志愿服务队")
    assert team is not None and team.parent_id == root_team.id


def test_jiayuguan_has_no_counties(wechat_user: WeChatUser, db: Database) -> None:
    start(wechat_user, "4")
    hint = wechat_user.say("嘉峪关市")
    assert "嘉峪关市不设县（区）" in hint
    assert "「市（州）科协」" in hint
    assert "注册单位的类型" in wechat_user.say("返回")
    assert "**市（州）科技志愿服务队" in wechat_user.say("3")
    assert "队伍全称：「嘉峪关市科技志愿服务队」" in wechat_user.say("嘉峪关")


def test_other_kind_takes_a_free_name_for_guidance(wechat_user: WeChatUser, db: Database) -> None:
    start(wechat_user, "8")
    assert "省科协指导" in wechat_user.say("2")
    assert "队伍全称：「陇原银发科技服务团」" in wechat_user.say("陇原银发科技服务团")
    fill_details(wechat_user)
    done = wechat_user.say("确认")
    assert "在省科协指导下确定名称" in done
    team = team_by_name(db, "陇原银发科技服务团")
    assert team is not None and team.needs_guidance is True


def test_back_and_edit_kind_asks_the_naming_again(wechat_user: WeChatUser, db: Database) -> None:
    start(wechat_user, "1")
    wechat_user.say("甘肃省农学会")
    back = wechat_user.say("返回")
    assert "之前的回答：甘肃省农学会科技志愿服务队" in back
    wechat_user.say("甘肃省植物保护学会")
    summary = fill_details(wechat_user)
    assert "甘肃省植物保护学会科技志愿服务队" in summary
    # 修改 1 (the kind) clears the name and the region, which are asked again.
    assert "注册单位的类型" in wechat_user.say("修改 1")
    assert "兰州市" in wechat_user.say("5")
    assert "单位名称" in wechat_user.say("兰州市")
    summary = wechat_user.say("兰州大学")  # the other answers are kept: back to the summary
    assert "队伍名称：兰州大学科技志愿服务队" in summary
    assert "所在市州：兰州市" in summary
    assert "依托单位：甘肃省农学会" in summary
    edit = wechat_user.say("修改 3")
    assert "当前：兰州大学科技志愿服务队" in edit
    assert "单位名称" in edit
    summary = wechat_user.say("兰州理工大学")
    assert "队伍名称：兰州理工大学科技志愿服务队" in summary


def test_name_taken_meanwhile_asks_for_the_name_again(
    wechat_user: WeChatUser, db: Database
) -> None:
    start(wechat_user, "1")
    wechat_user.say("甘肃省农学会")
    fill_details(wechat_user)
    add_team(db, SOCIETY_TEAM, registrant="oSomeoneFaster000000000001", approved=False)
    again = wechat_user.say("确认")
    assert f"「{SOCIETY_TEAM}」已被注册" in again
    assert "学会（协会、研究会）的全称" in again
    summary = wechat_user.say("甘肃省农业科学学会")
    assert "甘肃省农业科学学会科技志愿服务队" in summary and "请核对" in summary
    assert "提交成功" in wechat_user.say("确认")


def test_bad_answers_get_hints_and_lose_nothing(wechat_user: WeChatUser, db: Database) -> None:
    start(wechat_user, "1")
    assert "依托单位" in wechat_user.say("甘肃省农学会")
    assert "表情" in wechat_user.say("甘肃省农学会🌾")
    assert "担任什么职务" in wechat_user.say("甘肃省农学会")
    assert "真实姓名" in wechat_user.say("2")
    assert "汉字" in wechat_user.say("Tom")
    assert "手机号" in wechat_user.say("张三")
    assert "11位手机号码" in wechat_user.say("12345")
    assert "联系电话" in wechat_user.say("13812345678")
    assert "座机号码" in wechat_user.say("8812345")
    assert "介绍队伍" in wechat_user.say("(0931)8812345")
    assert "队伍简介最多200个字" in wechat_user.say("很" * 201)
    assert "服务领域" in wechat_user.say("科普讲座")
    summary = wechat_user.say("农技 科普")
    assert "联系电话：0931-8812345" in summary
    assert "服务领域：科学普及、农业技术" in summary


def test_cancel_saves_nothing(wechat_user: WeChatUser, db: Database) -> None:
    start(wechat_user, "1")
    wechat_user.say("甘肃省农学会")
    assert "已取消「服务队注册」" in wechat_user.say("取消")
    assert team_by_name(db, SOCIETY_TEAM) is None


def test_two_flows_do_not_mix(
    app: Flask, make_user: Callable[..., WeChatUser], db: Database
) -> None:
    a, b = make_user(), make_user()
    add_volunteer(app, a.openid)
    add_volunteer(app, b.openid)
    start(a, "1")
    start(b, "5")
    b.say("1")
    assert "甘肃省农学会科技志愿服务队" in a.say("甘肃省农学会")
    assert "甘肃省科技馆科技志愿服务队" in b.say("甘肃省科技馆")
