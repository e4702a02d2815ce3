"""The dashboard in a real headless Chromium: ECharts (served from our static files) draws every
chart, the Gansu map included; a table view opens; a figure leads to the list behind it.
Screenshots go to test-artifacts/."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from infra.db import Database
from tests.browser import chromium, serve
from tests.test_console_support import PASSWORD, add_operator
from tests.test_reports_figures import fixed_data


def test_dashboard_draws_charts_and_the_gansu_map(
    app: Flask, db: Database, artifacts_dir: Path
) -> None:
    add_operator(db, "sheng")
    fixed_data(db)
    with chromium() as browser, serve(app) as base:
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(base + "/console/reports")
        page.fill("input[name=username]", "sheng")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.click("nav >> text=统计")
        page.wait_for_selector("#chart-volunteers_prefecture[data-ready] canvas")
        page.wait_for_selector("#chart-hours_month[data-ready] canvas")
        assert page.locator(".chart[data-ready] canvas").count() >= 14
        page.locator("#figure-volunteers_prefecture").screenshot(
            path=str(artifacts_dir / "reports-gansu-map.png")
        )
        page.screenshot(path=str(artifacts_dir / "reports-dashboard.png"), full_page=True)

        page.click("#figure-volunteers_education summary")
        row = page.locator("#figure-volunteers_education table tr", has_text="本科")
        assert row.locator("a").inner_text() == "7"
        row.locator("a").click()
        page.wait_for_selector("text=共 7 条")
        page.screenshot(path=str(artifacts_dir / "reports-linked-list.png"))

        page.goto(base + "/console/reports?region=620100")
        page.wait_for_selector("#chart-volunteers_county[data-ready] canvas")
        assert "兰州市" in page.locator("select[name=region] option[selected]").inner_text()
    assert errors == []
    assert all(url.startswith(base) for url in requests), "every file is our own"
