"""The team console's 统计 in a real headless Chromium on a phone screen: ECharts (served from our
own static files) draws every figure, a table view opens, a number leads to the list behind it,
and the date range redraws the figures. Screenshots go to test-artifacts/."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from flask import Flask

from infra.db import Database
from tests.browser import chromium, serve
from tests.team_console_steps import link_from_chat
from tests.test_team_console_browser import PHONE, fits_the_screen
from tests.test_team_console_reports import fixed_teams
from tests.wechat_user import WeChatUser


def test_team_reports_draw_charts_link_to_lists_and_filter_by_date(
    app: Flask, db: Database, make_user: Callable[..., WeChatUser], artifacts_dir: Path
) -> None:
    a, branch, _b = fixed_teams(app, db, make_user)
    with chromium() as browser, serve(app) as base:
        page = browser.new_page(viewport=PHONE)
        errors: list[str] = []
        page.on("pageerror", lambda error: errors.append(str(error)))
        requests: list[str] = []
        page.on("request", lambda request: requests.append(request.url))
        page.goto(base + link_from_chat(a.user))
        page.goto(f"{base}/team/t/{a.team.id}/members")
        page.click("nav.tabs >> text=统计")
        page.wait_for_url(f"**/team/t/{a.team.id}/reports")
        for key in ("members_month", "volunteers_skill", "hours_month", "hours_team"):
            page.wait_for_selector(f"#chart-{key}[data-ready] canvas")
        assert page.locator(".chart[data-ready] canvas").count() == 7
        assert "合计 7 人" in page.locator("#figure-members_month h2").inner_text()
        fits_the_screen(page)
        page.locator("#figure-members_month").screenshot(
            path=str(artifacts_dir / "team-reports-members-month.png")
        )
        page.screenshot(path=str(artifacts_dir / "team-reports.png"), full_page=True)

        page.click("#figure-hours_team summary")
        row = page.locator("#figure-hours_team table tr", has_text="植物保护专委会支队")
        assert row.locator("a").inner_text() == "8"
        row.locator("a").click()
        page.wait_for_selector("text=共 2 条，合计 8 小时")
        assert branch.name in page.locator("h1").inner_text()
        assert page.locator("table.list-table tbody tr").count() == 2
        fits_the_screen(page)
        page.screenshot(path=str(artifacts_dir / "team-reports-linked-list.png"), full_page=True)

        page.goto(f"{base}/team/t/{a.team.id}/reports")
        page.fill("input[name=since]", "2026-01-16")
        page.fill("input[name=until]", "2026-02-28")
        page.click("form.filters button[type=submit]")
        page.wait_for_url("**since=2026-01-16**")
        page.wait_for_selector("#chart-members_month[data-ready] canvas")
        assert "合计 3 人" in page.locator("#figure-members_month h2").inner_text()
        page.screenshot(path=str(artifacts_dir / "team-reports-date-range.png"), full_page=True)
    assert errors == []
    assert all(url.startswith(base) for url in requests), "every file is our own"
