"""通知 in the team console: a template message to the team's own members through the notice
pipeline (the same value checks), shown in the operators' notice list; a province operator
switches the right off per team."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import select

from infra.db import Database
from models.notice import Notice
from models.operator import AuditEntry
from sandbox.fake_wechat import FakeWeChatState
from tests.team_console_steps import log_in, page_text, submit, team_admin
from tests.test_console_support import (
    REMINDER_DATA,
    add_operator,
    add_template,
    add_volunteers,
    join_team,
    login,
    notice_queue,  # noqa: F401  (fixture)
    post_form,
)
from tests.wechat_user import WeChatUser
from worker.jobs import run_notice

MakeUser = Callable[..., WeChatUser]


def fields(template_pk: int, data: dict[str, str] | None = None) -> dict[str, str]:
    values = {f"data-{key}": value for key, value in (data or REMINDER_DATA).items()}
    return {"template": str(template_pk), **values}


def test_notice_to_own_members_through_the_pipeline(
    app: Flask,
    db: Database,
    make_user: MakeUser,
    fake_wechat: FakeWeChatState,
    notice_queue: Any,  # noqa: F811
) -> None:
    template = add_template(db)
    admin = team_admin(app, make_user)
    members = add_volunteers(db, 4)
    outsiders = add_volunteers(db, 3)
    join_team(db, admin.team.id, members)
    log_in(admin)
    page = f"/team/t/{admin.team.id}/notices"
    assert "共 5 人" in page_text(admin.client, page)  # the admin is a member too

    too_long = submit(
        admin.client, page, page, fields(template, {**REMINDER_DATA, "thing1": "长" * 30})
    )
    assert "活动名称" in too_long.data.decode() and "20" in too_long.data.decode()
    with db.Session() as session:
        assert session.scalars(select(Notice)).all() == []

    sent = submit(admin.client, page, page, fields(template))
    assert "通知已加入发送队列" in sent.data.decode()
    with db.Session() as session:
        notice = session.scalars(select(Notice)).one()
        assert notice.audience["team_id"] == admin.team.id
        entry = session.scalars(select(AuditEntry).where(AuditEntry.action == "notice_send")).one()
        assert entry.actor == f"队管:{admin.volunteer_no}@{admin.team.team_no}"
    with app.app_context():
        assert run_notice(notice.id) == "done"
    got = Counter({o: len(fake_wechat.messages(o)) for o in members + outsiders})
    assert got == Counter(dict.fromkeys(members, 1))

    # Province operators see it in their notice list.
    add_operator(db, "sheng")
    operator = app.test_client()
    login(operator, "sheng")
    listing = operator.get("/console/notices").get_data(as_text=True)
    assert admin.team.name in listing


def test_a_province_operator_switches_team_notices_off(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    template = add_template(db)
    admin = team_admin(app, make_user)
    add_operator(db, "sheng")
    add_operator(db, "lanzhou", "region:620100")
    operator, regional = app.test_client(), app.test_client()
    login(operator, "sheng")
    login(regional, "lanzhou")
    action = f"/console/teams/{admin.team.id}/team-notices"
    assert post_form(regional, "/console/teams", action, {"allowed": "0"}).status_code == 403
    answer = post_form(operator, "/console/teams", action, {"allowed": "0"})
    assert answer.status_code == 302
    assert "已关闭" in operator.get("/console/teams").get_data(as_text=True)

    log_in(admin)
    page = f"/team/t/{admin.team.id}/notices"
    assert "已关闭本队在后台发送通知的权限" in page_text(admin.client, page)
    refused = submit(admin.client, page, page, fields(template))
    assert "已关闭本队在后台发送通知的权限" in refused.data.decode()
    with db.Session() as session:
        assert session.scalars(select(Notice)).all() == []

    post_form(operator, "/console/teams", action, {"allowed": "1"})
    assert "通知已加入发送队列" in submit(admin.client, page, page, fields(template)).data.decode()
