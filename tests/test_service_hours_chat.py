"""志愿者 → 服务时长, 「服务记录」 and 「申请证明」 as conversations."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient

from domain import clock
from infra.db import Database
from models.activity import Activity
from services import attendance_records
from tests.service_steps import add_activity, organiser_team, registered, volunteer_of
from tests.wechat_user import WeChatUser


def _confirmed(app: Flask, db: Database, user: WeChatUser, hours: list[str]) -> None:
    """One confirmed record per entry of `hours`, a week apart, the last one yesterday."""
    team_id = organiser_team(db)
    volunteer = volunteer_of(app, user)
    first = clock.utcnow() - timedelta(days=7 * len(hours))
    for index, value in enumerate(hours):
        activity_id = add_activity(
            db, team_id, title=f"科普活动{index + 1}", starts_at=first + timedelta(days=7 * index)
        )
        with db.Session.begin() as session:
            activity = session.get(Activity, activity_id)
            assert activity is not None
            attendance_records.adjust(
                session, activity, volunteer.id, Decimal(value), "纸质签到表补录", "李队长"
            )


def test_hours_before_registering_point_to_registration(wechat_user: WeChatUser) -> None:
    reply = wechat_user.click("VOLUNTEER_HOURS")
    assert "还不是注册志愿者" in reply and "注册" in reply
    assert "功能即将上线" not in reply


def test_hours_without_records(wechat_user: WeChatUser) -> None:
    registered(wechat_user)
    reply = wechat_user.click("VOLUNTEER_HOURS")
    assert "累计时长：0 小时" in reply
    assert "参加活动：0 次" in reply
    assert "暂未评星，距「一星」还差 100 小时" in reply
    assert "暂无经确认的服务记录" in reply


def test_hours_show_total_activities_star_and_latest_records(
    app: Flask, db: Database, wechat_user: WeChatUser
) -> None:
    registered(wechat_user)
    _confirmed(app, db, wechat_user, ["40", "35.5", "30", "2.5"])
    reply = wechat_user.click("VOLUNTEER_HOURS")
    assert "累计时长：108 小时" in reply
    assert "参加活动：4 次" in reply
    assert "一星志愿者，距「二星」还差 192 小时" in reply
    # the three latest, newest first
    assert reply.index("科普活动4") < reply.index("科普活动3") < reply.index("科普活动2")
    assert "科普活动1" not in reply
    assert wechat_user.say("服务时长") == reply


def test_service_records_are_paged(app: Flask, db: Database, wechat_user: WeChatUser) -> None:
    registered(wechat_user)
    _confirmed(app, db, wechat_user, ["1"] * 10)
    first = wechat_user.say("服务记录")
    assert "共 10 条，第 1/2 页" in first
    assert "科普活动10" in first and "科普活动2" not in first
    assert "组织方：兰州市科技志愿服务队" in first and "记录人：李队长" in first
    assert "回复「服务记录 2」查看下一页" in first
    assert len(first.encode()) < 2048  # WeChat cuts longer text
    second = wechat_user.say("服务记录 2")
    assert "第 2/2 页" in second and "科普活动1｜1 小时" in second
    assert "下一页" not in second
    assert "请回复「服务记录 1」到「服务记录 2」" in wechat_user.say("服务记录 9")


def test_certificate_for_all_records_gives_pdf_and_verify_links(
    app: Flask, db: Database, client: FlaskClient, wechat_user: WeChatUser
) -> None:
    registered(wechat_user)
    _confirmed(app, db, wechat_user, ["3", "2.5"])
    assert "证明包含的服务记录" in wechat_user.say("申请证明")
    summary = wechat_user.say("1")
    assert "全部服务记录" in summary
    reply = wechat_user.say("确认")
    assert "志愿服务证明已开具" in reply
    assert "共 2 次活动、5.5 小时" in reply
    pdf = re.search(r"http://127\.0\.0\.1:8000(/verify/\w+\.pdf)", reply)
    page = re.search(r"在线核验：http://127\.0\.0\.1:8000(/verify/\w+)", reply)
    assert pdf and page
    assert client.get(pdf.group(1)).mimetype == "application/pdf"
    assert "真实有效" in client.get(page.group(1)).get_data(as_text=True)


def test_certificate_for_a_date_range_with_bad_dates_first(
    app: Flask, db: Database, client: FlaskClient, wechat_user: WeChatUser
) -> None:
    registered(wechat_user)
    _confirmed(app, db, wechat_user, ["3", "2.5"])  # 14 and 7 days ago
    wechat_user.say("申请证明")
    assert "开始日期" in wechat_user.say("2")
    assert "格式" in wechat_user.say("上个月")
    tomorrow = (clock.beijing_date() + timedelta(days=1)).isoformat()
    assert "不能晚于今天" in wechat_user.say(tomorrow)
    ten_days_ago = clock.beijing_date() - timedelta(days=10)
    assert "结束日期" in wechat_user.say(ten_days_ago.isoformat())
    too_early = (ten_days_ago - timedelta(days=1)).isoformat()
    assert "不能早于开始日期" in wechat_user.say(too_early)
    assert "请核对" in wechat_user.say("今天")
    reply = wechat_user.say("确认")
    assert f"范围：{ten_days_ago.isoformat()} 至 {clock.beijing_date().isoformat()}" in reply
    assert "共 1 次活动、2.5 小时" in reply


def test_certificate_needs_confirmed_records(wechat_user: WeChatUser) -> None:
    assert "还不是注册志愿者" in wechat_user.say("申请证明")
    registered(wechat_user)
    assert "还没有经组织方确认的服务记录" in wechat_user.say("申请证明")


def test_asking_again_supersedes_the_earlier_certificate(
    app: Flask, db: Database, client: FlaskClient, wechat_user: WeChatUser
) -> None:
    registered(wechat_user)
    _confirmed(app, db, wechat_user, ["3"])
    codes = []
    for _ in range(2):
        wechat_user.say("申请证明")
        wechat_user.say("1")
        reply = wechat_user.say("确认")
        found = re.search(r"验证码：(\w+)", reply)
        assert found
        codes.append(found.group(1))
    assert "已被新证明取代" in client.get(f"/verify/{codes[0]}").get_data(as_text=True)
    assert "真实有效" in client.get(f"/verify/{codes[1]}").get_data(as_text=True)
