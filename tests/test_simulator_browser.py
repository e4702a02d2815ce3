"""The simulator in a real headless Chromium: follow, register from the drawn menu, get notices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
import redis
from flask import Flask

from app import create_app
from config import Settings
from extensions import close_extensions
from infra.db import Database
from sandbox.fake_wechat import TEMPLATE_ACTIVITY_SIGNUP
from sandbox.simulator import USERS
from tests.browser import chromium, serve
from tests.conftest import TEST_AES_KEY
from wechat.client import WeChatAPI

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# The answers of tests/test_smoke_flow.py, each with what the next question asks.
REGISTRATION = [
    ("同意", "姓名"),
    ("张三", "身份证号"),
    ("11010519491231002X", "手机号"),
    ("13812345678", "学历"),
    ("3", "市州"),
    ("兰州市", "县区"),
    ("城关区", "工作单位"),
    ("跳过", "职业"),
    ("1", "专业领域"),
    ("1 3", "专长"),
    ("果树栽培", "服务的时间"),
    ("周末", "1101**********002X"),
]


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture
def simulator_url(settings: Settings, db: Database, redis_client: redis.Redis) -> Iterator[str]:
    app: Flask = create_app(
        settings.with_overrides(sandbox=True, wechat_encoding_aes_key=TEST_AES_KEY)
    )
    try:
        with serve(app) as base_url:
            yield base_url + "/simulator"
    finally:
        close_extensions(app)


def say(page: Page, text: str) -> None:
    page.fill("#input", text)
    page.press("#input", "Enter")


def test_register_in_the_browser_then_receive_a_notice(
    browser: Browser, simulator_url: str, wechat_api: WeChatAPI, artifacts_dir: Path
) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 1100, "height": 860})
    page.set_default_timeout(8000)
    page.goto(simulator_url)
    expect(page.locator(".wx-title")).to_have_text("甘肃科技志愿服务")
    expect(page.locator(".sim-user[aria-selected=true]")).to_have_text("用户A")

    page.click("#follow")
    expect(page.locator(".row.account").last).to_contain_text("欢迎关注甘肃科技志愿服务")
    expect(page.locator("#follow")).to_have_text("取消关注")

    # The drawn menu: 志愿者 opens its sub-menu; 注册 sends CLICK VOLUNTEER_REGISTER.
    expect(page.locator(".wx-menu-button")).to_have_text(["≡志愿者", "≡组织", "≡活动"])
    page.locator(".wx-menu-button", has_text="志愿者").click()
    expect(page.locator("#submenu button")).to_have_text(
        ["注册", "我的信息", "加入队伍", "服务时长"]
    )
    page.locator("#submenu button", has_text="注册").click()
    expect(page.locator(".row.system").last).to_contain_text("点击菜单「志愿者 › 注册」")
    expect(page.locator(".row.account").last).to_contain_text("个人信息保护说明")
    expect(page.locator("#submenu")).to_be_hidden()

    page.click("#to-keyboard")
    for answer, asks in REGISTRATION:
        say(page, answer)
        expect(page.locator(".row.account").last).to_contain_text(asks)
    # A registration in progress: the summary, ID number masked, waiting for 确认.
    expect(page.locator(".row.account").last).not_to_contain_text("11010519491231002X")
    page.screenshot(path=str(artifacts_dir / "simulator-in-progress.png"))
    say(page, "确认")
    expect(page.locator(".row.account").last).to_contain_text("注册成功")
    expect(page.locator(".row.account .meta").last).to_contain_text("回复耗时")
    expect(page.locator(".row.user .bubble").last).to_have_text("确认")
    expect(page.locator(".row.pending")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "simulator-registration.png"))

    # Another user: their own, empty chat; a notice sent to them through the API shows up.
    user_b = USERS[1].openid
    page.locator(".sim-user", has_text="用户B").click()
    expect(page.locator(".wx-empty")).to_be_visible()
    expect(page.locator("#follow")).to_have_text("关注")
    wechat_api.send_template(
        user_b,
        TEMPLATE_ACTIVITY_SIGNUP,
        {
            "thing1": "青少年科普进社区",
            "time2": "2024年5月18日 09:00",
            "thing3": "兰州市城关区科技馆",
            "phrase4": "已报名",
        },
        url="https://example.org/activities/1",
    )
    card = page.locator(".card.template")
    expect(card.locator(".tpl-title")).to_have_text("活动报名成功通知")
    expect(card.locator(".tpl-line").first).to_have_text("活动名称青少年科普进社区")
    expect(card.locator(".tpl-detail")).to_have_attribute(
        "href", "https://example.org/activities/1"
    )
    expect(card.locator(".tpl-detail")).to_contain_text("详情")

    # A customer-service text: HTML stays text, addresses become links.
    wechat_api.send_text(user_b, '<img src=x onerror="alert(1)"> 详见 https://example.org/a/1。')
    bubble = page.locator(".row.account .bubble").last
    expect(bubble).to_contain_text('<img src=x onerror="alert(1)"> 详见 https://example.org/a/1。')
    expect(bubble.locator("a")).to_have_attribute("href", "https://example.org/a/1")
    expect(bubble.locator("img")).to_have_count(0)
    page.screenshot(path=str(artifacts_dir / "simulator-notice.png"))

    # Back to 用户A: the registration is still there, and B's notice is not.
    page.locator(".sim-user", has_text="用户A").click()
    expect(page.locator(".row.account").last).to_contain_text("注册成功")
    expect(page.locator(".card.template")).to_have_count(0)
    page.close()


def test_phone_sized_window_fills_the_screen(browser: Browser, simulator_url: str) -> None:
    from playwright.sync_api import expect

    page = browser.new_page(viewport={"width": 375, "height": 667}, is_mobile=True, has_touch=True)
    page.set_default_timeout(8000)
    page.goto(simulator_url)
    expect(page.locator(".devpanel")).to_be_hidden()
    box = page.locator(".phone").bounding_box()
    assert box is not None and box["width"] == 375 and box["height"] == 667
    page.locator(".sim-user", has_text="＋新用户").click()
    expect(page.locator(".sim-user[aria-selected=true]")).to_have_text("新用户1")
    page.click("#scan")
    page.fill("#scene", "team-7")
    page.click("#scan-ok")
    expect(page.locator(".row.system").last).to_contain_text(
        "扫描二维码并关注了公众号（场景值 team-7）"
    )
    expect(page.locator(".row.account").last).to_contain_text("欢迎关注")
    expect(page.locator(".wx-menu-button").first).to_be_in_viewport()
    page.close()


def test_speaking_an_answer_with_the_voice_control(browser: Browser, simulator_url: str) -> None:
    from playwright.sync_api import expect

    page = browser.new_page()
    page.set_default_timeout(8000)
    page.goto(simulator_url)
    page.click("#to-keyboard")
    page.fill("#input", "帮助")
    page.click("#speak")
    voice = page.locator(".row.user.kind-voice").last
    expect(voice).to_contain_text("语音")
    expect(voice).to_contain_text("帮助")
    expect(page.locator(".row.account").last).to_contain_text("使用说明")
    expect(page.locator("#input")).to_have_value("")
    page.close()
