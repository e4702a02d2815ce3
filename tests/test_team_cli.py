"""flask --app app teams seed|pending|approve|reject|qrcode, with the registrant's notice seen by
the fake WeChat API server."""

from __future__ import annotations

from typing import Any

from flask import Flask

from infra.db import Database
from sandbox.fake_wechat import FakeWeChatState
from services import teams
from tests.test_team_support import (
    TEMPLATE_ID,
    add_review_template,
    add_team,
    add_volunteer,
    invoke,
    seed_root,
    texts,
)
from tests.wechat_user import WeChatUser

REGISTRANT = "oRegistrantCli000000000001"


def test_seed_is_idempotent(runner: Any, db: Database) -> None:
    first = invoke(runner, "seed")
    second = invoke(runner, "seed")
    assert first.exit_code == 0 and second.exit_code == 0
    assert "甘肃省科技志愿服务总队" in first.output
    assert first.output == second.output
    with db.Session() as session:
        assert len(teams.hierarchy(session)) == 1
        root = teams.root(session)
        assert root is not None
        assert (root.status, root.level) == ("approved", "总队")


def test_pending_lists_waiting_teams(runner: Any, db: Database) -> None:
    seed_root(db)
    add_team(db, "甘肃省农学会科技志愿服务队", approved=False)
    add_team(db, "陇原银发科技服务团", kind="other", approved=False)
    add_team(db, "兰州大学科技志愿服务队", kind="unit")
    result = invoke(runner, "pending")
    assert result.exit_code == 0
    assert "甘肃省农学会科技志愿服务队" in result.output
    assert "陇原银发科技服务团" in result.output and "需指导命名" in result.output
    assert "兰州大学" not in result.output
    assert "2 pending" in result.output


def test_approve_notifies_the_registrant(
    runner: Any, db: Database, fake_wechat: FakeWeChatState
) -> None:
    seed_root(db)
    team = add_team(db, "甘肃省农学会科技志愿服务队", approved=False, registrant=REGISTRANT)
    result = invoke(runner, "approve", team.team_no)
    assert result.exit_code == 0, result.output
    assert "已通过" in result.output
    assert "registrant notified: text" in result.output
    [notice] = texts(fake_wechat, REGISTRANT)
    assert "「甘肃省农学会科技志愿服务队」已通过审核" in notice
    assert team.invite_code in notice
    with db.Session() as session:
        approved = teams.get(session, team.id)
        assert approved.status == "approved" and approved.approved_at is not None


def test_approve_by_name_twice_says_so(runner: Any, db: Database) -> None:
    add_team(db, "甘肃省农学会科技志愿服务队", approved=False)
    assert invoke(runner, "approve", "甘肃省农学会科技志愿服务队").exit_code == 0
    again = invoke(runner, "approve", "甘肃省农学会科技志愿服务队")
    assert again.exit_code == 1
    assert "已经通过审核" in again.output


def test_reject_needs_a_reason_and_sends_it(
    runner: Any, db: Database, fake_wechat: FakeWeChatState
) -> None:
    team = add_team(db, "陇原银发科技服务团", kind="other", approved=False, registrant=REGISTRANT)
    missing = invoke(runner, "reject", str(team.id))
    assert missing.exit_code != 0 and "--reason" in missing.output
    result = invoke(
        runner, "reject", str(team.id), "--reason", "请按「**单位科技志愿服务队」规则命名"
    )
    assert result.exit_code == 0, result.output
    assert "已驳回" in result.output
    [notice] = texts(fake_wechat, REGISTRANT)
    assert "未通过审核" in notice
    assert "原因：请按「**单位科技志愿服务队」规则命名" in notice
    assert "组织 → 注册" in notice


def test_unknown_team(runner: Any, db: Database) -> None:
    result = invoke(runner, "approve", "KT00000000")
    assert result.exit_code == 1
    assert "no team" in result.output


def test_template_fallback_outside_the_customer_service_window(
    runner: Any, db: Database, fake_wechat: FakeWeChatState
) -> None:
    add_review_template(fake_wechat)
    fake_wechat.fail("/cgi-bin/message/custom/send", 45015)
    team = add_team(db, "甘肃省农学会科技志愿服务队", approved=False, registrant=REGISTRANT)
    result = invoke(runner, "approve", team.team_no, "--template-id", TEMPLATE_ID)
    assert "registrant notified: template" in result.output
    [notice] = fake_wechat.messages(REGISTRANT)
    assert notice["type"] == "template"
    assert notice["data"]["phrase2"] == "审核通过"
    assert notice["data"]["thing1"].startswith("甘肃省农学会")


def test_no_fallback_configured_is_reported_not_raised(
    runner: Any, db: Database, fake_wechat: FakeWeChatState
) -> None:
    fake_wechat.mark_unsubscribed(REGISTRANT)
    team = add_team(db, "甘肃省农学会科技志愿服务队", approved=False, registrant=REGISTRANT)
    result = invoke(runner, "approve", team.team_no)
    assert result.exit_code == 0
    assert "registrant notified: failed" in result.output
    with db.Session() as session:
        assert teams.get(session, team.id).status == "approved"


def test_child_waits_for_its_parent(runner: Any, db: Database) -> None:
    society = add_team(db, "甘肃省农学会科技志愿服务队")
    branch = add_team(
        db,
        "甘肃省农学会科技志愿服务队植保专委会支队",
        kind="committee",
        parent_id=society.id,
        approved=False,
    )
    with db.Session.begin() as session:
        teams.disable(session, society.id)  # (a rename no longer sends a team back to review)
    result = invoke(runner, "approve", branch.team_no)
    assert result.exit_code == 1
    assert "上级队伍「甘肃省农学会科技志愿服务队」尚未通过审核" in result.output


def test_qrcode_creates_a_permanent_scene(
    runner: Any, db: Database, fake_wechat: FakeWeChatState
) -> None:
    team = add_team(db, "甘肃省农学会科技志愿服务队")
    result = invoke(runner, "qrcode", team.team_no)
    assert result.exit_code == 0, result.output
    assert f"team:{team.team_no}" in result.output
    assert "/cgi-bin/showqrcode?ticket=" in result.output
    [call] = fake_wechat.calls_to("/cgi-bin/qrcode/create")
    body = call.json
    assert body["action_name"] == "QR_LIMIT_STR_SCENE"
    assert body["action_info"]["scene"]["scene_str"] == f"team:{team.team_no}"


def test_registered_in_chat_then_approved_by_cli(
    runner: Any, app: Flask, db: Database, wechat_user: WeChatUser, fake_wechat: FakeWeChatState
) -> None:
    seed_root(db)
    add_volunteer(app, wechat_user.openid)
    wechat_user.click("TEAM_REGISTER")
    wechat_user.say("3")
    wechat_user.say("定西")
    for answer in ("定西市科协", "1", "同上", "定西市科协组建的服务队", "2"):
        wechat_user.say(answer)
    assert "提交成功" in wechat_user.say("确认")
    pending = invoke(runner, "pending")
    assert "定西市科技志愿服务队" in pending.output
    invoke(runner, "approve", "定西市科技志愿服务队")
    [notice] = texts(fake_wechat, wechat_user.openid)
    assert "「定西市科技志愿服务队」已通过审核" in notice
