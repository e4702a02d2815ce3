"""统计 → a figure's list → 导出 Excel in the team console: the list behind a number as .xlsx,
with the list's filters, nothing of another team, phones and ID numbers masked, audited."""

from __future__ import annotations

import re
from collections.abc import Callable
from urllib.parse import urlsplit

from flask import Flask
from flask.testing import FlaskClient

from infra.db import Database
from models.operator import AuditEntry
from services.reports_export import XLSX_MIME
from tests.team_console_steps import log_in, page_text, xlsx_rows
from tests.test_team_console_reports import fixed_teams, links, listed
from tests.wechat_user import WeChatUser

MakeUser = Callable[..., WeChatUser]
MASKED_ID = re.compile(r"^\d{4}\*{10}[\dX]{4}$")
MASKED_PHONE = re.compile(r"^1\d{2}\*{4}\d{4}$")


def export_of(client: FlaskClient, list_path: str) -> list[list[str]]:
    """The 导出 Excel link of a list page, downloaded: the sheet's rows (header first)."""
    page = page_text(client, list_path)
    found = re.search(r'id="list-export" href="([^"]+)"', page)
    assert found, page[:500]
    answer = client.get(found.group(1).replace("&amp;", "&"))
    assert answer.status_code == 200, answer.data[:300]
    assert answer.mimetype == XLSX_MIME
    assert answer.headers["Content-Disposition"].startswith("attachment; filename=team-")
    rows = xlsx_rows(answer.data)
    assert answer.headers["X-Export-Rows"] == str(len(rows) - 1)
    return rows


def path_of(link: str) -> str:
    parts = urlsplit(link)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def test_each_team_list_downloads_with_its_filters_and_masked_personal_data(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    a, branch, _b = fixed_teams(app, db, make_user)
    log_in(a)
    found = links(page_text(a.client, f"/team/t/{a.team.id}/reports"))

    # Members who joined in January (one of them in A and its 支队): the rows of the list.
    january = path_of(found["members_month"]["2026-01"])
    _total, shown = listed(a.client, january)
    rows = export_of(a.client, january)
    assert rows[0] == ["志愿者编号", "姓名", "手机号", "身份证号", "学历", "专业领域",
                       "所在队伍", "入队日期"]  # fmt: skip
    assert [r[:3] + r[4:] for r in rows[1:]] == shown  # the screen's columns, in its order
    assert {r[6] for r in rows[1:]} == {a.team.name, f"{a.team.name}、{branch.name}"}
    # Every member of A and its 支队: phones and ID numbers masked.
    everyone = export_of(a.client, f"/team/t/{a.team.id}/reports/volunteers")
    assert len(everyone) - 1 == 7
    assert all(MASKED_PHONE.match(r[2]) for r in everyone[1:]), everyone
    assert all(MASKED_ID.match(r[3]) for r in everyone[1:]), everyone
    # The education and skill filters.
    masters = export_of(a.client, path_of(found["volunteers_education"]["硕士研究生"]))
    assert len(masters) - 1 == 2 and {r[4] for r in masters[1:]} == {"硕士研究生"}
    science = export_of(a.client, path_of(found["volunteers_skill"]["科学普及"]))
    assert len(science) - 1 == 5 and all("科学普及" in r[5] for r in science[1:])

    # Activities: a month cut to the date range, and one team.
    spring = links(page_text(a.client, f"/team/t/{a.team.id}/reports?since=2026-02-13"))
    rows = export_of(a.client, path_of(spring["activities_month"]["2026-02"]))
    assert rows[0] == ["开始时间", "活动名称", "服务队", "地区", "状态"]
    assert [r[1] for r in rows[1:]] == ["甲队二月"]
    rows = export_of(a.client, path_of(found["activities_team"]["植物保护专委会支队"]))
    assert [(r[1], r[2]) for r in rows[1:]] == [("支队植保", branch.name)]

    # Confirmed hours of January: as listed, hours as numbers.
    january_hours = path_of(found["hours_month"]["2026-01"])
    _total, shown = listed(a.client, january_hours)
    rows = export_of(a.client, january_hours)
    assert rows[0] == ["服务日期", "志愿者编号", "姓名", "活动", "服务队", "时长（小时）"]
    assert [r[:5] for r in rows[1:]] == [r[:5] for r in shown] and len(rows) - 1 == 3
    assert {r[5] for r in rows[1:]} == {"2.5"}

    with db.Session() as session:
        entries = session.query(AuditEntry).filter_by(action="team_export_report_list").all()
    assert len(entries) == 7
    assert all(e.actor == f"队管:{a.volunteer_no}@{a.team.team_no}" for e in entries)
    assert {e.detail["list"] for e in entries if e.detail} == {"volunteers", "activities", "hours"}


def test_a_team_list_export_holds_nothing_of_another_team(
    app: Flask, db: Database, make_user: MakeUser
) -> None:
    a, branch, b = fixed_teams(app, db, make_user)
    log_in(a)
    hours = export_of(a.client, f"/team/t/{a.team.id}/reports/hours")
    assert len(hours) - 1 == 5 and sum(float(r[5]) for r in hours[1:]) == 15.5
    assert not any("乙队" in cell or b.team.name in cell for r in hours for cell in r)
    members = export_of(a.client, f"/team/t/{a.team.id}/reports/volunteers")
    assert not any(r[1].startswith("乙队") for r in members)
    # B's lists, or B named as one of A's teams, are out of reach.
    export = "/team/t/{}/reports/{}/export.xlsx"
    assert a.client.get(export.format(b.team.id, "volunteers")).status_code == 404
    refused = export.format(a.team.id, "hours") + f"?team={b.team.id}"
    assert a.client.get(refused).status_code == 400
    assert a.client.get(export.format(a.team.id, "activities") + "?since=x").status_code == 400

    log_in(b)
    assert b.client.get(export.format(branch.id, "activities")).status_code == 404
    activities = export_of(b.client, f"/team/t/{b.team.id}/reports/activities")
    assert [r[1] for r in activities[1:]] == ["乙队义诊"]
