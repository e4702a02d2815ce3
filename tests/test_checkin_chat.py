"""签到 and 签退 as conversations: scanning the activity's scene QR codes (SCAN, or subscribe
with the scene), typing the 6-digit code, the window, walk-ins, forged and expired codes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy import select, update

from domain import clock
from infra.db import Database
from models.activity import CANCELLED, Activity
from models.service import Attendance
from services import attendance
from tests import volunteer_steps
from tests.service_steps import (
    add_activity,
    checkin_codes,
    minute,
    organiser_team,
    registered,
    scene,
    sign_up,
    volunteer_of,
)
from tests.test_team_support import id_number
from tests.wechat_user import WeChatUser

MakeUser = Callable[..., WeChatUser]


def scan(user: WeChatUser, scene_value: str) -> str:
    """A follower scans a scene QR code: WeChat sends SCAN with the scene as EventKey."""
    answer = user.event("SCAN", scene_value, Ticket="gQticket")
    assert answer.status == 200
    return answer.text


@pytest.fixture
def activity_id(db: Database) -> int:
    """An activity that started 10 minutes ago and lasts 3 hours."""
    return add_activity(db, organiser_team(db), title="青少年科普进社区", capacity=2)


def _attendance(db: Database, activity_id: int) -> list[Attendance]:
    with db.Session() as session:
        return list(
            session.scalars(select(Attendance).where(Attendance.activity_id == activity_id))
        )


def test_signed_up_volunteer_scans_in_twice_and_out(
    app: Flask, db: Database, wechat_user: WeChatUser, activity_id: int
) -> None:
    registered(wechat_user)
    sign_up(app, wechat_user, activity_id)
    codes = checkin_codes(app, activity_id)

    reply = scan(wechat_user, scene(codes, attendance.IN))
    assert "签到成功！" in reply and "青少年科普进社区" in reply
    assert f"签退 {codes.code}" in reply
    assert "无需重复签到" in scan(wechat_user, scene(codes, attendance.IN))
    assert len(_attendance(db, activity_id)) == 1

    reply = scan(wechat_user, scene(codes, attendance.OUT))
    assert "签退成功！" in reply and "待组织方确认" in reply
    assert "已于" in scan(wechat_user, scene(codes, attendance.OUT))
    (row,) = _attendance(db, activity_id)
    assert row.checked_out_at is not None and not row.walk_in
    assert row.check_in_method == "qr"


def test_a_registered_non_follower_follows_and_is_checked_in_in_one_step(
    app: Flask, db: Database, wechat_user: WeChatUser, activity_id: int
) -> None:
    registered(wechat_user)
    sign_up(app, wechat_user, activity_id)
    wechat_user.unsubscribe()
    codes = checkin_codes(app, activity_id)
    reply = wechat_user.subscribe(scene(codes, attendance.IN))
    assert "签到成功！" in reply
    assert len(_attendance(db, activity_id)) == 1


def test_someone_not_registered_is_checked_in_when_the_registration_completes(
    app: Flask, db: Database, make_user: MakeUser, activity_id: int
) -> None:
    newcomer = make_user()
    codes = checkin_codes(app, activity_id, walk_ins=True)
    reply = newcomer.subscribe(scene(codes, attendance.IN))
    assert (
        "还不是注册志愿者" in reply
        and "注册完成后将自动为您在活动「青少年科普进社区」签到" in reply
    )
    assert _attendance(db, activity_id) == []

    reply = volunteer_steps.register(newcomer, id_number=id_number())
    assert "注册成功" in reply
    assert "签到成功（现场签到）！" in reply
    (row,) = _attendance(db, activity_id)
    assert row.walk_in
    # only once: a later message does not check in again
    assert "签到成功" not in newcomer.say("服务时长")


def test_typed_codes_check_in_and_out(
    app: Flask, db: Database, wechat_user: WeChatUser, activity_id: int
) -> None:
    registered(wechat_user)
    sign_up(app, wechat_user, activity_id)
    codes = checkin_codes(app, activity_id)
    assert "签到成功！" in wechat_user.say(f"签到 {codes.code}")
    assert "签退成功！" in wechat_user.say(f"签退{codes.code}")
    (row,) = _attendance(db, activity_id)
    assert row.check_in_method == row.check_out_method == "code"


def test_a_wrong_code_gets_a_hint_and_guessing_is_stopped(
    app: Flask, wechat_user: WeChatUser, activity_id: int
) -> None:
    registered(wechat_user)
    codes = checkin_codes(app, activity_id)
    wrong = "100000" if codes.code != "100000" else "100001"
    for _ in range(10):
        assert "签到码不正确" in wechat_user.say(f"签到 {wrong}")
    assert "输错次数过多" in wechat_user.say(f"签到 {wrong}")
    assert "输错次数过多" in wechat_user.say(f"签到 {codes.code}")


def test_how_to_check_in_without_a_code(wechat_user: WeChatUser) -> None:
    reply = wechat_user.say("签到")
    assert "扫描" in reply and "签到 123456" in reply


def test_check_out_without_check_in_is_refused_with_a_hint(
    app: Flask, wechat_user: WeChatUser, activity_id: int
) -> None:
    registered(wechat_user)
    sign_up(app, wechat_user, activity_id)
    codes = checkin_codes(app, activity_id)
    reply = scan(wechat_user, scene(codes, attendance.OUT))
    assert "还没有在活动「青少年科普进社区」签到，不能签退" in reply
    assert f"签到 {codes.code}" in reply


def test_the_window_opens_half_an_hour_before_and_closes_an_hour_after(
    app: Flask, db: Database, wechat_user: WeChatUser
) -> None:
    registered(wechat_user)
    team_id = organiser_team(db)
    now = clock.utcnow()
    soon = add_activity(db, team_id, title="明天的讲座", starts_at=now + timedelta(minutes=45))
    opening = add_activity(db, team_id, title="马上开始", starts_at=now + timedelta(minutes=25))
    over = add_activity(
        db, team_id, title="上午的活动", starts_at=now - timedelta(hours=4, minutes=5)
    )  # ended 65 minutes ago
    late = add_activity(
        db, team_id, title="刚结束", starts_at=now - timedelta(hours=3, minutes=50)
    )  # ended 50 minutes ago
    for activity_id in (soon, opening, over, late):
        sign_up(app, wechat_user, activity_id)

    reply = scan(wechat_user, scene(checkin_codes(app, soon), attendance.IN))
    assert "签到将于" in reply and "活动开始前30分钟" in reply
    assert "签到成功" in scan(wechat_user, scene(checkin_codes(app, opening), attendance.IN))
    reply = scan(wechat_user, scene(checkin_codes(app, over), attendance.IN))
    assert "已于" in reply and "截止" in reply
    assert "签到成功" in scan(wechat_user, scene(checkin_codes(app, late), attendance.IN))


def test_forged_renewed_and_other_scenes(
    app: Flask, db: Database, wechat_user: WeChatUser, activity_id: int
) -> None:
    registered(wechat_user)
    sign_up(app, wechat_user, activity_id)
    codes = checkin_codes(app, activity_id)
    assert "二维码无效或已失效" in scan(wechat_user, "act:in:forged-token-0000")
    assert "二维码无效或已失效" in scan(wechat_user, f"act:in:{codes.token[:-1]}")

    with db.Session.begin() as session:
        activity = session.get(Activity, activity_id)
        assert activity is not None
        renewed = attendance.renew(session, activity, clock.utcnow())
        new_token, new_code = renewed.token, renewed.code
    assert "二维码无效或已失效" in scan(wechat_user, scene(codes, attendance.IN))
    if new_code != codes.code:
        assert "签到码不正确" in wechat_user.say(f"签到 {codes.code}")
    assert "签到成功" in scan(wechat_user, attendance.scene_for(attendance.IN, new_token))
    assert _attendance(db, activity_id)[0].checked_in_at is not None


def test_a_cancelled_activity_refuses_check_in(
    app: Flask, db: Database, wechat_user: WeChatUser, activity_id: int
) -> None:
    registered(wechat_user)
    sign_up(app, wechat_user, activity_id)
    codes = checkin_codes(app, activity_id)
    with db.Session.begin() as session:
        session.execute(update(Activity).where(Activity.id == activity_id).values(status=CANCELLED))
    assert "已取消" in scan(wechat_user, scene(codes, attendance.IN))


def test_walk_ins_need_the_organisers_permission_and_a_free_place(
    app: Flask, db: Database, make_user: MakeUser, activity_id: int
) -> None:
    """Two places: one taken by a sign-up, one left for a walk-in."""
    signed, first, second = make_user(), make_user(), make_user()
    for user in (signed, first, second):
        registered(user, id_number=id_number())
    sign_up(app, signed, activity_id)

    codes = checkin_codes(app, activity_id, walk_ins=False)
    assert "组织方未开放现场签到" in scan(first, scene(codes, attendance.IN))

    checkin_codes(app, activity_id, walk_ins=True)
    assert "签到成功（现场签到）！" in scan(first, scene(codes, attendance.IN))
    assert "名额已满" in scan(second, scene(codes, attendance.IN))
    assert "签到成功！" in scan(signed, scene(codes, attendance.IN))
    walk_ins = [row.walk_in for row in _attendance(db, activity_id)]
    assert sorted(walk_ins) == [False, True]


@pytest.mark.parametrize(
    ("minutes", "hours"),
    [
        (10, "0"),
        (15, "0"),
        (20, "0.5"),
        (45, "0.5"),
        (50, "1"),
        (75, "1"),
        (100, "1.5"),
        (170, "3"),
    ],
)
def test_hours_on_check_out_follow_the_rounding_table(
    app: Flask, db: Database, wechat_user: WeChatUser, minutes: int, hours: str
) -> None:
    """Checked in at the start (an hour early is clipped), checking out `minutes` later."""
    registered(wechat_user)
    start = minute(clock.utcnow()) - timedelta(minutes=minutes)
    activity_id = add_activity(db, organiser_team(db), starts_at=start, hours=3)
    sign_up(app, wechat_user, activity_id)
    codes = checkin_codes(app, activity_id)
    scan(wechat_user, scene(codes, attendance.IN))
    with db.Session.begin() as session:
        session.execute(
            update(Attendance)
            .where(Attendance.activity_id == activity_id)
            .values(checked_in_at=start - timedelta(hours=1))
        )
    reply = scan(wechat_user, scene(codes, attendance.OUT))
    assert f"本次服务时长：{hours} 小时" in reply, reply
    assert volunteer_of(app, wechat_user).id == _attendance(db, activity_id)[0].volunteer_id


def test_signed_up_in_chat_checked_in_and_the_waiting_list_is_not_a_place(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    """One place: A signs up in chat and checks in; B, on the waiting list, is a walk-in."""
    start = minute(clock.utcnow()) + timedelta(minutes=20)
    activity_id = add_activity(db, organiser_team(db), starts_at=start, capacity=1)
    first, second = make_user(), make_user()
    for user in (first, second):
        registered(user, id_number=id_number())
    assert "报名成功" in first.say(f"报名 {activity_id}")
    assert "候补" in second.say(f"候补 {activity_id}")
    codes = checkin_codes(app, activity_id, walk_ins=True)
    assert "签到成功！" in first.say(f"签到 {codes.code}")
    assert "名额已满" in second.say(f"签到 {codes.code}")
