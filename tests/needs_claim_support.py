"""Steps shared by the 认领 and feedback tests: a published need, a team admin, the claim in chat."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta
from typing import Any

from flask import Flask

from domain import clock
from infra.db import Database
from models.need import Need
from models.team import Team
from sandbox.fake_wechat import FakeWeChatState
from services.needs import NeedDraft, find_need, post_need, publish_need
from services.operators import Scope
from tests.test_team_support import add_team, add_volunteer, seed_root
from tests.wechat_user import WeChatUser

User = Callable[..., WeChatUser]
POSTER = "oNeedPoster00000000000000009"


def draft(**change: Any) -> NeedDraft:
    start = clock.beijing_date() + timedelta(days=5)
    base = NeedDraft(
        requester_name="城关区东岗社区",
        requester_kind="社区",
        prefecture_code="620100",
        county_code="620102",
        field="应急安全",
        description="给社区老人讲防电信诈骗和用电安全",
        starts_on=start,
        ends_on=start + timedelta(days=2),
        people_needed=4,
        contact_name="李红梅",
        contact_phone="13812345678",
    )
    return replace(base, **change)


def published_need(db: Database, poster: str = POSTER, **change: Any) -> str:
    """A need posted by `poster` and published by a province operator; its number."""
    with db.Session.begin() as session:
        need = post_need(session, poster, draft(**change))
        publish_need(need, Scope(), "sheng")
        return need.need_no


def need_row(db: Database, need_no: str) -> Need:
    with db.Session() as session:
        need = find_need(session, need_no)
        assert need is not None
        return need


def admin_of_team(
    app: Flask, make_user: User, team_name: str, **team: Any
) -> tuple[WeChatUser, Team]:
    """A registered volunteer who registered (and so administers) an approved team."""
    db = app.extensions["services"].db
    seed_root(db)
    user = make_user()
    add_volunteer(app, user.openid, name="王管理")
    return user, add_team(db, team_name, registrant=user.openid, **team)


def claim_in_chat(admin: WeChatUser, need_no: str) -> str:
    """「认领 XQ…」 up to the summary: the place and the contact are the questions left."""
    start = admin.say(f"认领 {need_no}")
    assert "活动地点" in start, start
    assert "联系人和电话" in admin.say("东岗街道社区服务中心二楼")
    summary = admin.say("王管理 0931-8812345")
    assert "确认后认领需求并发布活动" in summary, summary
    return summary


def texts_to(fake_wechat: FakeWeChatState, openid: str) -> list[str]:
    return [str(m.get("content", "")) for m in fake_wechat.messages(openid)]
