"""The whole service loop in a real headless Chromium: a volunteer registers and signs up in
the simulator, the organiser makes the check-in codes in the console, the volunteer scans in and
out with 「扫描活动签到码」, the organiser confirms the hours in the console, 服务时长 shows them,
and the certificate's verification page opens."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis
from flask import Flask
from sqlalchemy import update

from app import create_app
from config import Settings
from domain import clock
from extensions import close_extensions
from infra.db import Database
from models.activity import Activity
from models.service import Attendance
from tests.browser import chromium, serve
from tests.conftest import TEST_AES_KEY
from tests.service_steps import add_activity, minute, organiser_team
from tests.test_console_support import PASSWORD, add_operator
from tests.test_simulator_browser import REGISTRATION, say

if TYPE_CHECKING:
    from playwright.sync_api import Page


@pytest.fixture
def served(settings: Settings, db: Database, redis_client: redis.Redis) -> Iterator[str]:
    app: Flask = create_app(
        settings.with_overrides(sandbox=True, wechat_encoding_aes_key=TEST_AES_KEY)
    )
    try:
        with serve(app) as base_url:
            yield base_url
    finally:
        close_extensions(app)


def last_reply(page: Page) -> str:
    return page.locator(".row.account").last.inner_text()


def test_sign_up_scan_in_and_out_confirm_hours_and_verify_the_certificate(
    served: str, db: Database, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    base = served
    add_operator(db, "sheng")
    # Starts in 20 minutes: sign-up is still open and check-in already is.
    start = minute(clock.utcnow()) + timedelta(minutes=20)
    activity_id = add_activity(
        db, organiser_team(db), title="社区科普讲座", starts_at=start, hours=3
    )

    with chromium() as browser:
        console = browser.new_page(viewport={"width": 1200, "height": 900})
        console.set_default_timeout(10000)
        console.goto(base + "/console/")
        console.fill("input[name=username]", "sheng")
        console.fill("input[name=password]", PASSWORD)
        console.click("button[type=submit]")
        console.goto(f"{base}/console/activities/{activity_id}")
        console.click("#attendance-link")
        console.click("#make-codes")
        expect(console.locator(".flash").first).to_contain_text("签到、签退二维码已生成")
        expect(console.locator("#poster-in")).to_be_visible()

        sim = browser.new_page(viewport={"width": 1100, "height": 860})
        sim.set_default_timeout(10000)
        sim.goto(base + "/simulator")
        sim.click("#follow")
        expect(sim.locator(".row.account").last).to_contain_text("欢迎关注")
        sim.click("#to-keyboard")
        say(sim, "注册志愿者")
        expect(sim.locator(".row.account").last).to_contain_text("个人信息保护说明")
        for answer, asks in REGISTRATION:
            say(sim, answer)
            expect(sim.locator(".row.account").last).to_contain_text(asks)
        say(sim, "确认")
        expect(sim.locator(".row.account").last).to_contain_text("注册成功")
        say(sim, f"报名 {activity_id}")
        expect(sim.locator(".row.account").last).to_contain_text("报名成功")

        # scan in
        sim.click("#scan-activity")
        sim.select_option("#checkin-activity", str(activity_id))
        sim.check("input[name=checkin-kind][value=in]")
        sim.click("#checkin-ok")
        expect(sim.locator(".row.system").last).to_contain_text("扫描二维码")
        expect(sim.locator(".row.account").last).to_contain_text("签到成功")
        # Time passes (in the database): the activity started 2 h 10 min ago, and the volunteer
        # checked in at its start.
        shift = start - (minute(clock.utcnow()) - timedelta(hours=2, minutes=10))
        with db.Session.begin() as session:
            session.execute(
                update(Activity)
                .where(Activity.id == activity_id)
                .values(starts_at=start - shift, ends_at=start - shift + timedelta(hours=3))
            )
            session.execute(
                update(Attendance)
                .where(Attendance.activity_id == activity_id)
                .values(checked_in_at=start - shift)
            )
        # scan out: 2 h 10 min → 2 h
        sim.click("#scan-activity")
        sim.select_option("#checkin-activity", str(activity_id))
        sim.check("input[name=checkin-kind][value=out]")
        sim.click("#checkin-ok")
        expect(sim.locator(".row.account").last).to_contain_text("本次服务时长：2 小时")
        sim.screenshot(path=str(artifacts_dir / "service-scan-out.png"))

        # the organiser confirms in the console
        console.reload()
        expect(console.locator("#roster")).to_contain_text("待确认 2 小时")
        console.click("#confirm-all")
        expect(console.locator(".flash").first).to_contain_text("已确认 1 人的服务时长，共 2 小时")
        expect(console.locator("#roster")).to_contain_text("已确认 2 小时")
        console.screenshot(path=str(artifacts_dir / "service-console-confirmed.png"))

        # 志愿者 → 服务时长
        sim.click("#to-menu")
        sim.locator(".wx-menu-button", has_text="志愿者").click()
        sim.locator("#submenu button", has_text="服务时长").click()
        expect(sim.locator(".row.account").last).to_contain_text("累计时长：2 小时")
        expect(sim.locator(".row.account").last).to_contain_text("社区科普讲座")

        # the certificate, and its verification page
        sim.click("#to-keyboard")
        say(sim, "申请证明")
        expect(sim.locator(".row.account").last).to_contain_text("证明包含的服务记录")
        say(sim, "1")
        expect(sim.locator(".row.account").last).to_contain_text("请核对证明范围")
        say(sim, "确认")
        expect(sim.locator(".row.account").last).to_contain_text("志愿服务证明已开具")
        sim.screenshot(path=str(artifacts_dir / "service-certificate.png"))
        found = re.search(r"在线核验：(\S+/verify/\w+)", last_reply(sim))
        assert found, last_reply(sim)
        verify = browser.new_page()
        verify.goto(found.group(1).replace("http://127.0.0.1:8000", base))
        expect(verify.locator("#verify-state")).to_have_text("真实有效")
        expect(verify.locator("#verify-total")).to_contain_text("2 小时")
        expect(verify.locator("#verify-content")).to_contain_text("1101**********002X")
        verify.screenshot(path=str(artifacts_dir / "service-verify.png"))
