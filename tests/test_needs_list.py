"""The console needs list on a fixed data set (the expected numbers are written here): each
filter (status, 市州/县区 within the scope, field, requester kind, dates, 已完成), paging, and
the export taking the same filters."""

from __future__ import annotations

import re

from flask import Flask
from flask.testing import FlaskClient

from infra.db import Database
from models.need import DONE, MERGED, PENDING, PUBLISHED, REJECTED
from tests.test_console_pages import region_client
from tests.test_console_support import province_client  # noqa: F401  (fixture)
from tests.test_reports_export import sheet_rows
from tests.test_reports_needs import fixed_needs, listed, need


def more_needs(db: Database) -> None:
    """fixed_needs (2 城关, 1 七里河, 2 秦州 of which 1 merged; all 社区 科学普及) and two more."""
    fixed_needs(db)
    need(db, county="620102", created="2026-02-05 02:00", kind="乡村", field="农业技术")
    need(db, county="620103", created="2026-03-01 02:00", status=REJECTED, kind="学校",
         field="信息技术")  # fmt: skip


def total(client: FlaskClient, query: str) -> int:
    return listed(client, "/console/needs?" + query)[0]


def test_each_filter_of_the_needs_list(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    more_needs(db)
    assert total(province_client, "") == 6  # merged duplicates left out
    assert total(province_client, f"status={PUBLISHED}") == 2
    assert total(province_client, f"status={MERGED}") == 1
    assert total(province_client, f"status={PENDING}") == 1
    assert total(province_client, f"status={DONE}") == 2
    assert total(province_client, "region=620100") == 5
    assert total(province_client, "region=620102") == 3
    assert total(province_client, "region=620500") == 1
    assert total(province_client, "field=农业技术") == 1
    assert total(province_client, "kind=乡村") == 1
    assert total(province_client, "kind=社区") == 4
    # Beijing dates: 2026-01-31 17:00 UTC was submitted on 1 February.
    assert total(province_client, "since=2026-02-01&until=2026-02-28") == 3
    assert total(province_client, "served=1") == 2
    assert total(province_client, "served=1&since=2026-02-01") == 2
    assert total(province_client, "served=1&until=2026-01-31") == 0
    assert total(province_client, "region=620100&kind=社区&since=2026-01-01&until=2026-01-31") == 2

    page = province_client.get("/console/needs?region=620102&kind=乡村").get_data(as_text=True)
    assert 'option value="620102" selected' in page and "<option selected>乡村</option>" in page
    export = re.search(r'href="(/console/needs\.xlsx\?[^"]+)"', page)
    assert export is not None
    rows = sheet_rows(province_client.get(export.group(1).replace("&amp;", "&")))
    assert [r[2] for r in rows[1:]] == ["乡村"] and rows[1][4] == "农业技术"
    rows = sheet_rows(province_client.get("/console/needs.xlsx?status=rejected"))
    assert [(r[2], r[9]) for r in rows[1:]] == [("学校", "已退回")]

    # A bad date or a region outside the scope: said, and the whole scope is shown.
    page = province_client.get("/console/needs?since=2026-13-01").get_data(as_text=True)
    assert "日期" in page and "共 6 条" in page

    lanzhou = region_client(app, db)
    assert total(lanzhou, "") == 5
    assert total(lanzhou, "region=620103") == 2
    page = lanzhou.get("/console/needs?region=620500").get_data(as_text=True)
    assert "只能选择本辖区内的地区" in page and "共 5 条" in page
    assert lanzhou.get("/console/needs.xlsx?region=620500").status_code == 400
    assert len(sheet_rows(lanzhou.get("/console/needs.xlsx?kind=学校"))) == 1 + 1


def test_the_needs_list_is_paged_and_keeps_its_filters(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    for day in range(1, 28):
        need(db, county="620102", created=f"2026-04-{day:02d} 02:00")
        need(db, county="620102", created=f"2026-04-{day:02d} 03:00", kind="乡村")
    need(db, county="620502", created="2026-04-01 02:00", kind="乡村")
    count, first = listed(province_client, "/console/needs?kind=乡村&region=620102")
    assert count == 27 and len(first) == 27
    count, first = listed(province_client, "/console/needs?region=620102")
    assert count == 54 and len(first) == 50
    page = province_client.get("/console/needs?region=620102").get_data(as_text=True)
    assert "第 1/2 页" in page
    following = re.search(r'href="\?([^"]*page=2[^"]*)"', page)
    assert following is not None and "region=620102" in following.group(1)
    next_page = following.group(1).replace("&amp;", "&")
    count, second = listed(province_client, "/console/needs?" + next_page)
    assert count == 54 and len(second) == 4 and not set(first) & set(second)
