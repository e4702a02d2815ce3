"""The dashboard's figures on a fixed data set (the expected numbers are written here), their
scope and filters, the links to the lists behind them, and the table/CSV/xlsx views."""

from __future__ import annotations

import io
import json
import re
from datetime import date, datetime
from decimal import Decimal

from flask import Flask
from flask.testing import FlaskClient
from openpyxl import load_workbook
from sqlalchemy import insert

from domain import team_names
from infra.db import Database
from models.base import utcnow
from models.service import RECORD_ABSENT, RECORD_CONFIRMED, ServiceRecord
from models.volunteer import DEREGISTERED, Volunteer
from services import reports
from services.operators import Scope
from tests.test_console_pages import region_client
from tests.test_console_support import (
    add_activity,
    add_team,
    province_client,  # noqa: F401  (fixture)
)

_n = iter(range(1, 10_000))


def volunteers(
    db: Database, count: int, *, created: str, county: str, education: str, occupation: str,
    skills: list[str], status: str = "active",
) -> list[int]:  # fmt: skip
    """`count` volunteers registered at `created` (UTC, "YYYY-MM-DD HH:MM")."""
    at = datetime.strptime(created, "%Y-%m-%d %H:%M")
    ids = []
    with db.Session.begin() as session:
        for _ in range(count):
            n = next(_n)
            ids.append(
                session.execute(
                    insert(Volunteer).values(
                        volunteer_no=f"KF{n:010d}",
                        openid=f"oFig{n:024d}",
                        status=status,
                        name=f"统计{n}",
                        education=education,
                        occupation=occupation,
                        prefecture_code=county[:4] + "00",
                        county_code=county,
                        skills=skills,
                        service_times=["周末"],
                        created_at=at,
                        updated_at=at,
                    )
                ).inserted_primary_key[0]
            )
    return ids


def records(db: Database, activity_id: int, people: list[int], hours: str, day: date,
            status: str = RECORD_CONFIRMED) -> None:  # fmt: skip
    with db.Session.begin() as session:
        for volunteer_id in people:
            session.add(
                ServiceRecord(
                    activity_id=activity_id, volunteer_id=volunteer_id, status=status,
                    hours=Decimal(hours), activity_title="统计活动", service_date=day,
                    place="科技馆", content="科普", organiser="服务队", recorder="测试",
                    recorded_at=datetime(2026, 3, 1),
                )
            )  # fmt: skip


def fixed_data(db: Database) -> None:
    chengguan = volunteers(db, 3, created="2026-01-15 02:00", county="620102", education="本科",
                           occupation="教师", skills=["科学普及", "农业技术"])  # fmt: skip
    # 2026-01-31 17:00 UTC is 2026-02-01 01:00 in Beijing: a February registration.
    volunteers(db, 2, created="2026-01-31 17:00", county="620103", education="硕士研究生",
               occupation="科研人员", skills=["信息技术"])  # fmt: skip
    qinzhou = volunteers(db, 4, created="2026-02-10 08:00", county="620502", education="本科",
                         occupation="农技人员", skills=["农业技术"])  # fmt: skip
    volunteers(db, 1, created="2026-01-20 08:00", county="620102", education="本科",
               occupation="教师", skills=["科学普及"], status=DEREGISTERED)  # fmt: skip
    add_team(db, "甘肃省农学会科技志愿服务队")
    lanzhou = add_team(db, "兰州市科技志愿服务队", kind=team_names.PREFECTURE,
                       prefecture_code="620100")  # fmt: skip
    tianshui = add_team(db, "天水市科技志愿服务队", kind=team_names.PREFECTURE,
                        prefecture_code="620500")  # fmt: skip
    add_team(db, "定西市科技志愿服务队", kind=team_names.PREFECTURE, prefecture_code="621100",
             approved=False)  # fmt: skip
    lanzhou_activity = add_activity(db, lanzhou, title="城关科普", county_code="620102",
                                    starts_in=datetime(2026, 1, 20, 1) - utcnow())  # fmt: skip
    tianshui_activity = add_activity(db, tianshui, title="秦州农技", prefecture_code="620500",
                                     county_code="620502",
                                     starts_in=datetime(2026, 2, 12, 1) - utcnow())  # fmt: skip
    add_activity(db, tianshui, title="秦州草稿", prefecture_code="620500", county_code="620502",
                 starts_in=datetime(2026, 2, 13, 1) - utcnow(), status="draft")  # fmt: skip
    records(db, lanzhou_activity, chengguan, "2.5", date(2026, 1, 20))
    records(db, tianshui_activity, qinzhou[:2], "4.0", date(2026, 2, 12))
    records(db, tianshui_activity, qinzhou[2:3], "0", date(2026, 2, 12), status=RECORD_ABSENT)


def table(figures: list[reports.Figure], key: str) -> dict[str, float]:
    (figure,) = [f for f in figures if f.key == key]
    return {row.label: row.value for row in figure.rows if row.value}


def test_figures_on_a_fixed_data_set(app: Flask, db: Database) -> None:
    fixed_data(db)
    with db.Session() as session:
        province = reports.figures(session, reports.Filters.of(Scope()))
        lanzhou = reports.figures(session, reports.Filters.of(Scope("620100")))
        february = reports.figures(
            session, reports.Filters.of(Scope(), since="2026-02-01", until="2026-02-28")
        )
        tianshui = reports.figures(session, reports.Filters.of(Scope(), region="620500"))

    assert table(province, "volunteers_month") == {"2026-01": 3, "2026-02": 6}
    assert table(province, "volunteers_prefecture") == {"兰州市": 5, "天水市": 4}
    assert len(next(f for f in province if f.key == "volunteers_prefecture").rows) == 14
    assert table(province, "volunteers_county") == {
        "兰州市城关区": 3, "兰州市七里河区": 2, "天水市秦州区": 4,
    }  # fmt: skip
    assert table(province, "volunteers_education") == {"本科": 7, "硕士研究生": 2}
    assert table(province, "volunteers_occupation") == {"教师": 3, "科研人员": 2, "农技人员": 4}
    assert table(province, "volunteers_skill") == {"科学普及": 3, "农业技术": 7, "信息技术": 2}
    assert table(province, "teams_kind") == {"省科协": 1, "省级学会、协会、研究会": 1,
                                             "市（州）科协": 2}  # fmt: skip
    assert table(province, "teams_level") == {"总队": 1, "队": 3}
    assert table(province, "activities_month") == {"2026-01": 1, "2026-02": 1}
    assert table(province, "activities_area") == {"兰州市": 1, "天水市": 1}
    assert table(province, "activities_team") == {"兰州市科技志愿服务队": 1,
                                                  "天水市科技志愿服务队": 1}  # fmt: skip
    assert table(province, "hours_month") == {"2026-01": 7.5, "2026-02": 8.0}
    assert table(province, "hours_area") == {"兰州市": 7.5, "天水市": 8.0}
    assert table(province, "hours_team") == {"兰州市科技志愿服务队": 7.5,
                                             "天水市科技志愿服务队": 8.0}  # fmt: skip

    # A 市州 operator sees their 市州 by 县区, and no map of the province.
    assert "volunteers_prefecture" not in {f.key for f in lanzhou}
    assert table(lanzhou, "volunteers_month") == {"2026-01": 3, "2026-02": 2}
    assert table(lanzhou, "volunteers_county") == {"兰州市城关区": 3, "兰州市七里河区": 2}
    assert table(lanzhou, "teams_kind") == {"市（州）科协": 1}
    assert table(lanzhou, "hours_area") == {"兰州市城关区": 7.5}
    assert table(lanzhou, "activities_team") == {"兰州市科技志愿服务队": 1}

    # Dates are Beijing dates; the region filter narrows like a smaller scope.
    assert table(february, "volunteers_month") == {"2026-02": 6}
    assert table(february, "hours_month") == {"2026-02": 8.0}
    assert table(tianshui, "volunteers_education") == {"本科": 4}
    assert table(tianshui, "hours_team") == {"天水市科技志愿服务队": 8.0}


def test_dashboard_page_links_each_figure_to_its_list(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    fixed_data(db)
    page = province_client.get("/console/reports").get_data(as_text=True)
    assert "vendor/echarts/echarts.min.js" in page and "vendor/echarts/gansu.js" in page
    data = json.loads(re.search(r'id="figures-data">(.*?)</script>', page, re.S).group(1))  # type: ignore[union-attr]
    figures = {f["key"]: f for f in data}
    tianshui = next(r for r in figures["volunteers_prefecture"]["rows"] if r["label"] == "天水市")
    assert tianshui["value"] == 4 and tianshui["area"] == "天水市"
    listed = province_client.get(tianshui["link"]).get_data(as_text=True)
    assert "共 4 条" in listed

    january = next(r for r in figures["volunteers_month"]["rows"] if r["label"] == "2026-01")
    assert "since=2026-01-01" in january["link"] and "until=2026-01-31" in january["link"]
    assert "共 3 条" in province_client.get(january["link"]).get_data(as_text=True)
    farmers = next(r for r in figures["volunteers_skill"]["rows"] if r["label"] == "农业技术")
    assert "共 7 条" in province_client.get(farmers["link"]).get_data(as_text=True)

    hours = next(r for r in figures["hours_team"]["rows"] if r["value"] == 8.0)
    sheet = load_workbook(io.BytesIO(province_client.get(hours["link"]).data), read_only=True)
    rows = list(sheet.active.iter_rows(values_only=True))
    assert len(rows) == 3 and {r[-1] for r in rows[1:]} == {4}

    acts = next(r for r in figures["activities_month"]["rows"] if r["label"] == "2026-02")
    sheet = load_workbook(io.BytesIO(province_client.get(acts["link"]).data), read_only=True)
    assert [r[1] for r in list(sheet.active.iter_rows(values_only=True))[1:]] == ["秦州农技"]

    csv = province_client.get("/console/reports/volunteers_education.csv").get_data(as_text=True)
    assert "本科,7" in csv and "硕士研究生,2" in csv
    xlsx = province_client.get("/console/reports/hours_month.xlsx?since=2026-02-01")
    sheet = load_workbook(io.BytesIO(xlsx.data), read_only=True)
    assert list(sheet.active.iter_rows(values_only=True))[1:] == [("2026-02", 8)]

    lanzhou = region_client(app, db, "620100")
    assert lanzhou.get("/console/reports?region=620500").status_code == 200
    assert "只能选择本辖区内的地区" in lanzhou.get("/console/reports?region=620500").get_data(
        as_text=True
    )
    assert lanzhou.get("/console/reports/volunteers_month.csv?region=620500").status_code == 400
    assert "2026-01,3" in lanzhou.get("/console/reports/volunteers_month.csv").get_data(
        as_text=True
    )


def test_top_teams_are_ranked_and_cut_in_the_database(app: Flask, db: Database) -> None:
    """The top-teams figure: the TOP_TEAMS teams with the largest sums, ties by name, teams
    whose rollup rows hold nothing left out (what ORDER BY sum DESC, name LIMIT gives)."""
    from models.report import EPOCH, ServiceCount

    hours = [50, 40, 40, 30, 30, 30, 20, 20, 20, 20, 10, 10, 10, 10, 10, 10, 5, 0, 0]
    named: dict[int, str] = {}
    for n, _ in enumerate(hours):
        name = f"甘肃省第{n + 10}学会科技志愿服务队"
        named[add_team(db, name)] = name
    # The last team has rows with nothing in them; the one before has records of 0 hours.
    with db.Session.begin() as session:
        for (team_id, name), h in zip(named.items(), hours, strict=True):
            empty = name.endswith("第28学会科技志愿服务队")
            for county, share in (("620102", Decimal(h) / 2), ("620503", Decimal(h) / 2)):
                session.add(
                    ServiceCount(
                        grain="a", team_id=team_id, day=EPOCH, prefecture_code=county[:4] + "00",
                        county_code=county, activities=0 if empty else 1,
                        records=0 if empty else 2, hours=share,
                    )
                )  # fmt: skip
    expected = sorted(
        ((named[t], Decimal(h)) for t, h in zip(named, hours, strict=True)
         if not named[t].endswith("第28学会科技志愿服务队")),
        key=lambda row: (-row[1], row[0]),
    )[: reports.TOP_TEAMS]  # fmt: skip
    assert expected[-1][1] == 10 and expected[-2][1] == 10  # the cut falls inside a tie
    with db.Session() as session:
        found = reports.hours_by_team(session, reports.Filters.of(Scope()))
        acts = reports.activities_by_team(session, reports.Filters.of(Scope()))
    assert [(row.label, Decimal(str(row.value))) for row in found.rows] == expected
    assert len(acts.rows) == reports.TOP_TEAMS
    assert "甘肃省第28学会科技志愿服务队" not in {row.label for row in acts.rows}
    assert [row.label for row in acts.rows] == sorted(row.label for row in acts.rows)
