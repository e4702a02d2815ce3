"""认领 in the team console (/team): the 需求 tab lists published needs in the team's area, its
service fields first; 认领 claims through the same service as chat and leads to the new activity
(a draft made from the need), which the admin publishes; a need another team took is refused
with who took it; an admin acts only for the teams they manage."""

from __future__ import annotations

import pytest
from flask import Flask
from sqlalchemy import select

from config import Settings
from infra.db import Database
from models.activity import DRAFT, RECRUITING, Activity
from models.need import CLAIMED, PUBLISHED
from models.operator import AuditEntry
from sandbox.fake_wechat import TEMPLATE_NEED_PROGRESS, FakeWeChatState
from tests.activity_support import templates
from tests.conftest import base_settings
from tests.needs_claim_support import POSTER, User, need_row, published_need
from tests.team_console_steps import log_in, page_text, submit, team_admin


@pytest.fixture
def settings(migrated: str, fake_wechat_url: str) -> Settings:
    return base_settings(
        migrated,
        wechat_api_base_url=fake_wechat_url,
        need_progress_template_id=TEMPLATE_NEED_PROGRESS,
    )


def test_an_admin_claims_a_need_in_the_team_console_and_publishes_its_activity(
    app: Flask, db: Database, make_user: User, fake_wechat: FakeWeChatState
) -> None:
    other_field = published_need(db, field="农业技术", requester_name="榆中县某村")
    need_no = published_need(db, field="科学普及", requester_name="东岗小学")
    admin = team_admin(app, make_user)
    log_in(admin)
    page = page_text(admin.client, f"/team/t/{admin.team.id}/needs")
    assert need_no in page and other_field in page and "13812345678" not in page
    # The team's own field (科学普及) comes first.
    assert page.index(need_no) < page.index(other_field)

    need_id = need_row(db, need_no).id
    answer = submit(
        admin.client,
        f"/team/t/{admin.team.id}/needs",
        f"/team/t/{admin.team.id}/needs/{need_id}/claim",
    )
    body = answer.get_data(as_text=True)
    assert f"已认领需求 {need_no}" in body and "请核对时间" in body
    need = need_row(db, need_no)
    assert need.status == CLAIMED and need.claimed_team_id == admin.team.id
    assert answer.request.path == f"/team/a/{need.activity_id}"
    with db.Session() as session:
        activity = session.get(Activity, need.activity_id)
        assert activity is not None and activity.status == DRAFT
        assert activity.title == "东岗小学科学普及志愿服务" and activity.capacity == 4
        assert activity.county_code == "620102" and activity.place.startswith("东岗小学")
        entry = session.scalars(
            select(AuditEntry).where(AuditEntry.action == "team_need_claim")
        ).one()
        assert entry.actor == f"队管:{admin.volunteer_no}@{admin.team.team_no}"
    # The poster has not written lately: the need-progress template tells them.
    (told,) = templates(fake_wechat, POSTER)
    assert told["template_id"] == TEMPLATE_NEED_PROGRESS
    assert told["data"]["phrase3"] == "已认领" and told["data"]["character_string2"] == need_no

    # The team's claimed needs show the requester's contact and the activity.
    page = page_text(admin.client, f"/team/t/{admin.team.id}/needs")
    assert "李红梅 13812345678" in page and f"/team/a/{need.activity_id}" in page

    published = submit(
        admin.client,
        f"/team/a/{need.activity_id}",
        f"/team/a/{need.activity_id}/status/{RECRUITING}",
    )
    assert "活动已发布" in published.get_data(as_text=True)
    assert "东岗小学科学普及志愿服务" in make_user().say(f"活动{need.activity_id}")


def test_a_taken_need_and_another_teams_need_are_refused(
    app: Flask, db: Database, make_user: User
) -> None:
    need_no = published_need(db)
    first = team_admin(app, make_user)
    second = team_admin(app, make_user, "甘肃省医学会科技志愿服务队", name="赵管理")
    for admin in (first, second):
        log_in(admin)
    need_id = need_row(db, need_no).id
    claim = f"/team/t/{first.team.id}/needs/{need_id}/claim"
    submit(first.client, f"/team/t/{first.team.id}/needs", claim)
    late = submit(
        second.client,
        f"/team/t/{second.team.id}/needs",
        f"/team/t/{second.team.id}/needs/{need_id}/claim",
    )
    assert "已由「甘肃省农学会科技志愿服务队」认领" in late.get_data(as_text=True)
    assert late.request.path == f"/team/t/{second.team.id}/needs"
    # Another team's page and its claim are not found for this admin.
    assert second.client.get(f"/team/t/{first.team.id}/needs").status_code == 404
    other = published_need(db)
    token_page = f"/team/t/{second.team.id}/needs"
    answer = submit(
        second.client, token_page, f"/team/t/{first.team.id}/needs/{need_row(db, other).id}/claim"
    )
    assert answer.status_code == 404
    assert need_row(db, other).status == PUBLISHED
    with db.Session() as session:
        assert len(session.scalars(select(Activity)).all()) == 1
