"""Templates and the notice composer: registering templates, value checks, audience filters
and the recipient count, test sends, sending, and what a region operator may do."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.testing import FlaskClient, FlaskCliRunner
from sqlalchemy import select, update

from infra.db import Database
from models.follower import Follower
from models.notice import Notice, NoticeTemplate
from models.volunteer import Volunteer
from sandbox.fake_wechat import FakeWeChatState
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
    province_client,  # noqa: F401  (fixture)
    recipient_count,
)


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
    assert "已从微信同步 3 个模板" in answer.get_data(as_text=True)
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
        session.add(Follower(openid=chengguan[0], subscribed=False))
        session.add(Follower(openid=chengguan[1], subscribed=True, refuses_notices=True))
        session.add(Follower(openid=chengguan[2], subscribed=True))
        session.execute(
            update(Volunteer).where(Volunteer.openid == chengguan[3]).values(status="deregistered")
        )
    assert count(region="620102") == 1


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
    assert message["data"] == REMINDER_DATA
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
