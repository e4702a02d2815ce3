"""Needs in the dashboard on a fixed data set (the expected numbers are written here): posted and
served by month and by 市州/县区 within the operator's region, each row linking to the needs list
(.xlsx), whose contact phone is masked unless a province operator asks for the full export."""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from infra.db import Database
from models.need import DONE, MERGED, PENDING, PUBLISHED, Need
from services import reports, reports_needs
from services.operators import Scope
from tests.test_console_pages import region_client
from tests.test_console_support import province_client  # noqa: F401  (fixture)
from tests.test_reports_export import audits, sheet_rows

_n = iter(range(1, 10_000))


def need(
    db: Database, *, county: str, created: str, status: str = PUBLISHED, done: str | None = None,
    kind: str = "社区", field: str = "科学普及", requester: str | None = None, **values: Any,
) -> int:  # fmt: skip
    """A need posted at `created` (UTC, "YYYY-MM-DD HH:MM"), done at `done` if given; its id."""
    at = datetime.strptime(created, "%Y-%m-%d %H:%M")
    n = next(_n)
    with db.Session.begin() as session:
        row = Need(
            need_no=f"XQ{n:08d}", poster_openid=f"oNeed{n:023d}",
            requester_name=requester or f"需求方{n}", requester_kind=kind,
            prefecture_code=county[:4] + "00", county_code=county, field=field,
            description="科普讲座", people_needed=3, contact_name="王老师",
            contact_phone="13912345678", status=status, created_at=at, updated_at=at,
            published_at=None if status == PENDING else at,
            done_at=datetime.strptime(done, "%Y-%m-%d %H:%M") if done else None, **values,
        )  # fmt: skip
        session.add(row)
        session.flush()
        return row.id


def fixed_needs(db: Database) -> None:
    # 城关区: two in January, one of them served in February (Beijing time).
    need(db, county="620102", created="2026-01-10 02:00")
    need(db, county="620102", created="2026-01-12 02:00", status=DONE, done="2026-01-31 17:00")
    # 2026-01-31 17:00 UTC is 2026-02-01 01:00 in Beijing: posted in February.
    need(db, county="620103", created="2026-01-31 17:00", status=PENDING)
    # 秦州区: one posted and served in February, one merged duplicate (not counted).
    need(db, county="620502", created="2026-02-03 02:00", status=DONE, done="2026-02-20 02:00")
    need(db, county="620502", created="2026-02-04 02:00", status=MERGED)


def table(figures: list[reports.Figure], key: str) -> dict[str, float]:
    (figure,) = [f for f in figures if f.key == key]
    return {row.label: row.value for row in figure.rows if row.value}


def test_need_figures_on_a_fixed_data_set(app: Flask, db: Database) -> None:
    fixed_needs(db)
    with db.Session() as session:
        province = reports_needs.need_figures(session, reports.Filters.of(Scope()))
        lanzhou = reports_needs.need_figures(session, reports.Filters.of(Scope("620100")))
        february = reports_needs.need_figures(
            session, reports.Filters.of(Scope(), since="2026-02-01", until="2026-02-28")
        )

    assert table(province, "needs_month") == {"2026-01": 2, "2026-02": 2}
    assert table(province, "needs_served_month") == {"2026-02": 2}
    assert table(province, "needs_area") == {"兰州市": 3, "天水市": 1}
    assert table(province, "needs_served_area") == {"兰州市": 1, "天水市": 1}
    assert len(next(f for f in province if f.key == "needs_area").rows) == 14

    # A 市州 operator sees their own needs, by 县区.
    assert table(lanzhou, "needs_month") == {"2026-01": 2, "2026-02": 1}
    assert table(lanzhou, "needs_served_month") == {"2026-02": 1}
    assert table(lanzhou, "needs_area") == {"兰州市城关区": 2, "兰州市七里河区": 1}
    assert table(lanzhou, "needs_served_area") == {"兰州市城关区": 1}

    # Served needs are dated by completion, posted ones by submission (Beijing days).
    assert table(february, "needs_month") == {"2026-02": 2}
    assert table(february, "needs_served_area") == {"兰州市": 1, "天水市": 1}


def figures_data(client: FlaskClient) -> dict[str, dict]:  # type: ignore[type-arg]
    page = client.get("/console/reports").get_data(as_text=True)
    found = re.search(r'id="figures-data">(.*?)</script>', page, re.S)
    assert found is not None
    return {f["key"]: f for f in json.loads(found.group(1))}


def listed(client: FlaskClient, path: str) -> tuple[int, list[str]]:
    """The needs list page: its total and the numbers of the needs on the page."""
    page = client.get(path).get_data(as_text=True)
    total = re.search(r"共 (\d+) 条", page)
    assert total, page[:500]
    table = page[page.index('id="needs-table"') :]
    return int(total.group(1)), re.findall(r'<tr id="need-(XQ\d+)">', table)


def test_each_need_figure_links_to_the_filtered_needs_list_and_its_export(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    fixed_needs(db)
    figures = figures_data(province_client)
    served = next(r for r in figures["needs_served_area"]["rows"] if r["label"] == "天水市")
    assert served["value"] == 1 and "served=1" in served["link"]
    assert served["link"].startswith("/console/needs?") and served["link"].endswith("#needs-list")
    total, numbers = listed(province_client, served["link"])
    assert total == 1 and len(numbers) == 1
    page = province_client.get(served["link"]).get_data(as_text=True)
    export = re.search(r'href="(/console/needs\.xlsx\?[^"]+)"', page)
    assert export and "served=1" in export.group(1) and "region=620500" in export.group(1)
    rows = sheet_rows(province_client.get(export.group(1).replace("&amp;", "&")))
    assert rows[0][:3] == ["需求编号", "需求方", "类型"]
    assert len(rows) == 2 and rows[1][3] == "天水市秦州区" and rows[1][9] == "已完成"
    assert rows[1][8] == "139****5678" and rows[1][0] == numbers[0]

    january = next(r for r in figures["needs_month"]["rows"] if r["label"] == "2026-01")
    assert "since=2026-01-01" in january["link"] and "until=2026-01-31" in january["link"]
    assert listed(province_client, january["link"])[0] == 2
    for key in ("needs_month", "needs_served_month", "needs_area", "needs_served_area"):
        for row in figures[key]["rows"]:
            if row["link"]:
                assert listed(province_client, row["link"])[0] == row["value"], (key, row)

    full = sheet_rows(province_client.get("/console/needs.xlsx?full=1&region=620100"))
    assert len(full) == 1 + 3 and {r[8] for r in full[1:]} == {"13912345678"}
    (entry,) = audits(db, "export_full")
    assert entry.detail["list"] == "needs" and entry.detail["rows"] == 3
    assert entry.detail["region"] == "620100"

    listed_page = province_client.get("/console/needs").get_data(as_text=True)
    assert "/console/needs.xlsx" in listed_page and "/console/needs.xlsx?full=1" in listed_page

    lanzhou = region_client(app, db)
    listed_page = lanzhou.get("/console/needs").get_data(as_text=True)
    assert "/console/needs.xlsx" in listed_page and "full=1" not in listed_page
    mine = figures_data(lanzhou)
    assert "needs_served_month" in mine and mine["needs_area"]["title"].endswith("（按县区）")
    rows = sheet_rows(lanzhou.get("/console/needs.xlsx"))
    assert len(rows) == 1 + 3 and {r[8] for r in rows[1:]} == {"139****5678"}
    assert lanzhou.get("/console/needs.xlsx?full=1").status_code == 403
    assert lanzhou.get("/console/needs.xlsx?region=620500").status_code == 400
