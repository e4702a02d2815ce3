"""The activity's public mobile page /a/<id> and its default cover (what news cards link to)."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient

from domain import clock
from domain.clock import utcnow
from infra.db import Database
from tests.activity_support import change_activity
from tests.test_console_support import add_activity, add_team


def test_public_page_shows_the_activity_in_beijing_time(client: FlaskClient, db: Database) -> None:
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    activity = add_activity(db, team, title="青少年科普进社区", starts_in=timedelta(days=3))
    # 23:30 UTC is 07:30 the next morning in Beijing.
    start = (utcnow() + timedelta(days=3)).replace(hour=23, minute=30, second=0, microsecond=0)
    change_activity(
        db,
        activity,
        starts_at=start,
        ends_at=start + timedelta(hours=2),
        capacity=30,
        required_skills=["科学普及"],
        latitude=36.061089,
        longitude=103.834304,
    )
    page = client.get(f"/a/{activity}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    beijing = clock.to_beijing(start)
    assert "青少年科普进社区" in html
    assert f"{beijing:%Y年%-m月%-d日} 07:30-09:30" in html
    assert "兰州市城关区科技馆" in html and "甘肃省科普作家协会科技志愿服务队" in html
    assert "面向社区青少年的科普活动" in html
    assert "30人（已报名0人）" in html and "专业领域：科学普及" in html
    assert f"回复「<b>报名{activity}</b>」" in html
    assert "uri.amap.com/marker?position=103.834304,36.061089" in html
    assert 'src="/a/static/cover.png"' in html and 'name="viewport"' in html


def test_default_cover_is_a_picture(client: FlaskClient) -> None:
    cover = client.get("/a/static/cover.png")
    try:
        assert cover.status_code == 200 and cover.mimetype == "image/png"
        assert cover.data.startswith(b"\x89PNG")
    finally:
        cover.close()  # a file response keeps the file open until closed


def test_drafts_and_unknown_activities_are_not_shown(client: FlaskClient, db: Database) -> None:
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    draft = add_activity(db, team, status="draft")
    for path in (f"/a/{draft}", "/a/999999"):
        missing = client.get(path)
        assert missing.status_code == 404 and "活动不存在" in missing.get_data(as_text=True)


def test_cancelled_and_past_activities_say_so(client: FlaskClient, db: Database) -> None:
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    cancelled = add_activity(db, team, status="cancelled")
    change_activity(db, cancelled, cancel_reason="天气原因")
    assert "该活动已取消：天气原因" in client.get(f"/a/{cancelled}").get_data(as_text=True)
    past = add_activity(db, team, starts_in=timedelta(days=-2))
    html = client.get(f"/a/{past}").get_data(as_text=True)
    assert "已结束" in html and "报名已结束" in html
