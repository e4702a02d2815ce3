"""The organiser (a team admin) in chat: the check-in codes as printable pictures, walk-ins,
and for small activities the roster and the hours."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta

import xmltodict
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from domain import clock
from infra.db import Database
from models.service import Attendance
from sandbox.fake_wechat import FakeWeChatState
from services import attendance
from tests.service_steps import (
    ORGANISER,
    add_activity,
    checkin_codes,
    minute,
    organiser_team,
    registered,
    scene,
    sign_up,
)
from tests.test_checkin_chat import scan
from tests.test_team_support import id_number
from tests.wechat_user import WeChatUser

MakeUser = Callable[..., WeChatUser]


def _news(user: WeChatUser, text: str) -> list[dict[str, str]]:
    """The articles of a news reply."""
    answer = user.send_text(text)
    assert answer.status == 200
    doc = xmltodict.parse(answer.xml)["xml"]
    assert doc["MsgType"] == "news"
    items = doc["Articles"]["item"]
    return items if isinstance(items, list) else [items]


def test_the_organiser_gets_both_codes_as_printable_pictures(
    app: Flask,
    db: Database,
    client: FlaskClient,
    make_user: MakeUser,
    fake_wechat: FakeWeChatState,
) -> None:
    organiser = registered(make_user(ORGANISER), name="李队长", id_number=id_number())
    activity_id = add_activity(db, organiser_team(db), starts_at=clock.utcnow() + timedelta(days=2))
    articles = _news(organiser, f"签到码 {activity_id}")
    assert len(articles) == 2
    assert len(fake_wechat.calls_to("/cgi-bin/qrcode/create")) == 2
    codes = checkin_codes(app, activity_id)
    page = f"/checkin-codes/{codes.token}"
    assert f"签到码 {codes.code}" in articles[0]["Title"]
    assert articles[0]["PicUrl"] == f"http://127.0.0.1:8000{page}/in.png"
    assert articles[1]["PicUrl"] == f"http://127.0.0.1:8000{page}/out.png"
    assert articles[0]["Url"] == articles[1]["Url"] == f"http://127.0.0.1:8000{page}"

    html = client.get(page).get_data(as_text=True)
    assert "打印" in html and codes.code in html
    for kind in ("in", "out"):
        picture = client.get(f"{page}/{kind}.png")
        assert picture.status_code == 200 and picture.data[:4] == b"\x89PNG"
    # asking again reuses the same codes
    _news(organiser, f"签到码 {activity_id}")
    assert len(fake_wechat.calls_to("/cgi-bin/qrcode/create")) == 2
    assert client.get("/checkin-codes/not-a-token").status_code == 404


def test_only_the_teams_admins_manage_check_in(db: Database, make_user: MakeUser) -> None:
    activity_id = add_activity(db, organiser_team(db))
    stranger = registered(make_user(), id_number=id_number())
    for text in (f"签到码 {activity_id}", f"签到名单 {activity_id}", f"确认时长 {activity_id}"):
        assert "只有活动组织队伍的管理员" in stranger.say(text)
    assert "没有找到编号为 999999 的活动" in stranger.say("签到名单 999999")


def test_walk_ins_are_switched_on_in_chat(app: Flask, db: Database, make_user: MakeUser) -> None:
    organiser = make_user(ORGANISER)
    activity_id = add_activity(db, organiser_team(db))
    walker = registered(make_user(), id_number=id_number())
    codes = checkin_codes(app, activity_id)
    assert "未开放现场签到" in scan(walker, scene(codes, attendance.IN))
    assert "已允许未报名的志愿者" in organiser.say(f"现场签到 {activity_id} 开")
    assert "签到成功（现场签到）" in scan(walker, scene(codes, attendance.IN))
    assert "已关闭" in organiser.say(f"现场签到 {activity_id} 关")


def test_a_small_activity_is_confirmed_in_chat(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    organiser = registered(make_user(ORGANISER), name="李队长", id_number=id_number())
    start = minute(clock.utcnow()) - timedelta(hours=1, minutes=40)
    activity_id = add_activity(db, organiser_team(db), starts_at=start, hours=3)
    people = [
        registered(make_user(), name=n, id_number=id_number()) for n in ("赵一", "赵二", "赵三")
    ]
    for person in people:
        sign_up(app, person, activity_id)
    codes = checkin_codes(app, activity_id)
    for person in people[:2]:
        scan(person, scene(codes, attendance.IN))
    with db.Session.begin() as session:
        session.execute(
            update(Attendance)
            .where(Attendance.activity_id == activity_id)
            .values(checked_in_at=start)
        )
    scan(people[0], scene(codes, attendance.OUT))  # 1 h 40 → 1.5 h

    roster = organiser.say(f"签到名单 {activity_id}")
    assert "签到名单（3 人）" in roster
    assert "1. 赵一｜待确认 1.5 小时" in roster
    assert "2. 赵二｜未签退" in roster
    assert "3. 赵三｜未签到" in roster

    reply = organiser.say(f"确认时长 {activity_id} 优秀")
    assert "已确认 1 人的服务时长，共 1.5 小时" in reply and "1 人未签退" in reply
    assert "评价：优秀" in people[0].say("服务记录")
    assert "时长请填写以 0.5 为单位" in organiser.say(f"调整时长 {activity_id} 2 1.2 忘记签退")
    assert "请写明调整的原因" in organiser.say(f"调整时长 {activity_id} 2 1")
    assert "名单中没有序号 9" in organiser.say(f"调整时长 {activity_id} 9 1 忘记签退")
    assert "已为 赵二 记录 1 小时（原因：忘记签退）" in organiser.say(
        f"调整时长 {activity_id} 2 1 忘记签退"
    )
    assert "已将 赵三 标记为缺勤" in organiser.say(f"缺勤 {activity_id} 3")

    roster = organiser.say(f"签到名单 {activity_id}")
    assert "赵一｜已确认 1.5 小时" in roster and "赵二｜已确认 1 小时" in roster
    assert "赵三｜缺勤" in roster
    hours = people[1].click("VOLUNTEER_HOURS")
    assert "累计时长：1 小时" in hours
    records = people[1].say("服务记录")
    assert "记录人：李队长（队伍管理员）" in records


def test_the_organiser_answers_corrections_in_chat(
    app: Flask, db: Database, make_user: MakeUser, fake_wechat: FakeWeChatState
) -> None:
    organiser = registered(make_user(ORGANISER), name="李队长", id_number=id_number())
    start = minute(clock.utcnow()) - timedelta(hours=2, minutes=10)
    activity_id = add_activity(db, organiser_team(db), starts_at=start, hours=3)
    volunteer = registered(make_user(), name="钱一", id_number=id_number())
    sign_up(app, volunteer, activity_id)
    codes = checkin_codes(app, activity_id)
    scan(volunteer, scene(codes, attendance.IN))
    scan(volunteer, scene(codes, attendance.OUT))  # checked in late: 0 hours measured
    assert "已确认 1 人的服务时长，共 0 小时" in organiser.say(f"确认时长 {activity_id}")

    records = volunteer.say("服务记录")
    record_id = records.split("[", 1)[1].split("]", 1)[0]
    volunteer.say("申请更正")
    volunteer.say(record_id)
    volunteer.say("我从活动开始就在场，忘记扫码签到")
    assert "更正申请已提交" in volunteer.say("确认")
    told = [m.get("content", "") for m in fake_wechat.messages(ORGANISER)]
    assert any(f"更正申请 {activity_id}" in text for text in told)

    listing = organiser.say(f"更正申请 {activity_id}")
    assert "钱一，现记 0 小时" in listing and "忘记扫码签到" in listing
    correction_id = listing.split("申请 ", 1)[1].split("：", 1)[0]
    stranger = registered(make_user(), id_number=id_number())
    assert "只有活动组织队伍的管理员" in stranger.say(f"同意更正 {correction_id} 2 核实")
    assert "以 0.5 为单位" in organiser.say(f"同意更正 {correction_id} 二 核实")
    assert "请写明处理意见" in organiser.say(f"同意更正 {correction_id} 2")
    reply = organiser.say(f"同意更正 {correction_id} 2 现场照片显示其全程在场")
    assert f"更正申请 {correction_id} 已处理：已更正" in reply
    assert "该更正申请已处理" in organiser.say(f"驳回更正 {correction_id} 重复")
    told = [m.get("content", "") for m in fake_wechat.messages(volunteer.openid)]
    assert any("已更正为 2 小时" in text for text in told)
    assert "累计时长：2 小时" in volunteer.click("VOLUNTEER_HOURS")
    assert "暂无待处理的更正申请" in organiser.say(f"更正申请 {activity_id}")


def test_a_large_activity_is_confirmed_in_the_console(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    from tests.test_console_support import add_volunteers

    organiser = make_user(ORGANISER)
    activity_id = add_activity(db, organiser_team(db))
    for openid in add_volunteers(db, 21):
        sign_up(app, openid, activity_id)
    assert "人数较多，请在工作台" in organiser.say(f"签到名单 {activity_id}")
    assert "请在工作台" in organiser.say(f"确认时长 {activity_id}")
