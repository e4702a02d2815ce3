"""Issue 12, rule 5: a special name (「在省科协指导下命名」) is decided by province operators
only, in the console or with `flask teams name-approve|name-reject`. A refusal takes a reason,
the team's admins are told it in chat, and both decisions are written to the audit log."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from infra.db import Database
from models.operator import AuditEntry
from models.team import Team
from sandbox.fake_wechat import FakeWeChatState
from services import operators, teams
from tests.test_console_support import (
    add_operator,
    csrf_token,
    login,
    province_client,  # noqa: F401  (fixture)
)
from tests.test_team_support import (
    SOCIETY_TEAM,
    TEMPLATE_ID,
    add_committee,
    add_review_template,
    add_team,
    add_volunteer,
    invoke,
    led_team,
    seed_root,
    team_by_name,
    texts,
)
from tests.wechat_user import WeChatUser

SPECIAL = "陇原农技先锋队"


def name_audits(db: Database) -> list[AuditEntry]:
    with db.Session() as session:
        return list(
            session.scalars(
                select(AuditEntry)
                .where(AuditEntry.action == "team_special_name")
                .order_by(AuditEntry.id)
            )
        )


def team_with_two_admins(
    app: Flask, db: Database, captain: WeChatUser, make_user: Callable[..., WeChatUser]
) -> tuple[Team, WeChatUser]:
    """A society team whose registrant asked for SPECIAL, and a second admin."""
    seed_root(db)
    team, _ = led_team(app, db, captain, "王队长")
    second = make_user()
    number = add_volunteer(app, second.openid, name="赵管理")
    assert "设为" in captain.say(f"添加管理员 {number}")
    assert "已提交省科协审核" in captain.say(f"申请特殊命名 {SPECIAL}")
    return team, second


def test_refusing_a_special_name_takes_a_reason_tells_the_admins_and_is_audited(
    app: Flask,
    db: Database,
    wechat_user: WeChatUser,
    make_user: Callable[..., WeChatUser],
    fake_wechat: FakeWeChatState,
    province_client: Any,  # noqa: F811
) -> None:
    team, second = team_with_two_admins(app, db, wechat_user, make_user)
    page = province_client.get("/console/teams").get_data(as_text=True)
    assert f'action="/console/teams/{team.id}/name/reject"' in page
    assert "不同意的原因（告知队伍管理员）" in page
    token = csrf_token(province_client, "/console/teams")
    bare = province_client.post(
        f"/console/teams/{team.id}/name/reject",
        data={"csrf_token": token, "reason": "  "},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert "不同意特殊命名需要填写原因" in bare
    with db.Session() as session:
        assert teams.get(session, team.id).requested_name == SPECIAL  # still waiting
    assert name_audits(db) == []

    done = province_client.post(
        f"/console/teams/{team.id}/name/reject",
        data={"csrf_token": token, "reason": "名称未体现科技志愿服务"},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert f"特殊命名未通过（名称未体现科技志愿服务）：{SPECIAL}" in done
    assert "已通知队伍管理员 2 人" in done
    assert "特殊命名改名待审核" not in done
    kept = team_by_name(db, SOCIETY_TEAM)
    assert kept is not None and kept.id == team.id and kept.requested_name is None
    assert team_by_name(db, SPECIAL) is None
    for admin in (wechat_user.openid, second.openid):
        told = texts(fake_wechat, admin)[-1]
        assert f"申请的特殊命名「{SPECIAL}」未通过省科协审核" in told
        assert "原因：名称未体现科技志愿服务" in told and f"继续使用「{SOCIETY_TEAM}」" in told
    [entry] = name_audits(db)
    assert entry.actor == "sheng"
    assert (entry.target_type, entry.target_id) == ("teams", str(team.id))
    assert entry.summary == f"特殊命名未通过：{SPECIAL}（名称未体现科技志愿服务）"
    assert entry.detail == {
        "requested": SPECIAL,
        "approved": False,
        "reason": "名称未体现科技志愿服务",
    }
    # The admins may ask again, as the message says.
    assert "已提交省科协审核" in wechat_user.say("申请特殊命名 陇原农技服务先锋队")


def test_approving_a_special_name_renames_the_sub_teams_tells_every_admin_and_is_audited(
    app: Flask,
    db: Database,
    wechat_user: WeChatUser,
    make_user: Callable[..., WeChatUser],
    fake_wechat: FakeWeChatState,
    province_client: Any,  # noqa: F811
) -> None:
    team, second = team_with_two_admins(app, db, wechat_user, make_user)
    branch_admin = make_user()
    branch = add_committee(db, team, registrant=branch_admin.openid)
    token = csrf_token(province_client, "/console/teams")
    done = province_client.post(
        f"/console/teams/{team.id}/name/approve",
        data={"csrf_token": token},
        follow_redirects=True,
    ).get_data(as_text=True)
    assert f"特殊命名通过：{SPECIAL}" in done
    assert "已通知队伍管理员 2 人，随之改名的下级队伍管理员 1 人" in done
    with db.Session() as session:
        assert teams.get(session, team.id).name == SPECIAL
        assert teams.get(session, team.id).needs_guidance
        assert teams.get(session, branch.id).name == f"{SPECIAL}植物保护专委会支队"
    for admin in (wechat_user.openid, second.openid):
        assert f"队伍名称已改为「{SPECIAL}」" in texts(fake_wechat, admin)[-1]
    assert (
        f"已随上级队伍改名为「{SPECIAL}植物保护专委会支队」"
        in (texts(fake_wechat, branch_admin.openid)[-1])
    )
    entries = name_audits(db)
    assert [e.summary for e in entries] == [f"特殊命名通过：{SPECIAL}"]
    assert entries[0].detail == {"requested": SPECIAL, "approved": True, "reason": None}
    with db.Session() as session:
        renames = session.scalars(
            select(AuditEntry.summary).where(AuditEntry.action == "team_rename")
        ).all()
    assert f"队伍改名：{SOCIETY_TEAM} → {SPECIAL}" in renames


def test_the_province_decides_special_names_with_the_cli(
    runner: Any,
    app: Flask,
    db: Database,
    wechat_user: WeChatUser,
    make_user: Callable[..., WeChatUser],
    fake_wechat: FakeWeChatState,
) -> None:
    team, second = team_with_two_admins(app, db, wechat_user, make_user)
    listed = invoke(runner, "names")
    assert listed.exit_code == 0, listed.output
    assert f"{SOCIETY_TEAM}\t→ {SPECIAL}" in listed.output
    assert "1 special names pending" in listed.output
    no_reason = invoke(runner, "name-reject", team.team_no)
    assert no_reason.exit_code == 2 and "--reason" in no_reason.output
    blank = invoke(runner, "name-reject", team.team_no, "--reason", " ")
    assert blank.exit_code == 1 and "需要填写原因" in blank.output

    refused = invoke(runner, "name-reject", team.team_no, "--reason", "与已有品牌重名")
    assert refused.exit_code == 0, refused.output
    assert "special name refused (与已有品牌重名)" in refused.output
    assert refused.output.count(": text") == 2
    assert "原因：与已有品牌重名" in texts(fake_wechat, second.openid)[-1]
    [entry] = name_audits(db)
    assert entry.actor.startswith("cli") and entry.detail["reason"] == "与已有品牌重名"
    again = invoke(runner, "name-reject", team.team_no, "--reason", "重复")
    assert again.exit_code == 1 and "没有待审核的改名申请" in again.output

    assert "已提交省科协审核" in wechat_user.say("申请特殊命名 陇原农技服务先锋队")
    approved = invoke(runner, "name-approve", team.team_no)
    assert approved.exit_code == 0, approved.output
    assert team_by_name(db, "陇原农技服务先锋队") is not None
    assert [e.detail["approved"] for e in name_audits(db)] == [False, True]
    assert "0 special names pending" in invoke(runner, "names").output


def test_a_refusal_outside_the_chat_window_goes_out_as_a_template(
    runner: Any,
    app: Flask,
    db: Database,
    wechat_user: WeChatUser,
    make_user: Callable[..., WeChatUser],
    fake_wechat: FakeWeChatState,
) -> None:
    team, second = team_with_two_admins(app, db, wechat_user, make_user)
    add_review_template(fake_wechat)
    fake_wechat.fail("/cgi-bin/message/custom/send", 45015, times=2)
    result = invoke(
        runner, "name-reject", team.team_no, "--reason", "名称过长", "--template-id", TEMPLATE_ID
    )
    assert result.exit_code == 0, result.output
    assert result.output.count(": template") == 2
    for admin in (wechat_user.openid, second.openid):
        notice = fake_wechat.messages(admin)[-1]
        assert notice["type"] == "template"
        assert (notice["data"]["phrase2"], notice["data"]["thing4"]) == ("改名未通过", "名称过长")


def test_operators_below_the_province_cannot_decide_special_names(
    app: Flask, db: Database, wechat_user: WeChatUser, make_user: Callable[..., WeChatUser]
) -> None:
    seed_root(db)
    add_volunteer(app, wechat_user.openid)
    team = add_team(
        db,
        "兰州大学科技志愿服务队",
        kind="unit",
        prefecture_code="620100",
        registrant=wechat_user.openid,
    )
    assert "已提交省科协审核" in wechat_user.say(f"申请特殊命名 {SPECIAL}")
    add_operator(db, "lanzhou", "region:620100")
    client = app.test_client()
    assert login(client, "lanzhou").status_code == 302
    page = client.get("/console/teams").get_data(as_text=True)
    assert "特殊命名改名待审核" not in page
    token = csrf_token(client, "/console/teams")
    for action, data in (("approve", {}), ("reject", {"reason": "不同意"})):
        answer = client.post(
            f"/console/teams/{team.id}/name/{action}",
            data={"csrf_token": token, **data},
            follow_redirects=True,
        ).get_data(as_text=True)
        assert "只能由省科协审核" in answer
    with db.Session.begin() as session:
        with pytest.raises(teams.TeamError, match="只能由省科协审核"):
            teams.decide_special_name(
                session,
                team.id,
                approve_it=False,
                reason="不同意",
                by=operators.Scope.for_region("620100"),
            )
        assert teams.get(session, team.id).requested_name == SPECIAL
    assert name_audits(db) == []
