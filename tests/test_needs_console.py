"""Needs in the console: the operators of a need's region publish it, send it back with a
reason, or merge a duplicate; the poster is told by customer-service message; the public page
/n/<number> shows a published need with the contact masked."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from datetime import date, timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from domain import clock
from infra.db import Database
from models.need import MERGED, PUBLISHED, REJECTED, Need
from sandbox.fake_wechat import FakeWeChatState
from services.needs import NeedDraft, find_need, post_need
from tests.test_console_support import add_operator, login, post_form
from tests.wechat_user import WeChatUser

POSTER = "oNeedPoster00000000000000002"
DRAFT = NeedDraft(
    requester_name="城关区东岗社区",
    requester_kind="社区",
    prefecture_code="620100",
    county_code="620102",
    field="应急安全",
    description="给社区老人讲防电信诈骗",
    starts_on=date(2027, 1, 5),
    ends_on=date(2027, 1, 20),
    people_needed=3,
    contact_name="李红梅",
    contact_phone="13812345678",
)


def operator_client(app: Flask, db: Database, role: str, name: str) -> FlaskClient:
    add_operator(db, name, role)
    client = app.test_client()
    assert login(client, name).status_code == 302
    return client


def post(db: Database, **change: object) -> str:
    with db.Session.begin() as session:
        return post_need(session, POSTER, replace(DRAFT, **change)).need_no  # type: ignore[arg-type]


def need_id(db: Database, need_no: str) -> int:
    with db.Session() as session:
        need = find_need(session, need_no)
        assert need is not None
        return need.id


def texts_to(fake_wechat: FakeWeChatState, openid: str) -> list[str]:
    return [str(m.get("content", "")) for m in fake_wechat.messages(openid)]


def test_review_in_the_region_and_the_poster_is_told(
    app: Flask,
    db: Database,
    fake_wechat: FakeWeChatState,
    make_user: Callable[..., WeChatUser],
) -> None:
    first, second, duplicate = post(db), post(db, requester_name="七里河某校"), post(db)
    other_region = post(db, prefecture_code="620500", county_code="620502")
    lanzhou = operator_client(app, db, "region:620100", "oplanzhou")
    tianshui = operator_client(app, db, "region:620500", "optianshui")

    page = lanzhou.get("/console/needs").get_data(as_text=True)
    assert first in page and second in page and other_region not in page
    assert "13812345678" in page  # the reviewing operator sees the contact
    assert other_region in tianshui.get("/console/needs").get_data(as_text=True)
    # Another region's operator cannot act on it.
    refused = post_form(
        tianshui, "/console/needs", f"/console/needs/{need_id(db, first)}/publish", {}
    )
    assert refused.status_code == 404

    post_form(lanzhou, "/console/needs", f"/console/needs/{need_id(db, first)}/publish", {})
    post_form(
        lanzhou,
        "/console/needs",
        f"/console/needs/{need_id(db, second)}/reject",
        {"reason": "服务时间与内容请写具体"},
    )
    answer = post_form(
        lanzhou, "/console/needs", f"/console/needs/{need_id(db, duplicate)}/merge", {"into": first}
    )
    assert answer.status_code == 302
    missing = post_form(
        lanzhou,
        "/console/needs",
        f"/console/needs/{need_id(db, other_region)}/merge",
        {"into": first},
    )
    assert missing.status_code == 404

    with db.Session() as session:
        statuses = {n: find_need(session, n).status for n in (first, second, duplicate)}  # type: ignore[union-attr]
    assert statuses == {first: PUBLISHED, second: REJECTED, duplicate: MERGED}

    told = "\n".join(texts_to(fake_wechat, POSTER))
    assert f"{first}（城关区东岗社区）已审核通过并发布" in told
    assert "服务时间与内容请写具体" in told
    assert f"与需求 {first} 内容相同" in told

    public = app.test_client().get(f"/n/{first}")
    body = public.get_data(as_text=True)
    assert public.status_code == 200 and "给社区老人讲防电信诈骗" in body
    assert "138****5678" in body and "13812345678" not in body
    assert app.test_client().get(f"/n/{second}").status_code == 404
    assert app.test_client().get("/n/XQ0").status_code == 404

    # Published: the hall shows it, and the poster's list shows each status.
    assert first in make_user("oAnyone00000000000000000001").say("需求大厅")
    mine = make_user(POSTER).say("我的需求")
    assert (
        "已发布" in mine and "已退回（原因：服务时间与内容请写具体）" in mine and "已合并" in mine
    )


def test_needs_unclaimed_for_14_days_are_flagged(app: Flask, db: Database) -> None:
    fresh, old = post(db), post(db)
    with db.Session.begin() as session:
        now = clock.utcnow()
        session.execute(update(Need).values(status=PUBLISHED, published_at=now))
        session.execute(
            update(Need).where(Need.need_no == old).values(published_at=now - timedelta(days=15))
        )
    page = (
        operator_client(app, db, "province", "sheng").get("/console/needs").get_data(as_text=True)
    )
    assert page.count("超过14天未认领") == 1
    # Newest first: the flag sits on the older need's row only.
    assert page.index(old) < page.index("超过14天未认领") < page.index(fresh)
