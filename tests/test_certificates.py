"""Service certificates: issued as PDF from confirmed records, verifiable at /verify/<code>,
frozen after issue, superseded by a newer one."""

from __future__ import annotations

import subprocess
from datetime import date, datetime, timedelta
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import update

from infra.db import Database
from models.activity import Activity
from models.certificate import Certificate
from services import attendance_records, certificates
from tests.service_steps import add_activity, organiser_team, registered, volunteer_of
from tests.wechat_user import WeChatUser


def _records(app: Flask, db: Database, user: WeChatUser) -> None:
    """Two confirmed records (2.5 h in March, 3 h in May) and an absence."""
    team_id = organiser_team(db)
    volunteer = volunteer_of(app, user)
    plan = [
        ("春季科普大集", datetime(2026, 3, 14, 1, 0), "2.5", False),
        ("全国科技工作者日科普展", datetime(2026, 5, 30, 1, 0), "3", False),
        ("农技下乡", datetime(2026, 6, 6, 1, 0), "0", True),
    ]
    for title, start, hours, absent in plan:
        activity_id = add_activity(db, team_id, title=title, starts_at=start)
        with db.Session.begin() as session:
            activity = session.get(Activity, activity_id)
            assert activity is not None
            if absent:
                attendance_records.mark_absent(session, activity, volunteer.id, "李队长")
            else:
                attendance_records.adjust(
                    session, activity, volunteer.id, Decimal(hours), "补录纸质签到表", "李队长"
                )


def _issue(app: Flask, user: WeChatUser, **period: date) -> str:
    services = app.extensions["services"]
    settings = services.settings
    with services.db.Session.begin() as session:
        volunteer = volunteer_of(app, user)
        certificate = certificates.issue(
            session,
            session.merge(volunteer),
            issuer=settings.certificate_issuer,
            base_url=settings.public_base_url,
            **period,
        )
        return certificate.code


def _pdf_text(client: FlaskClient, code: str) -> str:
    response = client.get(f"/verify/{code}.pdf")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    # pdftotext (Debian's poppler-utils) reads the text as a PDF viewer would copy it.
    done = subprocess.run(
        ["pdftotext", "-layout", "-", "-"], input=response.data, capture_output=True, check=True
    )
    return done.stdout.decode()


def test_certificate_pdf_has_the_records_masked_id_and_verification_code(
    app: Flask, db: Database, client: FlaskClient, wechat_user: WeChatUser
) -> None:
    registered(wechat_user)
    _records(app, db, wechat_user)
    code = _issue(app, wechat_user)

    text = _pdf_text(client, code)
    for expected in (
        "志愿服务证明",
        "张三",
        "1101**********002X",
        volunteer_of(app, wechat_user).volunteer_no,
        "春季科普大集",
        "全国科技工作者日科普展",
        "累计5.5小时",
        "甘肃省科技志愿服务总队",
        code,
        f"/verify/{code}",
    ):
        assert expected in "".join(text.split()), expected
    assert "11010519491231002X" not in text
    assert "农技下乡" not in text  # an absence is no service


def test_verify_page_shows_genuine_and_masked_contents(
    app: Flask, db: Database, client: FlaskClient, wechat_user: WeChatUser
) -> None:
    registered(wechat_user)
    _records(app, db, wechat_user)
    code = _issue(app, wechat_user)

    page = client.get(f"/verify/{code}").get_data(as_text=True)
    assert "真实有效" in page
    assert "张*" in page and "张三" not in page
    assert "1101**********002X" in page
    assert "5.5 小时" in page
    assert "春季科普大集" in page
    # typed with dashes and in lower case, through the form
    typed = "-".join(code[i : i + 4] for i in range(0, 16, 4)).lower()
    assert "真实有效" in client.get("/verify", query_string={"code": typed}).get_data(as_text=True)


def test_certificate_for_a_date_range(
    app: Flask, db: Database, client: FlaskClient, wechat_user: WeChatUser
) -> None:
    registered(wechat_user)
    _records(app, db, wechat_user)
    code = _issue(app, wechat_user, period_from=date(2026, 5, 1), period_to=date(2026, 12, 31))

    page = client.get(f"/verify/{code}").get_data(as_text=True)
    assert "2026-05-01 至 2026-12-31" in page
    assert "全国科技工作者日科普展" in page and "春季科普大集" not in page
    assert "3 小时" in page


def test_a_new_certificate_supersedes_the_old_one(
    app: Flask, db: Database, client: FlaskClient, wechat_user: WeChatUser
) -> None:
    registered(wechat_user)
    _records(app, db, wechat_user)
    first = _issue(app, wechat_user)
    second = _issue(app, wechat_user)

    old = client.get(f"/verify/{first}").get_data(as_text=True)
    assert "已被新证明取代" in old
    assert "真实有效" in client.get(f"/verify/{second}").get_data(as_text=True)
    # the old PDF is still the one that was issued
    assert first in _pdf_text(client, first)


def test_a_certificate_cannot_be_altered_after_issue(
    app: Flask, db: Database, client: FlaskClient, wechat_user: WeChatUser
) -> None:
    registered(wechat_user)
    _records(app, db, wechat_user)
    code = _issue(app, wechat_user)
    with db.Session.begin() as session:
        certificate = certificates.by_code(session, code)
        assert certificate is not None
        forged = {**certificate.content, "total_hours": "500"}
        session.execute(
            update(Certificate).where(Certificate.id == certificate.id).values(content=forged)
        )

    page = client.get(f"/verify/{code}").get_data(as_text=True)
    assert "校验失败" in page
    assert "500" not in page


def test_unknown_or_malformed_codes_are_not_found(client: FlaskClient, db: Database) -> None:
    for code in ("0000000000000000", "not-a-code", "<script>"):
        response = client.get(f"/verify/{code}")
        assert response.status_code == 404
        assert "未找到" in response.get_data(as_text=True)
    assert client.get("/verify/0000000000000000.pdf").status_code == 404


def test_records_are_dated_in_beijing_time(
    app: Flask, db: Database, wechat_user: WeChatUser
) -> None:
    """An activity at 07:00 Beijing on 1 June is stored as 23:00 UTC on 31 May."""
    registered(wechat_user)
    team_id = organiser_team(db)
    activity_id = add_activity(db, team_id, starts_at=datetime(2026, 5, 31, 23, 0) + timedelta(0))
    volunteer = volunteer_of(app, wechat_user)
    with db.Session.begin() as session:
        activity = session.get(Activity, activity_id)
        assert activity is not None
        record = attendance_records.adjust(
            session, activity, volunteer.id, Decimal(2), "补录", "李队长"
        )
        assert record.service_date == date(2026, 6, 1)


def test_deregistration_deletes_the_certificates(
    app: Flask, db: Database, client: FlaskClient, wechat_user: WeChatUser
) -> None:
    """A certificate carries the name: 注销 (PIPL art. 47) deletes it with the profile."""
    from services import volunteers

    registered(wechat_user)
    _records(app, db, wechat_user)
    first, second = _issue(app, wechat_user), _issue(app, wechat_user)
    with db.Session.begin() as session:
        volunteer = volunteers.find_by_openid(session, wechat_user.openid)
        assert volunteer is not None
        volunteers.deregister(session, volunteer)
    for code in (first, second):
        assert client.get(f"/verify/{code}").status_code == 404
        assert client.get(f"/verify/{code}.pdf").status_code == 404
