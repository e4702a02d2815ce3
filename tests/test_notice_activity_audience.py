"""The notice composer's audience 「报名了某活动」 and 「已签到某活动」; a notice started from an
activity offers its signed-up volunteers by default."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask.testing import FlaskClient, FlaskCliRunner

from domain.clock import utcnow
from infra.db import Database
from models.service import Attendance
from models.volunteer import Volunteer
from tests.activity_support import change_activity
from tests.test_console_support import (
    REMINDER_DATA,
    add_activity,
    add_team,
    add_template,
    add_volunteers,
    compose,
    compose_data,
    notice_queue,  # noqa: F401  (fixture)
    province_client,  # noqa: F401  (fixture)
    recipient_count,
)
from tests.wechat_user import WeChatUser


def check_in(db: Database, activity_id: int, openid: str) -> None:
    """As actservice's check-in records it: one attendance row."""
    with db.Session.begin() as session:
        volunteer = session.query(Volunteer).filter_by(openid=openid).one()
        session.add(
            Attendance(
                activity_id=activity_id,
                volunteer_id=volunteer.id,
                checked_in_at=utcnow(),
                check_in_method="code",
            )
        )


def test_signed_up_and_checked_in_audiences(
    province_client: FlaskClient,  # noqa: F811
    make_user: Callable[..., WeChatUser],
    db: Database,
) -> None:
    template = add_template(db)
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    activity = add_activity(db, team, title="果树修剪培训")
    other = add_activity(db, team, title="另一个活动")
    change_activity(db, activity, capacity=3)
    add_volunteers(db, 5)  # registered, not signed up
    users = [make_user(o) for o in add_volunteers(db, 5)]
    for user in users:
        user.say(f"候补{activity}")  # 3 signed up, 2 waiting
    users[0].say(f"取消报名{activity}")  # the first waiting moves up: still 3 signed up
    users[4].say(f"报名{other}")
    check_in(db, activity, users[1].openid)

    def count(**audience: Any) -> int | None:
        return recipient_count(compose(province_client, compose_data(template, **audience)).data)

    assert count() == 10
    assert count(audience_activity=str(activity), activity_state="signed_up") == 3
    assert count(audience_activity=str(activity), activity_state="checked_in") == 1
    assert count(audience_activity=str(other), activity_state="signed_up") == 1
    preview = compose(
        province_client,
        compose_data(template, audience_activity=str(activity), activity_state="signed_up"),
    ).get_data(as_text=True)
    assert f"报名了活动{activity}" in preview

    page = province_client.get(f"/console/notices/new?template={template}&activity={activity}")
    html = page.get_data(as_text=True)
    assert f'<option selected value="{activity}">' in html or (
        f'value="{activity}" selected' in html
    )
    assert '<option selected value="signed_up">' in html or 'value="signed_up" selected' in html


def test_cli_audience_of_an_activity(
    runner: FlaskCliRunner,
    make_user: Callable[..., WeChatUser],
    db: Database,
    notice_queue: Any,  # noqa: F811
) -> None:
    add_template(db)
    activity = add_activity(db, add_team(db, "甘肃省科普作家协会科技志愿服务队"))
    add_volunteers(db, 3)
    for openid in add_volunteers(db, 2):
        make_user(openid).say(f"报名{activity}")
    args = ["notice", "send", "--template", "kjzyActivityReminder00000000000000000000002"]
    for key, value in REMINDER_DATA.items():
        args += ["--data", f"{key}={value}"]
    result = runner.invoke(args=[*args, "--audience", f"signed_up={activity}", "--yes"])
    assert result.exit_code == 0, result.output
    assert "共 2 人" in result.output
