"""The 队长's own account: a registrant who names another captain passes on a code, the captain
confirms in chat, and the team records them as its 队长 (an admin, not one of the 管理员)."""

from __future__ import annotations

import re
from collections.abc import Callable

from flask import Flask

from infra.db import Database
from models.team import TeamAdmin
from sandbox.fake_wechat import FakeWeChatState
from services import teams, volunteers
from tests.team_console_steps import link_from_chat, page_text
from tests.test_team_support import add_team, add_volunteer, seed_root, team_by_name, texts
from tests.wechat_user import WeChatUser

MakeUser = Callable[..., WeChatUser]
SOCIETY_TEAM = "甘肃省农学会科技志愿服务队"


def register_for(user: WeChatUser, captain: str, phone: str) -> str:
    """组织 → 注册 a 省级学会 team as an admin whose captain is `captain`; the answer."""
    user.click("TEAM_REGISTER")
    user.say("1")
    user.say("甘肃省农学会")
    assert "担任什么职务" in user.say("甘肃省农学会")
    assert "队长的真实姓名" in user.say("2")
    user.say(captain)
    user.say(phone)
    user.say("0931-8812345")
    user.say("面向农村开展农技培训和科普讲座")
    user.say("1")
    return user.say("确认")


def code_in(text: str) -> str:
    found = re.search(r"确认队长 ([A-Z0-9]{6})", text)
    assert found, text
    return found.group(1)


def volunteer_id(db: Database, openid: str) -> int:
    with db.Session() as session:
        volunteer = volunteers.find_by_openid(session, openid)
        assert volunteer is not None
        return volunteer.id


def test_the_named_captain_confirms_in_chat_and_becomes_the_teams_captain(
    app: Flask,
    db: Database,
    wechat_user: WeChatUser,
    make_user: MakeUser,
    fake_wechat: FakeWeChatState,
) -> None:
    seed_root(db)
    add_volunteer(app, wechat_user.openid, name="周八", phone="13600001111")
    done = register_for(wechat_user, "李四", "13900002222")
    assert "您已成为本队管理员" in done and "转告队长李四" in done
    code = code_in(done)
    team = team_by_name(db, SOCIETY_TEAM)
    assert team is not None and team.captain_code == code and team.captain_volunteer_id is None
    card = wechat_user.say("我的队伍")
    assert "队长：李四 139****2222（待本人确认，回复「队长确认码」查看）" in card
    assert f"确认队长 {code}" in wechat_user.say("队长确认码")

    captain = make_user()
    # Not yet a volunteer: told to register first.
    assert "请点击「志愿者 → 注册」" in captain.say(f"确认队长 {code}")
    captain_no = add_volunteer(app, captain.openid, name="李四", phone="13700003333")
    assert "没有找到队长确认码「ZZZZZZ」" in captain.say("确认队长 zzzzzz")
    # Someone else who learnt the code is not the captain the team was registered with.
    stranger = make_user()
    add_volunteer(app, stranger.openid, name="王五")
    assert "与您的实名信息（王五）不一致" in stranger.say(f"确认队长 {code}")

    answer = captain.say(f"确认队长 {code.lower()}")
    assert f"您已确认担任「{SOCIETY_TEAM}」的队长" in answer
    assert f"李四（{captain_no}）已确认担任「{SOCIETY_TEAM}」的队长。" in texts(
        fake_wechat, wechat_user.openid
    )
    assert "没有找到队长确认码" in stranger.say(f"确认队长 {code}")  # used once
    with db.Session() as session:
        found = teams.get(session, team.id)
        assert found.captain_volunteer_id == volunteer_id(db, captain.openid)
        assert (found.captain_code, found.captain_phone) == (None, "13700003333")
        assert teams.captain_openid(session, found) == captain.openid
        assert teams.is_admin(session, team.id, captain.openid)
        assert teams.counted_admins(session, found) == 1  # the registrant
        assert teams.member_count(session, team.id) == 2
    # The captain manages the team from 我的队伍 and is shown as its 队长.
    card = captain.say("我的队伍")
    assert f"队长：李四（{captain_no}） 137****3333" in card
    assert f"李四（{captain_no}，队长）" in card
    assert "已确认" in wechat_user.say("队长确认码")


def test_a_captain_added_as_an_admin_before_confirming_stops_counting_as_one(
    app: Flask, db: Database, wechat_user: WeChatUser, make_user: MakeUser
) -> None:
    add_volunteer(app, wechat_user.openid, name="周八", phone="13600001111")
    team = add_team(db, SOCIETY_TEAM, registrant=wechat_user.openid)  # captain 李队长
    captain, other = make_user(), make_user()
    captain_no = add_volunteer(app, captain.openid, name="李队长", phone="13900001111")
    other_no = add_volunteer(app, other.openid, name="郑七")
    with db.Session.begin() as session:  # made an admin under the old rule, when nothing
        # recorded the captain's account: a 管理员, over the quota of one
        volunteer = volunteers.find_by_openid(session, captain.openid)
        assert volunteer is not None
        session.add(TeamAdmin(team_id=team.id, openid=captain.openid, volunteer_id=volunteer.id))
        # and a team registered before captain codes existed
        teams.get(session, team.id).captain_code = None
    with db.Session() as session:
        assert teams.counted_admins(session, teams.get(session, team.id)) == 2
    code = code_in(wechat_user.say("队长确认码"))  # drawn now
    assert "您已确认担任" in captain.say(f"确认队长 {code}")
    with db.Session() as session:
        found = teams.get(session, team.id)
        assert teams.captain_openid(session, found) == captain.openid
        assert len(teams.admins(session, team.id)) == 2
        assert teams.counted_admins(session, found) == 1
    # The quota is the 队长 plus one 管理员 (the registrant): full.
    assert "除队长外可设管理员1名，已达上限" in captain.say(f"添加管理员 {other_no}")
    # The 队长 stays an admin: nobody removes them.
    refused = wechat_user.say(f"移除管理员 {captain_no}")
    assert "队长是本队的当然管理员" in refused


def test_the_team_console_shows_the_captain_and_the_code_before_they_confirm(
    app: Flask, db: Database, wechat_user: WeChatUser, make_user: MakeUser
) -> None:
    seed_root(db)
    add_volunteer(app, wechat_user.openid, name="周八", phone="13600001111")
    team = add_team(db, SOCIETY_TEAM, registrant=wechat_user.openid)
    client = app.test_client()
    assert client.get(link_from_chat(wechat_user)).status_code == 302
    page = f"/team/t/{team.id}/members"
    with db.Session() as session:
        code = teams.get(session, team.id).captain_code
    assert code is not None
    text = page_text(client, page)
    assert f"队长：李队长（待本人确认：请将确认码 <strong>{code}</strong> 转告队长" in text
    captain = make_user()
    captain_no = add_volunteer(app, captain.openid, name="李队长", phone="13900001111")
    captain.say(f"确认队长 {code}")
    text = page_text(client, page)
    assert f"队长：李队长（{captain_no}）" in text
    assert "管理员 1/1 名（队长不计）" in text
    row = text[text.index("<h3>李队长") :]
    row = row[: row.index("</li>")]
    assert '<span class="tag ok">队长</span>' in row and "取消管理员" not in row
    # The captain's own console: the same team, under 我的队伍.
    own = app.test_client()
    assert own.get(link_from_chat(captain)).status_code == 302
    assert SOCIETY_TEAM in page_text(own, "/team/")


def test_a_registrant_who_is_the_captain_is_recorded_at_once(
    app: Flask, db: Database, wechat_user: WeChatUser
) -> None:
    add_volunteer(app, wechat_user.openid)  # 张三, 13812345678
    team = add_team(
        db, SOCIETY_TEAM, registrant=wechat_user.openid, captain=("张三", "13812345678")
    )
    with db.Session() as session:
        found = teams.get(session, team.id)
        assert found.captain_volunteer_id == volunteer_id(db, wechat_user.openid)
        assert found.captain_code is None
    assert "队长确认码" not in wechat_user.say("我的队伍")
    assert "已确认" in wechat_user.say("队长确认码")
