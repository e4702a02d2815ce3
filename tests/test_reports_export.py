"""Console lists as .xlsx: the page's filters, Beijing time, masking, the province-only full
export (audited with its row count), scoping, and a 100,000-row export with flat memory."""

from __future__ import annotations

import gc
import io
import os
import threading
import time
from collections.abc import Callable
from typing import Any

from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import insert, select, update

from domain import team_names
from infra.db import Database
from models.base import utcnow
from models.operator import AuditEntry
from models.volunteer import Volunteer
from tests.test_console_pages import region_client
from tests.test_console_support import (
    add_activity,
    add_team,
    add_volunteers,
    join_team,
    province_client,  # noqa: F401  (fixture)
    queue_notice,
)
from tests.volunteer_steps import GOOD_ID, register
from tests.wechat_user import WeChatUser


def sheet_rows(response: Any) -> list[list[Any]]:
    assert response.status_code == 200, response.data[:300]
    assert response.mimetype.endswith("spreadsheetml.sheet")
    book = load_workbook(io.BytesIO(response.data), read_only=True)
    rows = [list(r) for r in book.active.iter_rows(values_only=True)]
    book.close()
    return rows


def audits(db: Database, action: str) -> list[AuditEntry]:
    with db.Session() as session:
        return list(session.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_volunteer_export_keeps_filters_masks_and_shows_beijing_time(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    farmers = add_volunteers(db, 2, skills=("农业技术",), name="农技员", phone="13912345678")
    add_volunteers(db, 3, county_code="620103", education="博士研究生", name="博士")
    add_volunteers(db, 1, prefecture_code="620500", county_code="620502", name="天水人")
    team = add_team(db, "甘肃省农学会科技志愿服务队")
    join_team(db, team, farmers[:1])
    with db.Session.begin() as session:
        # 2026-03-01 17:30 UTC is 2026-03-02 01:30 in Beijing.
        session.execute(
            update(Volunteer).values(
                created_at=utcnow().replace(
                    year=2026, month=3, day=1, hour=17, minute=30, second=0, microsecond=0
                )
            )
        )

    page = province_client.get("/console/volunteers?skill=农业技术").get_data(as_text=True)
    assert "/console/volunteers.xlsx?skill=" in page and "导出Excel" in page

    rows = sheet_rows(province_client.get("/console/volunteers.xlsx?skill=农业技术"))
    assert rows[0][:5] == ["志愿者编号", "姓名", "性别", "身份证号", "手机号"]
    assert len(rows) == 3 and all(r[1].startswith("农技员") for r in rows[1:])
    assert {r[4] for r in rows[1:]} == {"139****5678"}
    assert {r[3] for r in rows[1:]} == {"6201**********123X"}
    assert {r[11] for r in rows[1:]} == {"2026-03-02 01:30"}

    only = sheet_rows(
        province_client.get(f"/console/volunteers.xlsx?skill=农业技术&team_id={team}")
    )
    assert len(only) == 2
    doctors = sheet_rows(province_client.get("/console/volunteers.xlsx?region=620103"))
    assert len(doctors) == 4 and all(r[1].startswith("博士") for r in doctors[1:])
    assert {r[6] for r in doctors[1:]} == {"兰州市七里河区"}
    by_day = sheet_rows(
        province_client.get("/console/volunteers.xlsx?since=2026-03-02&until=2026-03-02")
    )
    assert len(by_day) == 7
    assert len(sheet_rows(province_client.get("/console/volunteers.xlsx?until=2026-03-01"))) == 1

    entries = audits(db, "export")
    assert [e.detail["rows"] for e in entries] == [2, 1, 3, 6, 0]
    assert entries[0].detail["skill"] == "农业技术" and entries[0].detail["full"] is False


def test_full_export_is_for_province_operators_and_audited(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    wechat_user: WeChatUser,
) -> None:
    assert "注册成功" in register(wechat_user)
    add_volunteers(db, 2, prefecture_code="620100")

    page = province_client.get("/console/volunteers").get_data(as_text=True)
    assert "full=1" in page
    rows = sheet_rows(province_client.get("/console/volunteers.xlsx?full=1&q=张三"))
    assert rows[1][1] == "张三" and rows[1][3] == GOOD_ID and rows[1][4] == "13812345678"
    (entry,) = audits(db, "export_full")
    assert entry.actor == "sheng" and entry.detail["rows"] == 1 and entry.detail["q"] == "张三"
    assert "含完整个人信息" in entry.summary

    lanzhou = region_client(app, db, "620100")
    assert "full=1" not in lanzhou.get("/console/volunteers").get_data(as_text=True)
    assert lanzhou.get("/console/volunteers.xlsx?full=1").status_code == 403
    masked = sheet_rows(lanzhou.get("/console/volunteers.xlsx"))
    assert len(masked) == 4 and GOOD_ID not in {r[3] for r in masked}
    assert lanzhou.get("/console/volunteers.xlsx?region=620500").status_code == 400


def test_teams_activities_and_deliveries_export_within_the_region(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    lanzhou_team = add_team(
        db, "兰州市科技志愿服务队", kind=team_names.PREFECTURE, prefecture_code="620100"
    )
    tianshui_team = add_team(
        db, "天水市科技志愿服务队", kind=team_names.PREFECTURE, prefecture_code="620500"
    )
    add_activity(db, lanzhou_team, title="兰州科普进社区")
    add_activity(db, tianshui_team, title="天水农技下乡", prefecture_code="620500",
                 county_code="620502")  # fmt: skip

    teams = sheet_rows(province_client.get("/console/teams.xlsx"))
    assert {r[1] for r in teams[1:]} >= {"兰州市科技志愿服务队", "天水市科技志愿服务队"}
    lanzhou = region_client(app, db, "620100")
    assert [r[1] for r in sheet_rows(lanzhou.get("/console/teams.xlsx"))[1:]] == [
        "兰州市科技志愿服务队"
    ]
    acts = sheet_rows(lanzhou.get("/console/activities.xlsx?status=published"))
    assert [r[1] for r in acts[1:]] == ["兰州科普进社区"]
    assert acts[1][8] == "兰州市科技志愿服务队" and acts[1][10] == "招募中"
    assert len(sheet_rows(province_client.get("/console/activities.xlsx"))) == 3
    assert len(sheet_rows(province_client.get("/console/activities.xlsx?status=draft"))) == 1

    notice_id = queue_notice(app)
    from models.notice import Notice, NoticeRecipient

    with db.Session.begin() as session:
        notice = session.get(Notice, notice_id)
        assert notice is not None
        session.add_all(
            NoticeRecipient(notice_id=notice_id, openid=f"oDelivery{n:019d}") for n in range(3)
        )
    page = province_client.get(f"/console/notices/{notice_id}").get_data(as_text=True)
    assert f"/console/notices/{notice_id}/recipients.xlsx" in page
    sent = sheet_rows(province_client.get(f"/console/notices/{notice_id}/recipients.xlsx"))
    assert len(sent) == 4 and sent[1][0] == "oDel****0000" and sent[1][3] == "待发送"
    assert lanzhou.get(f"/console/notices/{notice_id}/recipients.xlsx").status_code == 404


class RssPeak:
    """The process's resident memory, sampled every 10 ms in a thread: the peak above the
    level when sampling started (no tracing overhead, C allocations included)."""

    def __init__(self) -> None:
        self.base = self.peak = rss_bytes()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)

    def _sample(self) -> None:
        while not self._stop.wait(0.01):
            self.peak = max(self.peak, rss_bytes())

    def __enter__(self) -> RssPeak:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss_bytes())

    @property
    def growth(self) -> int:
        return self.peak - self.base


def rss_bytes() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def measure_export(client: FlaskClient, url: str) -> tuple[int, int, float]:
    """(rows, growth of resident memory in bytes, seconds) of one export read as a stream."""
    gc.collect()
    started = time.monotonic()
    with RssPeak() as memory:
        response = client.get(url)
        size = sum(len(chunk) for chunk in response.iter_encoded())
    assert response.status_code == 200 and size > 0
    return int(response.headers["X-Export-Rows"]), memory.growth, time.monotonic() - started


def many_volunteers(db: Database, first: int, stop: int) -> None:
    """Volunteers numbered first..stop-1 (unique numbers and openids, not random ones)."""
    now = utcnow()
    with db.Session.begin() as session:
        for start in range(first, stop, 2000):
            session.execute(
                insert(Volunteer),
                [
                    {
                        "volunteer_no": f"KE{n:010d}",
                        "openid": f"oExport{n:021d}",
                        "status": "active",
                        "name": f"志愿者{n}",
                        "id_number_masked": "6201**********123X",
                        "phone": "13812345678",
                        "education": "本科",
                        "prefecture_code": "620100",
                        "county_code": "620102",
                        "skills": ["科学普及"],
                        "service_times": ["周末"],
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n in range(start, min(start + 2000, stop))
                ],
            )


def test_a_100000_row_export_streams_with_flat_memory(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    record_property: Callable[[str, object], None],
) -> None:
    many_volunteers(db, 0, 10_000)
    small_rows, small_peak, _ = measure_export(province_client, "/console/volunteers.xlsx")
    many_volunteers(db, 10_000, 100_000)
    rows, peak, seconds = measure_export(province_client, "/console/volunteers.xlsx")
    record_property("export_100k_rss_growth_bytes", peak)
    record_property("export_100k_seconds", round(seconds, 1))
    print(f"export: 10,000 rows +{small_peak / 2**20:.1f} MiB RSS; "
          f"100,000 rows +{peak / 2**20:.1f} MiB RSS in {seconds:.1f} s")  # fmt: skip
    assert (small_rows, rows) == (10_000, 100_000)
    # Ten times the rows, about the same memory: one batch of rows at a time, never the list
    # (the list itself would take well over 100 MiB).
    assert peak < small_peak + 16 * 2**20, (small_peak, peak)
    assert peak < 48 * 2**20


def test_an_activity_roster_exports_sign_ups_attendance_and_hours(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    from datetime import date, timedelta
    from decimal import Decimal

    from models.activity import SIGNED_UP, SIGNUP_CANCELLED, WAITLISTED, Signup
    from models.service import Attendance, ServiceRecord

    team = add_team(
        db, "兰州市科技志愿服务队", kind=team_names.PREFECTURE, prefecture_code="620100"
    )
    activity_id = add_activity(db, team, title="城关科普")
    openids = add_volunteers(db, 3, phone="13912345678", name="报名人")
    with db.Session.begin() as session:
        ids = [session.scalar(select(Volunteer.id).where(Volunteer.openid == o)) for o in openids]
        for volunteer_id, status, position in zip(
            ids, (SIGNED_UP, WAITLISTED, SIGNUP_CANCELLED), (None, 1, None), strict=True
        ):
            session.add(
                Signup(
                    activity_id=activity_id,
                    volunteer_id=volunteer_id,
                    status=status,
                    waitlist_position=position,
                )
            )
        start = utcnow().replace(year=2026, month=3, day=1, hour=1, minute=0, second=0,
                                 microsecond=0)  # fmt: skip
        session.add(
            Attendance(
                activity_id=activity_id,
                volunteer_id=ids[0],
                checked_in_at=start,
                check_in_method="qr",
                checked_out_at=start + timedelta(hours=3),
                check_out_method="qr",
            )
        )
        session.add(
            ServiceRecord(
                activity_id=activity_id,
                volunteer_id=ids[0],
                hours=Decimal("3.0"),
                activity_title="城关科普",
                service_date=date(2026, 3, 1),
                place="馆",
                content="科普",
                organiser="兰州市科技志愿服务队",
                recorder="队长",
                recorded_at=start,
            )
        )
    page = province_client.get(f"/console/activities/{activity_id}").get_data(as_text=True)
    assert f"/console/activities/{activity_id}/roster.xlsx" in page
    rows = sheet_rows(province_client.get(f"/console/activities/{activity_id}/roster.xlsx"))
    assert [r[3] for r in rows[1:]] == ["已报名", "候补", "已取消"]
    first = rows[1]
    assert first[2] == "139****5678" and first[6] == "2026-03-01 09:00"
    assert first[7] == "2026-03-01 12:00" and first[8] == "已确认" and first[9] == 3
    assert rows[2][4] == 1
    full = sheet_rows(province_client.get(f"/console/activities/{activity_id}/roster.xlsx?full=1"))
    assert full[1][2] == "13912345678"
    lanzhou = region_client(app, db, "620500")
    assert lanzhou.get(f"/console/activities/{activity_id}/roster.xlsx").status_code == 404
