"""Times are stored in UTC and shown to people in Beijing time, in chat and in the console."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask.testing import FlaskClient
from sqlalchemy import select, update

from domain.clock import beijing_now
from infra.db import Database
from models.activity import Activity
from models.volunteer import Volunteer
from tests import volunteer_steps as steps
from tests.test_activity_console import create, form, only_activity
from tests.test_console_support import (
    add_team,
    csrf_token,
    province_client,  # noqa: F401  (fixture)
)
from tests.wechat_user import WeChatUser

LATE_EVENING_UTC = datetime(2026, 11, 30, 19, 23)  # 2026-12-01 03:23 in Beijing


def test_a_registration_at_19_23_utc_shows_the_next_day(
    wechat_user: WeChatUser,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    steps.register(wechat_user)
    with db.Session.begin() as session:
        session.execute(update(Volunteer).values(created_at=LATE_EVENING_UTC))

    profile = wechat_user.click("VOLUNTEER_PROFILE")
    assert "注册时间：2026-12-01" in profile
    assert "2026-11-30" not in profile

    listing = province_client.get("/console/volunteers").get_data(as_text=True)
    assert "<td>2026-12-01</td>" in listing
    assert "2026-11-30" not in listing


def test_activity_times_are_typed_and_shown_in_beijing_but_stored_in_utc(
    wechat_user: WeChatUser,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    team_id = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    # 07:30 in Beijing is 23:30 UTC of the day before.
    day = (beijing_now() + timedelta(days=10)).date()
    start = datetime.combine(day, datetime.min.time()).replace(hour=7, minute=30)
    deadline = start - timedelta(days=2)
    answer = create(
        province_client,
        form(
            team_id,
            starts_at=f"{start:%Y-%m-%dT%H:%M}",
            ends_at=f"{start + timedelta(hours=2):%Y-%m-%dT%H:%M}",
            signup_deadline=f"{deadline:%Y-%m-%dT%H:%M}",
        ),
    )
    assert answer.status_code == 302
    activity = only_activity(db)
    assert activity.starts_at == start - timedelta(hours=8)
    assert activity.signup_deadline == deadline - timedelta(hours=8)

    page = province_client.get(f"/console/activities/{activity.id}").get_data(as_text=True)
    assert f"{deadline:%Y-%m-%d} 07:30" in page
    assert f"{start:%Y年%-m月%-d日} 07:30-09:30" in page
    edit = province_client.get(f"/console/activities/{activity.id}/edit").get_data(as_text=True)
    assert f'value="{start:%Y-%m-%dT%H:%M}"' in edit

    token = csrf_token(province_client, f"/console/activities/{activity.id}")
    published = province_client.post(
        f"/console/activities/{activity.id}/status/recruiting", data={"csrf_token": token}
    )
    assert published.status_code == 302
    detail = wechat_user.say(f"活动{activity.id}")
    assert f"时间：{start:%Y年%-m月%-d日} 07:30-09:30" in detail
    assert f"报名截止：{deadline:%Y年%-m月%-d日} 07:30" in detail
    with db.Session() as session:
        assert session.scalar(select(Activity.status)) == "recruiting"
