"""The console in a real headless Chromium: log in, approve a team, create and publish an
activity, compose and send a notice about it, and watch its progress reach 100 % while a real
worker process sends it to the fake WeChat API."""

from __future__ import annotations

from collections import Counter
from datetime import timedelta
from pathlib import Path

from flask import Flask

from config import Settings
from domain.clock import beijing_now
from infra.db import Database
from sandbox.fake_wechat import FakeWeChatState
from tests.browser import chromium, serve
from tests.test_console_support import (
    PASSWORD,
    add_operator,
    add_team,
    add_template,
    add_volunteers,
)
from tests.test_notices_worker import real_servers, worker, worker_env  # noqa: F401


def test_operator_sends_an_activity_notice(
    app: Flask,
    db: Database,
    settings: Settings,
    fake_wechat: FakeWeChatState,
    artifacts_dir: Path,
) -> None:
    add_operator(db, "sheng")
    add_template(db)
    team_id = add_team(db, "甘肃省农学会科技志愿服务队", approved=False)
    openids = add_volunteers(db, 20)
    start = (beijing_now() + timedelta(days=14)).replace(hour=9, minute=0)

    env = worker_env(settings, sends_per_second=100)
    with chromium() as browser, serve(app) as base, worker(env) as sender:
        page = browser.new_page()
        page.on("dialog", lambda dialog: dialog.accept())
        page.goto(base + "/console/")
        page.fill("input[name=username]", "sheng")
        page.fill("input[name=password]", PASSWORD)
        page.click("button[type=submit]")
        page.wait_for_selector("text=注册志愿者")

        page.click("nav >> text=服务队")
        page.click(f"#pending-{team_id} >> text=通过")
        page.wait_for_selector("text=审核通过服务队：甘肃省农学会科技志愿服务队")

        page.click("nav >> text=活动")
        page.click("text=新建活动")
        page.fill("input[name=title]", "秋季果树修剪技术培训")
        page.select_option("select[name=type]", "农技服务")
        page.select_option("select[name=team_id]", str(team_id))
        page.select_option("select[name=region]", "620102")
        page.fill("input[name=place]", "城关区农技推广中心")
        page.fill("input[name=starts_at]", start.strftime("%Y-%m-%dT%H:%M"))
        page.fill("input[name=ends_at]", (start + timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M"))
        page.fill("textarea[name=description]", "邀请农技专家现场讲解果树冬季修剪。")
        page.fill("input[name=contact]", "李老师 0931-1234567")
        page.click("text=保存")
        page.wait_for_selector("text=活动已保存为草稿")
        page.click("button:has-text('发布')")
        page.wait_for_selector("#activity-status:has-text('招募中')")

        page.click("text=发送活动通知")
        assert page.input_value("input[name=data-thing1]") == "秋季果树修剪技术培训"
        assert page.input_value("input[name=data-thing3]") == "城关区农技推广中心"
        page.fill("input[name=data-thing4]", "请携带修枝剪")
        # Started from an activity, the composer offers its signed-up volunteers (none yet);
        # this notice invites the whole 市州 instead.
        assert page.input_value("select[name=audience_activity]") != ""
        page.select_option("select[name=audience_activity]", "")
        page.select_option("select[name=region]", "620100")
        page.click("text=预览并计算人数")
        page.wait_for_selector("#recipient-count:has-text('20')")
        page.click("text=确认发送（20 人）")

        page.wait_for_selector("#notice-status:has-text('已完成')", timeout=30_000)
        page.wait_for_selector("text=暂停", state="detached")  # the page reloads when done
        assert (page.text_content("#progress-text") or "").startswith("100%")
        page.screenshot(path=str(artifacts_dir / "console-notice-sent.png"), full_page=True)
        sender.kill()

    per_user = Counter({openid: len(fake_wechat.messages(openid)) for openid in openids})
    assert per_user == Counter(dict.fromkeys(openids, 1))
    message = fake_wechat.messages(openids[0])[0]
    assert message["data"]["thing1"] == "秋季果树修剪技术培训"
    assert message["data"]["thing4"] == "请携带修枝剪"
    assert message["data"]["time2"] == f"{start:%Y年%-m月%-d日 %H:%M}"
