"""The organiser's 签到与时长 page in the console: QR codes from WeChat's API as printable
pictures, walk-ins, confirm all, adjust one with a reason, mark absent, and corrections."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import timedelta

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select, update

from domain import clock
from infra.db import Database
from models.service import Attendance, RecordCorrection, ServiceRecord
from sandbox.fake_wechat import FakeWeChatState
from services import attendance
from tests.service_steps import (
    add_activity,
    checkin_codes,
    minute,
    organiser_team,
    registered,
    scene,
    sign_up,
)
from tests.test_checkin_chat import scan
from tests.test_console_support import post_form, province_client  # noqa: F401
from tests.test_team_support import id_number
from tests.wechat_user import WeChatUser

MakeUser = Callable[..., WeChatUser]


def page_of(activity_id: int) -> str:
    return f"/console/activities/{activity_id}/attendance"


def post(client: FlaskClient, activity_id: int, action: str, **data: str) -> str:
    answer = post_form(client, page_of(activity_id), f"{page_of(activity_id)}/{action}", data)
    assert answer.status_code == 302, answer.data[:300]
    return client.get(page_of(activity_id)).get_data(as_text=True)


def test_codes_come_from_wechat_and_print_as_pictures(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    fake_wechat: FakeWeChatState,
) -> None:
    activity_id = add_activity(db, organiser_team(db), starts_at=clock.utcnow() + timedelta(days=1))
    page = province_client.get(page_of(activity_id)).get_data(as_text=True)
    assert "生成签到二维码" in page and "poster-in" not in page

    page = post(province_client, activity_id, "codes")
    assert "签到、签退二维码已生成" in page
    calls = fake_wechat.calls_to("/cgi-bin/qrcode/create")
    assert len(calls) == 2
    bodies = [call.json for call in calls]
    assert {b["action_name"] for b in bodies} == {"QR_STR_SCENE"}
    scenes = sorted(b["action_info"]["scene"]["scene_str"] for b in bodies)
    assert scenes[0].startswith("act:in:") and scenes[1].startswith("act:out:")
    # valid until an hour after the end (the activity ends in a day and 3 hours)
    assert all(28 * 3600 - 120 <= b["expire_seconds"] <= 28 * 3600 for b in bodies)
    code = re.search(r'id="checkin-code"[^>]*>(\d{6})<', page)
    assert code
    for kind in ("in", "out"):
        picture = province_client.get(f"{page_of(activity_id)}/{kind}.png")
        assert picture.status_code == 200 and picture.mimetype == "image/png"
        assert picture.data[:8] == b"\x89PNG\r\n\x1a\n"

    # asking again reuses the codes; renewing replaces them
    post(province_client, activity_id, "codes")
    assert len(fake_wechat.calls_to("/cgi-bin/qrcode/create")) == 2
    page = post(province_client, activity_id, "codes", renew="1")
    assert "旧的二维码和6位签到码已失效" in page
    assert len(fake_wechat.calls_to("/cgi-bin/qrcode/create")) == 4


def test_walk_ins_are_switched_on_in_the_console(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    wechat_user: WeChatUser,
) -> None:
    activity_id = add_activity(db, organiser_team(db))
    registered(wechat_user)
    codes = checkin_codes(app, activity_id)
    assert "未开放现场签到" in scan(wechat_user, scene(codes, attendance.IN))
    page = post(province_client, activity_id, "walk-ins", allow="1")
    assert "关闭现场签到" in page
    assert "签到成功（现场签到）" in scan(wechat_user, scene(codes, attendance.IN))
    assert "现场签到" in province_client.get(page_of(activity_id)).get_data(as_text=True)


def _three_volunteers(
    app: Flask, db: Database, make_user: MakeUser
) -> tuple[int, list[WeChatUser]]:
    """An activity that started 2 h 20 min ago: A checked in at the start and out now (2 h 20
    → 2.5 h), B checked in but not out, C signed up and never came."""
    start = minute(clock.utcnow()) - timedelta(hours=2, minutes=20)
    activity_id = add_activity(db, organiser_team(db), starts_at=start, hours=3)
    users = [make_user() for _ in range(3)]
    for user, name in zip(users, ("王一", "王二", "王三"), strict=True):
        registered(user, name=name, id_number=id_number())
        sign_up(app, user, activity_id)
    codes = checkin_codes(app, activity_id)
    scan(users[0], scene(codes, attendance.IN))
    scan(users[1], scene(codes, attendance.IN))
    with db.Session.begin() as session:
        session.execute(
            update(Attendance)
            .where(Attendance.activity_id == activity_id)
            .values(checked_in_at=start)
        )
    assert "本次服务时长：2.5 小时" in scan(users[0], scene(codes, attendance.OUT))
    return activity_id, users


def _records(db: Database, activity_id: int) -> dict[int, ServiceRecord]:
    with db.Session() as session:
        rows = session.scalars(
            select(ServiceRecord).where(ServiceRecord.activity_id == activity_id)
        ).all()
        return {row.volunteer_id: row for row in rows}


def test_confirm_all_adjust_one_and_mark_absent(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    make_user: MakeUser,
) -> None:
    activity_id, users = _three_volunteers(app, db, make_user)
    page = province_client.get(page_of(activity_id)).get_data(as_text=True)
    assert "待确认 2.5 小时" in page and "未签退" in page and "未签到" in page

    assert "评价请从列表中选择" in post(province_client, activity_id, "confirm", evaluation="满分")
    page = post(province_client, activity_id, "confirm", evaluation="良好")
    assert "已确认 1 人的服务时长，共 2.5 小时" in page
    assert "1 人未签退" in page
    assert "已确认 2.5 小时" in page and "评价：良好" in page

    ids = {row.volunteer_id for row in _records(db, activity_id).values()}
    with db.Session() as session:
        from services import volunteers

        second = volunteers.find_by_openid(session, users[1].openid)
        third = volunteers.find_by_openid(session, users[2].openid)
        assert second is not None and third is not None
        second_id, third_id = second.id, third.id
    assert second_id not in ids

    page = post(province_client, activity_id, f"{second_id}/adjust", hours="2.3", reason="x")
    assert "以 0.5 为单位" in page
    page = post(province_client, activity_id, f"{second_id}/adjust", hours="2", reason="")
    assert "请写明调整的原因" in page
    page = post(
        province_client, activity_id, f"{second_id}/adjust", hours="2", reason="忘记签退，现场核实"
    )
    assert "已记录 2 小时" in page and "忘记签退，现场核实" in page
    page = post(province_client, activity_id, f"{third_id}/absent")
    assert "缺勤" in page

    records = _records(db, activity_id)
    assert records[second_id].hours == 2 and records[second_id].recorder == "sheng（工作台）"
    assert records[second_id].adjustment_reason == "忘记签退，现场核实"
    assert records[third_id].status == "absent"
    # confirming again changes nothing already recorded
    page = post(province_client, activity_id, "confirm")
    assert "已确认 0 人" in page
    assert "累计时长：2.5 小时" in users[0].click("VOLUNTEER_HOURS")
    assert "累计时长：2 小时" in users[1].click("VOLUNTEER_HOURS")
    assert "累计时长：0 小时" in users[2].click("VOLUNTEER_HOURS")


def test_a_correction_is_requested_in_chat_and_answered_in_the_console(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    make_user: MakeUser,
    fake_wechat: FakeWeChatState,
) -> None:
    activity_id, users = _three_volunteers(app, db, make_user)
    post(province_client, activity_id, "confirm")
    record_id = next(iter(_records(db, activity_id).values())).id
    volunteer = users[0]

    assert "服务记录编号" in volunteer.say("申请更正")
    assert "没有找到编号为 999999 的服务记录" in volunteer.say("999999")
    assert "更正的内容和理由" in volunteer.say(str(record_id))
    assert "请具体说明" in volunteer.say("不对")
    assert "请核对更正申请" in volunteer.say("我一直服务到活动结束，应为3小时")
    reply = volunteer.say("确认")
    assert "更正申请已提交" in reply and "当前记录：2.5 小时" in reply
    volunteer.say("申请更正")
    assert "已有一条更正申请在处理中" in volunteer.say(str(record_id))
    volunteer.say("取消")

    page = province_client.get(page_of(activity_id)).get_data(as_text=True)
    assert "我一直服务到活动结束，应为3小时" in page
    with db.Session() as session:
        correction_id = session.scalar(select(RecordCorrection.id))
    action = f"corrections/{correction_id}"
    page = post(province_client, activity_id, action, decision="accept", hours="3", reason="")
    assert "请写明处理意见" in page
    page = post(
        province_client, activity_id, action, decision="accept", hours="3", reason="核对签到表属实"
    )
    assert "已处理更正申请" in page and "已更正：3 小时" in page
    told = [m.get("content", "") for m in fake_wechat.messages(volunteer.openid)]
    assert any("已更正为 3 小时" in text and "核对签到表属实" in text for text in told)
    assert "累计时长：3 小时" in volunteer.click("VOLUNTEER_HOURS")
    page = post(province_client, activity_id, action, decision="decline", reason="重复")
    assert "不存在或已处理" in page

    # a second request, declined: both stay on record
    volunteer.say("申请更正")
    volunteer.say(str(record_id))
    volunteer.say("还应加上布展的半小时")
    volunteer.say("确认")
    with db.Session() as session:
        second = max(session.scalars(select(RecordCorrection.id)))
    page = post(
        province_client,
        activity_id,
        f"corrections/{second}",
        decision="decline",
        reason="布展不计入",
    )
    assert "未予更正" in page and "布展不计入" in page and "核对签到表属实" in page
    assert "累计时长：3 小时" in volunteer.click("VOLUNTEER_HOURS")


def test_corrections_close_after_30_days(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    make_user: MakeUser,
) -> None:
    activity_id, users = _three_volunteers(app, db, make_user)
    post(province_client, activity_id, "confirm")
    record = next(iter(_records(db, activity_id).values()))
    with db.Session.begin() as session:
        session.execute(
            update(ServiceRecord)
            .where(ServiceRecord.id == record.id)
            .values(recorded_at=clock.utcnow() - timedelta(days=31))
        )
    users[0].say("申请更正")
    assert "超过 30 天" in users[0].say(str(record.id))


def test_operators_see_only_activities_of_their_region(
    app: Flask, db: Database, client: FlaskClient
) -> None:
    from tests.test_console_support import add_operator, login

    activity_id = add_activity(db, organiser_team(db))  # in 兰州市城关区
    add_operator(db, "tianshui", "region:620500")
    login(client, "tianshui")
    assert client.get(page_of(activity_id)).status_code == 404
    assert client.get(f"{page_of(activity_id)}/in.png").status_code == 404
