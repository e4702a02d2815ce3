"""The team console on a phone: headless Chromium at 375×812. From the simulator the admin types
管理后台, taps the personal link, approves a join request, publishes an activity and confirms
hours; no page is wider than the screen. Screenshots go to test-artifacts/."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis
from flask import Flask
from werkzeug.serving import make_server

from app import create_app
from config import Settings
from domain import clock
from extensions import close_extensions
from infra.db import Database
from models.activity import DRAFT
from models.service import Attendance
from models.team import Team
from sandbox.simulator import USERS
from services import teams, volunteers
from tests.browser import chromium
from tests.conftest import TEST_AES_KEY
from tests.service_steps import add_activity, minute, sign_up
from tests.test_simulator_browser import say
from tests.test_team_support import add_team, add_volunteer, seed_root

if TYPE_CHECKING:
    from playwright.sync_api import Page

PHONE = {"width": 375, "height": 812}


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@contextmanager
def served_app(settings: Settings) -> Iterator[tuple[Flask, str]]:
    """The app on a known loopback port, so the links it writes in chat open it."""
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    app = create_app(
        settings.with_overrides(
            sandbox=True, wechat_encoding_aes_key=TEST_AES_KEY, public_base_url=base
        )
    )
    server = make_server("127.0.0.1", port, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield app, base
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
        close_extensions(app)


@pytest.fixture
def served(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> Iterator[tuple[Flask, str]]:
    with served_app(settings) as running:
        yield running


def fits_the_screen(page: Page) -> None:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{page.url} is {width}px wide"
    # Every tab is visible without scrolling the tab bar sideways.
    tabs = page.evaluate(
        "(() => { const n = document.querySelector('nav.tabs');"
        " return n ? [n.scrollWidth, n.clientWidth] : [0, 0]; })()"
    )
    assert tabs[0] <= tabs[1], f"{page.url}: the tabs need {tabs[0]}px of {tabs[1]}px"


def test_admin_on_a_phone_approves_publishes_and_confirms(
    served: tuple[Flask, str], db: Database, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    app, base = served
    admin_openid = USERS[0].openid
    seed_root(db)
    add_volunteer(app, admin_openid, name="王管理")
    team = add_team(db, "甘肃省农学会科技志愿服务队", registrant=admin_openid)
    applicant = "oApplicant000000000000000001"
    add_volunteer(app, applicant, name="刘申请", phone="13700001234", skills=("农业技术",))
    worker = "oWorker0000000000000000000001"
    add_volunteer(app, worker, name="赵服务")
    with db.Session.begin() as session:
        someone = volunteers.find_by_openid(session, applicant)
        assert someone is not None
        teams.join(session, session.get(Team, team.id), someone)  # type: ignore[arg-type]
    draft_id = add_activity(db, team.id, title="冬季果树管理讲座", status=DRAFT,
                            starts_at=clock.utcnow() + timedelta(days=3))  # fmt: skip
    start = minute(clock.utcnow()) - timedelta(hours=3, minutes=30)
    past_id = add_activity(db, team.id, title="农技下乡", starts_at=start, hours=3)
    sign_up(app, worker, past_id)
    with db.Session.begin() as session:
        helper = volunteers.find_by_openid(session, worker)
        assert helper is not None
        session.add(
            Attendance(activity_id=past_id, volunteer_id=helper.id, checked_in_at=start,
                       check_in_method="scan", checked_out_at=start + timedelta(hours=2, minutes=10),
                       check_out_method="scan")
        )  # fmt: skip

    with chromium() as browser:
        sim = browser.new_page(viewport=PHONE)
        sim.set_default_timeout(15000)
        sim.goto(base + "/simulator")
        sim.click("#to-keyboard")
        say(sim, "管理后台")
        reply = sim.locator(".row.account").last
        expect(reply).to_contain_text("点此进入队伍管理后台")
        expect(reply).to_contain_text("5分钟内有效")
        sim.screenshot(path=str(artifacts_dir / "team-console-link.png"))
        with sim.expect_popup() as opened:
            reply.locator("a", has_text="点此进入队伍管理后台").click()
        page = opened.value
        page.set_viewport_size(PHONE)
        page.set_default_timeout(15000)
        expect(page.locator("h1")).to_have_text("我的队伍")
        expect(page.locator("body")).to_contain_text("待审核申请 1 条")
        fits_the_screen(page)
        page.screenshot(path=str(artifacts_dir / "team-console-home.png"), full_page=True)

        # approve the join request
        page.locator("a.block", has_text="甘肃省农学会科技志愿服务队").click()
        expect(page.locator("body")).to_contain_text("刘申请")
        fits_the_screen(page)
        page.locator("button", has_text="通过").first.click()
        expect(page.locator(".flash").first).to_contain_text("已通过 刘申请 的入队申请")
        expect(page.locator("body")).to_contain_text("137****1234")
        page.screenshot(path=str(artifacts_dir / "team-console-members.png"), full_page=True)

        # publish the draft activity
        page.locator("nav.tabs a", has_text="活动").click()
        page.locator("a.block", has_text="冬季果树管理讲座").click()
        page.locator("button", has_text="发布").click()
        expect(page.locator(".flash").first).to_contain_text("活动已发布")
        fits_the_screen(page)
        page.screenshot(path=str(artifacts_dir / "team-console-published.png"), full_page=True)

        # confirm the hours of the past activity
        page.goto(f"{base}/team/a/{past_id}/roster")
        expect(page.locator("body")).to_contain_text("待确认 2 小时")
        page.locator("button", has_text="全部确认时长").click()
        expect(page.locator(".flash").first).to_contain_text("已确认 1 人的服务时长，共 2 小时")
        expect(page.locator("body")).to_contain_text("已确认 2 小时")
        fits_the_screen(page)
        page.screenshot(path=str(artifacts_dir / "team-console-hours.png"), full_page=True)

    assert draft_id != past_id
    with db.Session() as session:
        assert teams.member_count(session, team.id) == 2
