"""A need from start to activity in headless Chromium: a resident posts it in the simulator, a
province operator publishes it in the console and opens its matching suggestions, a team admin
opens the team console from chat on a phone, claims it and publishes the activity it turned into;
the poster is told in the simulator and the public page shows 已认领 with the team's name.
Screenshots go to test-artifacts/ (needs-*.png)."""

from __future__ import annotations

import re
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from flask import Flask

from domain import clock
from infra.db import Database
from models.activity import RECRUITING, Activity
from models.need import CLAIMED
from sandbox.simulator.views import USERS
from services.needs import find_need
from tests.browser import chromium
from tests.test_console_support import PASSWORD, add_operator
from tests.test_simulator_browser import say
from tests.test_team_console_browser import PHONE, fits_the_screen, served  # noqa: F401
from tests.test_team_support import add_team, add_volunteer, seed_root

if TYPE_CHECKING:
    from playwright.sync_api import Page

TEAM = "甘肃省农学会科技志愿服务队"


def as_user(sim: Page, name: str) -> None:
    """Switch the simulator to `name` and show the keyboard."""
    sim.locator(".sim-user", has_text=name).click()
    if not sim.locator("#input").is_visible():
        sim.click("#to-keyboard")


def post_need(sim: Page) -> str:
    """「提交需求」 answered line by line as a resident would; the need number."""
    from playwright.sync_api import expect

    start = clock.beijing_date() + timedelta(days=6)
    answers = [
        ("提交需求", "需求方名称"),
        ("城关区东岗街道东岗社区", "需求方类型"),
        ("社区", "市州"),
        ("兰州市", "县区"),
        ("城关区", "服务领域"),
        ("科学普及", "需要什么服务"),
        ("给社区青少年讲航天科普，做水火箭", "日期"),
        (f"{start} 至 {start + timedelta(days=1)}", "多少名志愿者"),
        ("5", "联系人姓名"),
        ("李红梅", "手机号码"),
        ("13812345678", "138****5678"),
        ("确认", "需求编号"),
    ]
    for text, expected in answers:
        say(sim, text)
        expect(sim.locator(".row.account").last).to_contain_text(expected)
    found = re.search(r"XQ\d+", sim.locator(".row.account").last.inner_text())
    assert found
    return found.group(0)


def test_a_need_posted_in_the_simulator_becomes_a_teams_activity(
    served: tuple[Flask, str],  # noqa: F811
    db: Database,
    artifacts_dir: Path,
) -> None:
    from playwright.sync_api import expect

    app, base = served
    admin, poster = USERS[0], USERS[1]
    seed_root(db)
    add_volunteer(app, admin.openid, name="王管理")
    add_team(db, TEAM, registrant=admin.openid)
    add_operator(db, "sheng")

    with chromium() as browser:
        sim = browser.new_page(viewport={"width": 1100, "height": 900})
        sim.set_default_timeout(15000)
        sim.goto(base + "/simulator")
        as_user(sim, poster.name)
        need_no = post_need(sim)
        sim.screenshot(path=str(artifacts_dir / "needs-posted.png"))

        # The operator publishes it and opens the suggestions.
        console = browser.new_page(viewport={"width": 1280, "height": 900})
        console.set_default_timeout(15000)
        console.goto(base + "/console/needs")
        console.fill("input[name=username]", "sheng")
        console.fill("input[name=password]", PASSWORD)
        console.click("button[type=submit]")
        row = console.locator(f"#need-{need_no}").first
        expect(row).to_contain_text("13812345678")
        row.locator("button", has_text="发布").click()
        expect(console.locator(".flash").first).to_contain_text(f"发布需求：{need_no}")
        console.locator(f"#need-{need_no} a", has_text="匹配建议").click()
        expect(console.locator("h1")).to_contain_text(f"需求 {need_no} 的匹配建议")
        suggested = console.locator("table").first
        expect(suggested).to_contain_text(TEAM)
        console.screenshot(path=str(artifacts_dir / "needs-suggestions.png"), full_page=True)

        # The team admin opens the team console from chat and claims it.
        as_user(sim, admin.name)
        say(sim, "管理后台")
        link = sim.locator(".row.account").last.locator("a", has_text="点此进入队伍管理后台")
        with sim.expect_popup() as opened:
            link.click()
        team_page = opened.value
        team_page.set_viewport_size(PHONE)
        team_page.set_default_timeout(15000)
        team_page.locator("a.block", has_text=TEAM).click()
        team_page.locator("nav.tabs a", has_text="需求").click()
        card = team_page.locator(f"#need-{need_no}")
        expect(card).to_contain_text("城关区东岗街道东岗社区")
        expect(card).to_contain_text("本队领域")
        fits_the_screen(team_page)
        team_page.screenshot(path=str(artifacts_dir / "needs-team-console.png"), full_page=True)
        card.locator("button", has_text="认领").click()
        expect(team_page.locator(".flash").first).to_contain_text(f"已认领需求 {need_no}")
        expect(team_page.locator("h1")).to_have_text("城关区东岗街道东岗社区科学普及志愿服务")
        fits_the_screen(team_page)
        team_page.screenshot(path=str(artifacts_dir / "needs-claimed-draft.png"), full_page=True)
        team_page.locator("button", has_text="发布").click()
        expect(team_page.locator(".flash").first).to_contain_text("活动已发布")
        team_page.screenshot(path=str(artifacts_dir / "needs-activity.png"), full_page=True)

        # The poster hears of it; the public page shows who took it on.
        as_user(sim, poster.name)
        expect(sim.locator(".row.account").last).to_contain_text(f"已由「{TEAM}」认领")
        sim.screenshot(path=str(artifacts_dir / "needs-poster-told.png"))
        public = browser.new_page(viewport=PHONE)
        public.goto(f"{base}/n/{need_no}")
        expect(public.locator("body")).to_contain_text("已认领")
        expect(public.locator("body")).to_contain_text(f"认领队伍：{TEAM}")
        expect(public.locator("body")).not_to_contain_text("13812345678")
        public.screenshot(path=str(artifacts_dir / "needs-public-page.png"), full_page=True)

    with db.Session() as session:
        need = find_need(session, need_no)
        assert need is not None and need.status == CLAIMED
        activity = session.get(Activity, need.activity_id)
        assert activity is not None and activity.status == RECRUITING
        assert activity.capacity == 5 and activity.county_code == "620102"
