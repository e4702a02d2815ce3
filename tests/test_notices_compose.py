"""Templates and the notice composer: registering templates, value checks, audience filters
and the recipient count, test sends, sending, and what a region operator may do."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select, update

from infra.db import Database
from models.activity import Activity
from models.follower import Follower
from models.notice import Notice, NoticeTemplate
from models.volunteer import Volunteer
from sandbox.fake_wechat import SEED_TEMPLATES, FakeWeChatState
from tests.test_console_support import (
    REMINDER_DATA,
    add_activity,
    add_operator,
    add_team,
    add_template,
    add_volunteers,
    compose,
    compose_data,
    csrf_token,
    join_team,
    login,
    notice_queue,  # noqa: F401  (fixture)
    post_form,
    province_client,  # noqa: F401  (fixture)
    queue_notice,
    recipient_count,
)
from tests.wechat_user import WeChatUser
from worker.jobs import run_notice

REMINDER_FIELDS_TEXT = [
    ("thing1", "活动名称"),
    ("time2", "开始时间"),
    ("thing3", "活动地点"),
    ("thing4", "温馨提示"),
]


def notices_in(db: Database) -> list[Notice]:
    with db.Session() as session:
        return list(session.scalars(select(Notice).order_by(Notice.id)))


# -- templates -------------------------------------------------------------------------------


def test_register_a_template(province_client: FlaskClient, db: Database) -> None:  # noqa: F811
    token = csrf_token(province_client, "/console/templates/new")
    answer = province_client.post(
        "/console/templates/new",
        data={
            "csrf_token": token,
            "template_id": "kjzyActivityReminder00000000000000000000002",
            "title": "活动开始提醒",
            "fields": "活动名称:{{thing1.DATA}}\n开始时间:{{time2.DATA}}\nthing3 活动地点",
        },
    )
    assert answer.status_code == 302
    with db.Session() as session:
        template = session.scalar(select(NoticeTemplate))
        assert template is not None
        assert [f["key"] for f in template.fields] == ["thing1", "time2", "thing3"]
    listing = province_client.get("/console/templates").get_data(as_text=True)
    assert "活动开始提醒" in listing and "不超过20个字" in listing

    bad = province_client.post(
        "/console/templates/new",
        data={"csrf_token": token, "template_id": "short", "title": "x", "fields": "thing1 a"},
    )
    assert "模板ID为10-64位" in bad.get_data(as_text=True)


def test_sync_templates_from_wechat(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    fake_wechat: FakeWeChatState,
) -> None:
    token = csrf_token(province_client, "/console/templates")
    answer = province_client.post(
        "/console/templates/sync", data={"csrf_token": token}, follow_redirects=True
    )
    assert f"已从微信同步 {len(SEED_TEMPLATES)} 个模板" in answer.get_data(as_text=True)
    with db.Session() as session:
        synced = {t.title: t.fields for t in session.scalars(select(NoticeTemplate))}
    assert synced["活动报名成功通知"][3] == {"key": "phrase4", "label": "报名状态"}
    assert [f["label"] for f in synced["活动开始提醒"]] == [
        "活动名称",
        "开始时间",
        "活动地点",
        "温馨提示",
    ]


def test_only_province_operators_manage_templates(app: Flask, db: Database) -> None:
    add_template(db)
    add_operator(db, "lanzhou", "region:620100")
    client = app.test_client()
    login(client, "lanzhou")
    assert client.get("/console/templates").status_code == 200
    assert client.get("/console/templates/new").status_code == 403
    token = csrf_token(client, "/console/templates")
    assert client.post("/console/templates/sync", data={"csrf_token": token}).status_code == 403


# -- composing -------------------------------------------------------------------------------


def test_values_are_checked_before_anything_is_sent(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    template = add_template(db)
    add_volunteers(db, 3)
    bad = {
        **REMINDER_DATA,
        "thing1": "一个名字特别特别特别特别特别特别特别长的活动",
        "time2": "下周六",
    }
    answer = compose(province_client, compose_data(template, bad, url="ftp://x"))
    page = answer.get_data(as_text=True)
    assert "活动名称：不超过20个字" in page
    assert "开始时间：时间" in page
    assert "链接应以 http:// 或 https:// 开头" in page
    assert "一个名字特别特别特别特别特别特别特别长的活动" in page  # kept for editing
    assert recipient_count(answer.data) is None
    sent = compose(province_client, compose_data(template, bad), action="send", expected="3")
    assert "不超过20个字" in sent.get_data(as_text=True)
    assert notices_in(db) == []


def test_audience_filters_and_the_count(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    template = add_template(db)
    chengguan = add_volunteers(db, 4, county_code="620102", skills=("科学普及", "农业技术"))
    add_volunteers(db, 3, county_code="620103", skills=("医疗卫生",), service_times=("工作日晚上",))
    add_volunteers(db, 2, prefecture_code="620500", county_code="620502", skills=("农业技术",))
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    join_team(db, team, chengguan[:2])

    def count(**audience: Any) -> int | None:
        return recipient_count(compose(province_client, compose_data(template, **audience)).data)

    assert count() == 9
    assert count(region="620100") == 7
    assert count(region="620102") == 4
    assert count(skills=["农业技术"]) == 6
    assert count(skills=["农业技术", "医疗卫生"]) == 9
    assert count(region="620100", skills=["农业技术"]) == 4
    assert count(service_times=["工作日晚上"]) == 3
    assert count(team_id=str(team)) == 2

    # unfollowed, refusing and de-registered volunteers are left out
    with db.Session.begin() as session:
        session.execute(
            update(Follower).where(Follower.openid == chengguan[0]).values(subscribed=False)
        )
        session.execute(
            update(Follower).where(Follower.openid == chengguan[1]).values(refuses_notices=True)
        )
        session.execute(
            update(Volunteer).where(Volunteer.openid == chengguan[3]).values(status="deregistered")
        )
    assert count(region="620102") == 1


def test_only_current_followers_are_counted_and_sent_to(
    app: Flask,
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    fake_wechat: FakeWeChatState,
    make_user: Any,
) -> None:
    """A volunteer who never followed the account (no subscribe, no message: no follower row)
    is neither counted nor sent to; following later brings them in."""
    template = add_template(db)
    following = add_volunteers(db, 2)
    (never,) = add_volunteers(db, 1, followed=False)
    assert recipient_count(compose(province_client, compose_data(template)).data) == 2
    notice_id = queue_notice(app)
    with app.app_context():
        assert run_notice(notice_id) == "done"
    assert fake_wechat.messages(never) == []
    assert all(len(fake_wechat.messages(openid)) == 1 for openid in following)

    newcomer: WeChatUser = make_user(never)
    newcomer.subscribe()
    assert recipient_count(compose(province_client, compose_data(template)).data) == 3


def test_prefilled_from_an_activity(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    template = add_template(db)
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    activity = add_activity(db, team, title="全国科普日·科学家进校园")
    page = province_client.get(f"/console/notices/new?template={template}&activity={activity}")
    text = page.get_data(as_text=True)
    assert 'value="全国科普日·科学家进校园"' in text
    assert 'value="兰州市城关区科技馆"' in text
    assert "年" in text and 'name="data-time2" value="20' in text


def test_test_send_goes_to_the_operator_only(
    app: Flask,
    db: Database,
    fake_wechat: FakeWeChatState,
) -> None:
    template = add_template(db)
    add_volunteers(db, 2)
    add_operator(db, "sheng", openid="oOperatorOpenid000000000001")
    client = app.test_client()
    login(client, "sheng")
    answer = compose(
        client, compose_data(template, url="https://kjzy.example.cn/a/1"), action="test"
    )
    assert "测试消息已发送到您的微信" in answer.get_data(as_text=True)
    (message,) = fake_wechat.messages("oOperatorOpenid000000000001")
    assert message["type"] == "template"
    assert message["data"] == {**REMINDER_DATA, "thing1": "【测试】青少年科普进社区"}
    assert message["url"] == "https://kjzy.example.cn/a/1"
    assert len(fake_wechat.calls_to("/cgi-bin/message/template/send")) == 1
    assert notices_in(db) == []

    fake_wechat.fail("/cgi-bin/message/template/send", 40037)
    refused = compose(client, compose_data(template), action="test")
    assert "模板ID无效（40037）" in refused.get_data(as_text=True)


def test_test_send_needs_a_bound_wechat(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    template = add_template(db)
    answer = compose(province_client, compose_data(template), action="test")
    assert "请先在「账号」页绑定" in answer.get_data(as_text=True)


def test_bind_wechat_with_a_code(app: Flask, db: Database, make_user: Any) -> None:
    add_operator(db, "sheng")
    client = app.test_client()
    login(client, "sheng")
    token = csrf_token(client, "/console/account")
    page = client.post(
        "/console/account/bind-code", data={"csrf_token": token}, follow_redirects=True
    ).get_data(as_text=True)
    code = page.split("「绑定 ")[1][:6]
    user = make_user()
    assert "已将本微信号绑定到工作台账号 sheng" in user.say(f"绑定 {code}")
    assert "绑定码无效或已过期" in user.say(f"绑定 {code}")  # once only
    assert user.openid in client.get("/console/account").get_data(as_text=True)


def test_send_creates_and_queues_the_notice(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    notice_queue: Any,  # noqa: F811
) -> None:
    template = add_template(db)
    add_volunteers(db, 3)
    fields = compose_data(template, region="620100")
    preview = compose(province_client, fields)
    assert recipient_count(preview.data) == 3
    add_volunteers(db, 1)  # someone registers between the preview and the click
    changed = compose(province_client, fields, action="send", expected="3")
    assert "接收人数已变为 4 人" in changed.get_data(as_text=True)
    assert notices_in(db) == []

    sent = compose(province_client, fields, action="send", expected="4")
    assert sent.status_code == 302
    (notice,) = notices_in(db)
    assert notice.status == "queued"
    assert notice.data == REMINDER_DATA
    assert notice.audience["region"] == "620100"
    assert notice.audience_text.startswith("甘肃省兰州市")
    assert sent.headers["Location"].endswith(f"/console/notices/{notice.id}")
    if hasattr(notice_queue, "queue"):
        assert notice_queue.queue.count >= 1


def test_region_operator_reaches_only_their_region(app: Flask, db: Database) -> None:
    template = add_template(db)
    add_volunteers(db, 2, prefecture_code="620100", county_code="620102")
    add_volunteers(db, 5, prefecture_code="620500", county_code="620502")
    tianshui_team = add_team(
        db, "天水市科技志愿服务队", kind="prefecture", prefecture_code="620500"
    )
    add_operator(db, "lanzhou", "region:620100")
    client = app.test_client()
    login(client, "lanzhou")

    assert recipient_count(compose(client, compose_data(template)).data) == 2
    outside = compose(client, compose_data(template, region="620500"))
    assert "只能选择本辖区内的地区" in outside.get_data(as_text=True)
    other_team = compose(client, compose_data(template, team_id=str(tianshui_team)))
    assert "只能选择本辖区内的服务队" in other_team.get_data(as_text=True)

    # a notice of the province is not theirs to see or control
    add_operator(db, "sheng")
    province = app.test_client()
    login(province, "sheng")
    compose(province, compose_data(template), action="send", expected="7")
    (notice,) = notices_in(db)
    assert client.get(f"/console/notices/{notice.id}").status_code == 404
    assert client.get(f"/console/notices/{notice.id}/progress").status_code == 404
    token = csrf_token(client, "/console/notices")
    assert (
        client.post(f"/console/notices/{notice.id}/cancel", data={"csrf_token": token}).status_code
        == 404
    )
    assert f"#{notice.id}" not in client.get("/console/notices").get_data(as_text=True)


def test_cli_send_and_status(runner: FlaskCliRunner, db: Database, notice_queue: Any) -> None:  # noqa: F811
    template = add_template(db)
    add_volunteers(db, 2)
    args = ["notice", "send", "--template", "kjzyActivityReminder00000000000000000000002"]
    for key, value in REMINDER_DATA.items():
        args += ["--data", f"{key}={value}"]
    result = runner.invoke(args=[*args, "--audience", "region=620100", "--yes"])
    assert result.exit_code == 0, result.output
    assert "共 2 人" in result.output
    (notice,) = notices_in(db)
    assert notice.template_id == template
    status = runner.invoke(args=["notice", "status", str(notice.id)])
    assert f"通知 #{notice.id}" in status.output

    bad = runner.invoke(args=[*args[:4], "--data", "thing1=x", "--yes"])
    assert bad.exit_code == 1 and "time2" in bad.output


# -- friction: prefill, unknown templates, test sends ------------------------------------------

CONTACT_FIELDS = [
    {"key": "thing1", "label": "活动名称"},
    {"key": "name2", "label": "联系人"},
    {"key": "phone_number3", "label": "联系电话"},
    {"key": "character_string4", "label": "联系方式"},
]


def test_prefill_takes_only_values_that_pass_the_rules(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
) -> None:
    template = add_template(db, "kjzyContactTemplate000000000000000000000009", CONTACT_FIELDS)
    team = add_team(db, "甘肃省科普作家协会科技志愿服务队")
    activity = add_activity(db, team)
    with db.Session.begin() as session:
        session.execute(
            update(Activity).where(Activity.id == activity).values(contact="张老师 0931-8912345")
        )
    page = province_client.get(f"/console/notices/new?template={template}&activity={activity}")
    text = page.get_data(as_text=True)
    assert 'name="data-name2" value="张老师"' in text
    assert 'name="data-phone_number3" value="0931-8912345"' in text
    assert 'name="data-character_string4" value=""' in text  # 「张老师 …」 breaks its rule
    values = dict(re.findall(r'name="data-(\w+)" value="([^"]*)"', text))
    values["character_string4"] = "kjzy-2026"
    preview = compose(province_client, compose_data(template, values))
    assert recipient_count(preview.data) is not None, preview.get_data(as_text=True)


def test_a_template_typed_by_hand_is_sent_only_after_a_test_send_succeeds(
    app: Flask,
    db: Database,
    fake_wechat: FakeWeChatState,
) -> None:
    add_volunteers(db, 2)
    add_operator(db, "sheng", openid="oOperatorOpenid000000000001")
    client = app.test_client()
    login(client, "sheng")
    made_up = post_form(
        client,
        "/console/templates/new",
        "/console/templates/new",
        {
            "template_id": "kjzyMadeUpTemplate0000000000001",
            "title": "自拟模板",
            "fields": "\n".join(f"{k} {v}" for k, v in REMINDER_FIELDS_TEXT),
        },
    )
    assert made_up.status_code == 302
    with db.Session() as session:
        template = session.scalar(
            select(NoticeTemplate.id).where(NoticeTemplate.title == "自拟模板")
        )
    assert template is not None
    preview = compose(client, compose_data(template)).get_data(as_text=True)
    assert re.search(r'id="send-button" disabled', preview)
    assert "还没有经过验证" in preview and "沙盒" in preview and "从微信同步" in preview
    refused = compose(client, compose_data(template), action="send", expected="2")
    assert "还没有经过验证" in refused.get_data(as_text=True) and notices_in(db) == []

    failed = compose(client, compose_data(template), action="test").get_data(as_text=True)
    assert "模板ID无效（40037）" in failed and 'id="send-button" disabled' in failed

    # The same ID once WeChat knows it: the test send goes through and sending is allowed.
    fake_wechat.add_template(
        {
            "template_id": "kjzyMadeUpTemplate0000000000001",
            "title": "自拟模板",
            "content": "活动名称:{{thing1.DATA}}\n开始时间:{{time2.DATA}}\n"
            "活动地点:{{thing3.DATA}}\n温馨提示:{{thing4.DATA}}\n",
        }
    )
    tested = compose(client, compose_data(template), action="test").get_data(as_text=True)
    assert "测试消息已发送到您的微信" in tested
    assert 'id="send-button"' in tested and 'id="send-button" disabled' not in tested
    sent = compose(client, compose_data(template), action="send", expected="2")
    assert sent.status_code == 302 and len(notices_in(db)) == 1


def test_synced_templates_can_be_sent_at_once(
    province_client: FlaskClient,  # noqa: F811
    db: Database,
    fake_wechat: FakeWeChatState,
) -> None:
    add_volunteers(db, 1)
    post_form(province_client, "/console/templates", "/console/templates/sync", {})
    with db.Session() as session:
        synced = session.scalars(select(NoticeTemplate)).all()
    assert synced and all(t.verified for t in synced)
    reminder = next(t.id for t in synced if t.title == "活动开始提醒")
    preview = compose(province_client, compose_data(reminder)).get_data(as_text=True)
    assert 'id="send-button"' in preview and "还没有经过验证" not in preview


def test_a_test_send_is_marked_as_a_test(
    app: Flask,
    db: Database,
    fake_wechat: FakeWeChatState,
) -> None:
    template = add_template(db)
    add_operator(db, "sheng", openid="oOperatorOpenid000000000001")
    client = app.test_client()
    login(client, "sheng")
    long_title = {**REMINDER_DATA, "thing1": "青少年科普进社区暨全国科普日系列主题活动"}
    answer = compose(client, compose_data(template, long_title), action="test")
    assert "【测试】" in answer.get_data(as_text=True)
    (message,) = fake_wechat.messages("oOperatorOpenid000000000001")
    assert message["data"]["thing1"].startswith("【测试】青少年科普进社区")
    assert len(message["data"]["thing1"]) <= 20
    assert {k: v for k, v in message["data"].items() if k != "thing1"} == {
        k: v for k, v in REMINDER_DATA.items() if k != "thing1"
    }
