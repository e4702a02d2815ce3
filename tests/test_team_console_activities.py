"""活动 in the team console: create (Beijing time), edit, publish and cancel with the activity
services' rules; the roster with check-in state, the check-in codes, confirming hours, answering
corrections and the roster export; nothing of another team's activities."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select, update

from domain import clock
from infra.db import Database
from models.activity import CANCELLED, DRAFT, RECRUITING, Activity
from models.operator import AuditEntry
from models.service import Attendance, ServiceRecord
from sandbox.fake_wechat import FakeWeChatState
from services import attendance
from tests.service_steps import add_activity, checkin_codes, minute, registered, scene, sign_up
from tests.team_console_steps import log_in, page_text, submit, team_admin, xlsx_rows
from tests.test_checkin_chat import scan
from tests.test_team_support import id_number
from tests.wechat_user import WeChatUser

MakeUser = Callable[..., WeChatUser]

FORM = {
    "title": "农技下乡",
    "type": "科学普及",
    "key_date": "",
    "region": "",
    "place": "榆中县三角城",
    "starts_at": "2026-12-20T09:00",
    "ends_at": "2026-12-20T12:00",
    "capacity": "20",
    "signup_deadline": "",
    "description": "为农户讲解冬季果树管理。",
    "contact": "王老师 13900001111",
}


def test_create_edit_publish_and_cancel(
    app: Flask, db: Database, make_user: MakeUser, fake_wechat: FakeWeChatState
) -> None:
    admin = team_admin(app, make_user)
    log_in(admin)
    new = f"/team/t/{admin.team.id}/activities/new"
    bad = submit(admin.client, new, new, {**FORM, "ends_at": "2026-12-20T08:00"})
    assert "结束时间应晚于开始时间" in bad.data.decode()

    created = submit(admin.client, new, new, FORM)
    text = created.data.decode()
    assert "活动已保存为草稿" in text and "2026年12月20日 09:00" in text
    with db.Session() as session:
        activity = session.scalars(select(Activity)).one()
        assert activity.team_id == admin.team.id and activity.status == DRAFT
        assert activity.starts_at == clock.from_beijing(datetime(2026, 12, 20, 9, 0))
        activity_id = activity.id

    edit = f"/team/a/{activity_id}/edit"
    assert "已保存" in submit(admin.client, edit, edit, {**FORM, "capacity": "30"}).data.decode()
    shown = f"/team/a/{activity_id}"
    published = submit(admin.client, shown, f"/team/a/{activity_id}/status/{RECRUITING}")
    assert "活动已发布" in published.data.decode()
    volunteer = registered(make_user(), name="吴六", id_number=id_number())
    sign_up(app, volunteer, activity_id)
    cancelled = submit(
        admin.client, shown, f"/team/a/{activity_id}/status/{CANCELLED}", {"reason": "降雪封路"}
    )
    flashes = re.findall(r'class="flash[^"]*">([^<]*)<', cancelled.data.decode())
    assert any("活动已取消" in f and "已通知报名的志愿者" in f for f in flashes), flashes
    told = [m.get("content", "") for m in fake_wechat.messages(volunteer.openid)]
    assert any("降雪封路" in text for text in told), told
    again = submit(admin.client, shown, f"/team/a/{activity_id}/status/{RECRUITING}")
    assert "不能改为" in again.data.decode()
    with db.Session() as session:
        activity = session.get(Activity, activity_id)
        assert activity is not None and activity.capacity == 30 and activity.status == CANCELLED
        actions = session.scalars(
            select(AuditEntry.action).where(AuditEntry.actor.like(f"队管:{admin.volunteer_no}%"))
        ).all()
    assert {"activity_create", "activity_update", "activity_status"} <= set(actions)


def test_another_teams_activity_is_out_of_reach(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    a = team_admin(app, make_user)
    b = team_admin(app, make_user, "兰州大学科技志愿服务队", name="李管理")
    theirs = add_activity(db, b.team.id, status=DRAFT)
    log_in(a)
    for path in (f"/team/a/{theirs}", f"/team/a/{theirs}/edit", f"/team/a/{theirs}/roster",
                 f"/team/a/{theirs}/roster.xlsx", f"/team/a/{theirs}/poster/in.png",
                 f"/team/t/{b.team.id}/activities"):  # fmt: skip
        assert a.client.get(path).status_code == 404, path
    own = f"/team/t/{a.team.id}/activities"
    for action in (f"/team/a/{theirs}/status/{RECRUITING}", f"/team/a/{theirs}/confirm",
                   f"/team/a/{theirs}/codes"):  # fmt: skip
        assert submit(a.client, own, action).status_code == 404, action
    with db.Session() as session:
        assert session.get(Activity, theirs).status == DRAFT  # type: ignore[union-attr]


def test_roster_codes_hours_and_corrections(
    app: Flask, db: Database, make_user: MakeUser, fake_wechat: FakeWeChatState
) -> None:
    admin = team_admin(app, make_user)
    start = minute(clock.utcnow()) - timedelta(hours=2, minutes=20)
    activity_id = add_activity(db, admin.team.id, starts_at=start, hours=3)
    users = [make_user() for _ in range(3)]
    for user, name in zip(users, ("周一", "周二", "周三"), strict=True):
        registered(user, name=name, id_number=id_number())
        sign_up(app, user, activity_id)
    log_in(admin)
    roster = f"/team/a/{activity_id}/roster"
    text = page_text(admin.client, roster)
    assert "名单（3 人）" in text and text.count("未签到") == 3

    made = submit(admin.client, roster, f"/team/a/{activity_id}/codes").data.decode()
    assert "签到、签退二维码已生成" in made
    code = re.search(r'class="code6">(\d{6})<', made)
    assert code and len(fake_wechat.calls_to("/cgi-bin/qrcode/create")) == 2
    picture = admin.client.get(f"/team/a/{activity_id}/poster/in.png")
    assert picture.status_code == 200 and picture.data[:4] == b"\x89PNG"

    codes = checkin_codes(app, activity_id)
    scan(users[0], scene(codes, attendance.IN))
    scan(users[1], scene(codes, attendance.IN))
    with db.Session.begin() as session:
        session.execute(
            update(Attendance)
            .where(Attendance.activity_id == activity_id)
            .values(checked_in_at=start)
        )
    scan(users[0], scene(codes, attendance.OUT))
    text = page_text(admin.client, roster)
    assert "待确认 2.5 小时" in text and "未签退" in text

    confirmed = submit(admin.client, roster, f"/team/a/{activity_id}/confirm").data.decode()
    assert "已确认 1 人的服务时长，共 2.5 小时" in confirmed and "1 人未签退" in confirmed
    with db.Session() as session:
        ids = {r.volunteer_no: r.volunteer_id for r in _rows(session, activity_id)}
    second, third = ids[_no(app, users[1])], ids[_no(app, users[2])]
    adjusted = submit(
        admin.client, roster, f"/team/a/{activity_id}/people/{second}/adjust",
        {"hours": "2", "reason": "忘记签退，现场核实"},
    ).data.decode()  # fmt: skip
    assert "已记录 2 小时" in adjusted
    absent = submit(admin.client, roster, f"/team/a/{activity_id}/people/{third}/absent")
    assert "已标记为缺勤" in absent.data.decode()
    assert "累计时长：2 小时" in users[1].click("VOLUNTEER_HOURS")

    # The volunteer asks for a correction (the chat flow's service); the admin answers here.
    with db.Session.begin() as session:
        from services import attendance_corrections

        record = session.scalars(
            select(ServiceRecord).where(
                ServiceRecord.activity_id == activity_id, ServiceRecord.volunteer_id == second
            )
        ).one()
        attendance_corrections.request(session, second, record.id, "我待到了结束", clock.utcnow())
    text = page_text(admin.client, roster)
    assert "我待到了结束" in text
    correction_id = re.search(r"申请 (\d+)", text)
    assert correction_id
    answered = submit(
        admin.client, roster, f"/team/a/{activity_id}/corrections/{correction_id.group(1)}",
        {"decision": "accept", "hours": "3", "reason": "核实属实"},
    ).data.decode()  # fmt: skip
    assert "已处理更正申请" in answered
    assert "累计时长：3 小时" in users[1].click("VOLUNTEER_HOURS")

    export = admin.client.get(f"/team/a/{activity_id}/roster.xlsx")
    rows = xlsx_rows(export.data)
    assert rows[0][:3] == ["序号", "志愿者编号", "姓名"] and len(rows) == 4
    assert {row[2] for row in rows[1:]} == {"周一", "周二", "周三"}


def _rows(session: object, activity_id: int) -> list[object]:
    from sqlalchemy.orm import Session

    from services import attendance_roster

    assert isinstance(session, Session)
    activity = session.get(Activity, activity_id)
    assert activity is not None
    return list(attendance_roster.roster(session, activity))


def _no(app: Flask, user: WeChatUser) -> str:
    from tests.service_steps import volunteer_of

    return volunteer_of(app, user).volunteer_no
