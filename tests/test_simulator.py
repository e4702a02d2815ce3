"""The browser simulator's server side: what it posts to /wechat, how it decodes the answers,
the chat it keeps, and that a production configuration has no simulator at all."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
import redis
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select

from app import create_app
from config import Settings
from extensions import close_extensions
from infra.db import Database
from infra.redis import Keys
from models.operator import AuditEntry
from models.volunteer import Volunteer
from sandbox.fake_wechat import TEMPLATE_ACTIVITY_SIGNUP
from sandbox.simulator import USERS
from sandbox.simulator.wire import (
    SIMULATED_ACCOUNT,
    api_message_item,
    open_reply_xml,
    shown_reply,
    template_lines,
)
from tests import volunteer_steps as steps
from tests.conftest import TEST_AES_KEY
from tests.test_console_support import add_operator, login
from tests.volunteer_steps import GOOD_ID
from tests.wechat_user import WeChatUser
from wechat.client import WeChatAPI
from wechat.messages import Article, Reply
from wechat.protocol import Protocol, SignatureError, parse_xml

MENUS = Path(__file__).resolve().parent.parent / "menus.json"
USER_A = USERS[0].openid
USER_B = USERS[1].openid


def make_app(settings: Settings) -> Iterator[Flask]:
    application = create_app(settings)
    application.config["TESTING"] = True
    yield application
    close_extensions(application)


@pytest.fixture
def sim_app(settings: Settings, db: Database, redis_client: redis.Redis) -> Iterator[Flask]:
    """Real credentials (so not sandbox) with SIMULATOR_ENABLED, in safe (encrypted) mode."""
    yield from make_app(
        settings.with_overrides(simulator_enabled=True, wechat_encoding_aes_key=TEST_AES_KEY)
    )


def operator_client(application: Flask, db: Database, name: str = "rehearsal") -> FlaskClient:
    """With real credentials the simulator is for operators logged in to the console."""
    add_operator(db, name)
    client = application.test_client()
    assert login(client, name).status_code == 302
    return client


@pytest.fixture
def sim(sim_app: Flask, db: Database) -> FlaskClient:
    return operator_client(sim_app, db)


@pytest.fixture
def sim_protocol(sim_app: Flask) -> Protocol:
    protocol: Protocol = sim_app.extensions["bot"].protocol
    return protocol


def send(client: FlaskClient, openid: str = USER_A, **payload: Any) -> dict[str, Any]:
    response = client.post("/simulator/api/send", json={"openid": openid, **payload})
    assert response.status_code == 200, response.get_data(as_text=True)
    data: dict[str, Any] = response.get_json()
    return data


def chat(client: FlaskClient, openid: str, history: int = 0, api: int = 0) -> dict[str, Any]:
    response = client.get(
        "/simulator/api/chat", query_string={"openid": openid, "history": history, "api": api}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    data: dict[str, Any] = response.get_json()
    return data


def posted_fields(protocol: Protocol, exchange: dict[str, Any]) -> dict[str, str]:
    """Check the POST the simulator made as /wechat does, and return the message inside it."""
    query = dict(parse_qsl(urlsplit(exchange["url"]).query))
    protocol.check_signature(query["signature"], query["timestamp"], query["nonce"])
    body = exchange["request_body"].encode("utf-8")
    if query.get("encrypt_type") == "aes":
        inner = protocol.decrypt(body, query["msg_signature"], query["timestamp"], query["nonce"])
    else:
        inner = body.decode("utf-8")
    assert inner == exchange["request_xml"]
    return parse_xml(inner)


def page_config(client: FlaskClient) -> dict[str, Any]:
    html = client.get("/simulator").get_data(as_text=True)
    match = re.search(r'<script id="sim-config" type="application/json">(.*?)</script>', html)
    assert match is not None
    config: dict[str, Any] = json.loads(match[1])
    return config


# ---- where the simulator exists ---------------------------------------------------------------


def test_production_configuration_has_no_simulator(app: Flask, client: FlaskClient) -> None:
    settings: Settings = app.extensions["settings"]
    assert not settings.sandbox and not settings.simulator_enabled
    assert "simulator" not in app.blueprints
    assert client.get("/simulator").status_code == 404
    assert client.get("/simulator/").status_code == 404
    assert client.get("/simulator/static/simulator.js").status_code == 404
    assert client.get(f"/simulator/api/chat?openid={USER_A}").status_code == 404
    assert (
        client.post("/simulator/api/send", json={"openid": USER_A, "type": "subscribe"}).status_code
        == 404
    )


def test_sandbox_mode_serves_the_simulator(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    for application in make_app(settings.with_overrides(sandbox=True)):
        client = application.test_client()
        page = client.get("/simulator")
        assert page.status_code == 200
        assert "甘肃科技志愿服务" in page.get_data(as_text=True)
        assert client.get("/simulator/").status_code == 200
        script = client.get("/simulator/static/simulator.js")
        assert script.status_code == 200 and b"textContent" in script.data
        script.close()
        style = client.get("/simulator/static/simulator.css")
        assert style.status_code == 200
        style.close()


def test_with_real_credentials_the_simulator_needs_an_operator(sim_app: Flask) -> None:
    anonymous = sim_app.test_client()
    page = anonymous.get("/simulator")
    assert page.status_code == 302 and "/console/login" in page.headers["Location"]
    sent = anonymous.post("/simulator/api/send", json={"openid": USER_A, "type": "subscribe"})
    assert sent.status_code == 401 and "登录" in sent.get_json()["error"]
    assert anonymous.get(f"/simulator/api/chat?openid={USER_A}").status_code == 401


def test_with_real_credentials_it_never_speaks_for_a_real_follower(
    sim: FlaskClient, wechat_user: WeChatUser, db: Database
) -> None:
    steps.register(wechat_user)  # a real volunteer, with a real-looking openid
    assert wechat_user.openid.startswith("o")
    for payload in (
        {"type": "click", "key": "VOLUNTEER_PROFILE"},
        {"type": "text", "content": "确认注销"},
    ):
        refused = sim.post("/simulator/api/send", json={"openid": wechat_user.openid, **payload})
        assert refused.status_code == 403
        assert "模拟用户" in refused.get_json()["error"]
        assert "张三" not in refused.get_data(as_text=True)
    assert sim.get(f"/simulator/api/chat?openid={wechat_user.openid}").status_code == 403
    with db.Session() as session:
        assert session.scalar(select(Volunteer.status)) == "active"
    assert "欢迎" in send(sim, type="subscribe")["items"][-1]["content"]  # simulated: fine


def test_with_real_credentials_every_use_is_audited(sim: FlaskClient, db: Database) -> None:
    sim.get("/simulator")
    send(sim, type="click", key="VOLUNTEER_REGISTER")
    send(sim, type="text", content=GOOD_ID)
    with db.Session() as session:
        entries = session.scalars(
            select(AuditEntry).where(AuditEntry.action.like("simulator%")).order_by(AuditEntry.id)
        ).all()
    assert [e.action for e in entries] == ["simulator_open", "simulator_send", "simulator_send"]
    assert {e.actor for e in entries} == {"rehearsal"}
    assert USER_A in entries[1].summary and "点击菜单" in entries[1].summary
    assert GOOD_ID not in entries[2].summary and GOOD_ID not in str(entries[2].detail)


def test_in_sandbox_mode_the_simulator_stays_open(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    for application in make_app(settings.with_overrides(sandbox=True)):
        client = application.test_client()
        assert "欢迎" in send(client, type="subscribe")["items"][-1]["content"]
        with db.Session() as session:
            assert session.scalar(select(AuditEntry.id)) is None


def test_page_draws_the_menu_from_menus_json_with_no_outside_assets(sim: FlaskClient) -> None:
    config = page_config(sim)
    assert config["menu"] == json.loads(MENUS.read_text(encoding="utf-8"))["button"]
    assert config["menu_problems"] == []
    assert config["mode"] == "safe"
    assert [u["name"] for u in config["users"]] == ["用户A", "用户B"]
    html = sim.get("/simulator").get_data(as_text=True)
    # Works offline: every script and stylesheet comes from this app.
    assert not re.search(r'(src|href)="(https?:)?//', html)


# ---- what goes over the wire ------------------------------------------------------------------


def test_text_is_signed_encrypted_and_posted_like_wechat(
    sim: FlaskClient, sim_protocol: Protocol
) -> None:
    data = send(sim, type="text", content="帮助", cid="c1")
    exchange = data["exchange"]
    query = dict(parse_qsl(urlsplit(exchange["url"]).query))
    assert query["encrypt_type"] == "aes" and query["openid"] == USER_A
    # Safe mode: the body carries only ToUserName and the ciphertext.
    outer = parse_xml(exchange["request_body"])
    assert set(outer) == {"ToUserName", "Encrypt"}
    fields = posted_fields(sim_protocol, exchange)
    assert fields["ToUserName"] == SIMULATED_ACCOUNT
    assert fields["FromUserName"] == USER_A
    assert fields["MsgType"] == "text"
    assert fields["Content"] == "帮助"
    assert fields["MsgId"].isdigit()
    assert abs(int(fields["CreateTime"]) - time.time()) < 5

    assert "使用说明" not in exchange["reply_body"]  # the reply came back encrypted too
    assert "使用说明" in exchange["reply_xml"]
    sent, reply = data["items"]
    assert sent == {**sent, "side": "user", "type": "text", "content": "帮助", "cid": "c1"}
    assert reply["side"] == "account" and reply["type"] == "text"
    assert reply["content"].startswith("使用说明")
    assert isinstance(reply["ms"], int) and reply["ms"] >= 0


def test_plain_mode_without_an_aes_key(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    for application in make_app(settings.with_overrides(simulator_enabled=True)):
        client = operator_client(application, db)
        data = send(client, type="text", content="关于我们")
        exchange = data["exchange"]
        assert exchange["mode"] == "plain"
        assert "encrypt_type" not in exchange["url"]
        assert exchange["request_body"] == exchange["request_xml"]
        fields = posted_fields(application.extensions["bot"].protocol, exchange)
        assert fields["Content"] == "关于我们"


def test_voice_sends_a_voice_message_with_the_recognised_text(
    sim: FlaskClient, sim_protocol: Protocol
) -> None:
    send(sim, type="click", key="VOLUNTEER_REGISTER")
    data = send(sim, type="voice", content="同意", cid="v1")
    fields = posted_fields(sim_protocol, data["exchange"])
    assert fields["MsgType"] == "voice" and fields["Format"] == "amr"
    assert fields["Recognition"] == "同意。"  # as WeChat's speech recognition writes it
    assert fields["MediaId"] and fields["MsgId"].isdigit()
    sent, reply = data["items"]
    assert sent == {**sent, "side": "user", "type": "voice", "content": "同意", "cid": "v1"}
    assert "姓名" in reply["content"]


def test_menu_tap_sends_the_click_event_with_its_key(
    sim: FlaskClient, sim_protocol: Protocol
) -> None:
    data = send(sim, type="click", key="VOLUNTEER_REGISTER")
    fields = posted_fields(sim_protocol, data["exchange"])
    assert fields["MsgType"] == "event"
    assert fields["Event"] == "CLICK"
    assert fields["EventKey"] == "VOLUNTEER_REGISTER"
    assert "MsgId" not in fields
    note, reply = data["items"]
    assert note["side"] == "system" and note["content"] == "点击菜单「志愿者 › 注册」"
    assert "个人信息保护说明" in reply["content"]


def test_follow_then_unfollow(sim: FlaskClient, sim_protocol: Protocol) -> None:
    welcome = send(sim, type="subscribe")
    assert posted_fields(sim_protocol, welcome["exchange"])["Event"] == "subscribe"
    assert welcome["items"][0]["event"] == "subscribe"
    assert "欢迎关注" in welcome["items"][1]["content"]

    goodbye = send(sim, type="unsubscribe")
    assert posted_fields(sim_protocol, goodbye["exchange"])["Event"] == "unsubscribe"
    # The webhook answers `success`: WeChat shows nothing, so neither does the chat.
    assert goodbye["exchange"]["reply_body"] == "success"
    assert goodbye["exchange"]["reply_xml"] is None
    assert [item["content"] for item in goodbye["items"]] == ["取消关注了公众号"]


def test_scan_is_a_subscribe_for_a_new_follower_then_a_scan_event(
    sim: FlaskClient, sim_protocol: Protocol
) -> None:
    first = posted_fields(sim_protocol, send(sim, type="scan", scene=" team-42 ")["exchange"])
    assert first["Event"] == "subscribe"
    assert first["EventKey"] == "qrscene_team-42"
    assert first["Ticket"]

    again = send(sim, type="scan", scene="team-42")
    fields = posted_fields(sim_protocol, again["exchange"])
    assert fields["Event"] == "SCAN"
    assert fields["EventKey"] == "team-42"
    assert again["items"][0]["content"] == "扫描二维码（场景值 team-42）"


def test_view_button_sends_the_view_event(sim: FlaskClient, sim_protocol: Protocol) -> None:
    data = send(sim, type="view", url="https://example.org/about")
    fields = posted_fields(sim_protocol, data["exchange"])
    assert (fields["Event"], fields["EventKey"]) == ("VIEW", "https://example.org/about")
    assert len(data["items"]) == 1  # the handler ignores VIEW: nothing shown


# ---- the chat ---------------------------------------------------------------------------------


def test_each_user_keeps_their_own_history(
    sim: FlaskClient, redis_client: redis.Redis, settings: Settings
) -> None:
    send(sim, USER_A, type="subscribe")
    send(sim, USER_A, type="text", content="帮助")
    a = chat(sim, USER_A)
    assert [item["id"] for item in a["items"]] == ["h0", "h1", "h2", "h3"]
    assert [item["side"] for item in a["items"]] == ["system", "account", "user", "account"]
    assert a["cursor"]["history"] == 4
    assert chat(sim, USER_B)["items"] == []
    assert redis_client.llen(Keys(settings.redis_prefix).simulator_chat(USER_A)) == 4

    # Polling from the cursor returns only what is new.
    assert chat(sim, USER_A, history=4, api=a["cursor"]["api"])["items"] == []
    send(sim, USER_A, type="text", content="关于我们")
    new = chat(sim, USER_A, history=4, api=a["cursor"]["api"])
    assert [item["id"] for item in new["items"]] == ["h4", "h5"]

    # A page that knows more than the server (history cleared) is told to start again.
    redis_client.delete(Keys(settings.redis_prefix).simulator_chat(USER_A))
    assert chat(sim, USER_A, history=6)["reset"] is True


def test_messages_sent_through_the_api_appear_in_the_chat(
    sim: FlaskClient, wechat_api: WeChatAPI
) -> None:
    wechat_api.send_template(
        USER_B,
        TEMPLATE_ACTIVITY_SIGNUP,
        {
            "thing1": "青少年科普进社区",
            "time2": "2024年5月18日 09:00",
            "thing3": "兰州市城关区科技馆",
            "phrase4": "已报名",
        },
        url="https://example.org/activities/1",
    )
    wechat_api.send_text(USER_B, "活动地点有变，详见 https://example.org/a/1")
    wechat_api.send_news(
        USER_B,
        [
            {
                "title": "科普日活动",
                "description": "九月第三周",
                "url": "https://example.org/n",
                "picurl": "",
            }
        ],
    )
    data = chat(sim, USER_B)
    assert data["api_status"] == "ok"
    template, text, news = data["items"]
    assert template["type"] == "template" and template["source"] == "api"
    assert template["title"] == "活动报名成功通知"
    assert template["lines"] == [
        {"label": "活动名称", "value": "青少年科普进社区"},
        {"label": "活动时间", "value": "2024年5月18日 09:00"},
        {"label": "活动地点", "value": "兰州市城关区科技馆"},
        {"label": "报名状态", "value": "已报名"},
    ]
    assert template["url"] == "https://example.org/activities/1"
    assert text["type"] == "text" and text["content"].startswith("活动地点有变")
    assert news["type"] == "news" and news["articles"][0]["title"] == "科普日活动"

    assert chat(sim, USER_B, api=data["cursor"]["api"])["items"] == []
    assert chat(sim, USER_A)["items"] == []


def test_a_late_reply_arrives_through_the_customer_service_api(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    # No time at all to answer: the webhook says `success`, the reply follows through the API.
    late = settings.with_overrides(simulator_enabled=True, reply_budget_seconds=0.0)
    for application in make_app(late):
        client = operator_client(application, db)
        data = send(client, type="subscribe")
        assert data["exchange"]["reply_body"] == "success"
        assert len(data["items"]) == 1
        deadline = time.monotonic() + 5
        items: list[dict[str, Any]] = []
        while time.monotonic() < deadline and not any(i["side"] == "account" for i in items):
            time.sleep(0.05)
            items = chat(client, USER_A)["items"]
        welcome = [item for item in items if item["side"] == "account"]
        assert len(welcome) == 1
        assert welcome[0]["source"] == "api" and "欢迎关注" in welcome[0]["content"]


def test_without_the_fake_api_the_chat_still_works(
    settings: Settings, db: Database, redis_client: redis.Redis
) -> None:
    nothing_listens = settings.with_overrides(
        simulator_enabled=True, wechat_api_base_url="http://127.0.0.1:9"
    )
    for application in make_app(nothing_listens):
        client = operator_client(application, db)
        send(client, type="subscribe")
        data = chat(client, USER_A)
        assert data["api_status"] == "unavailable"
        assert [item["side"] for item in data["items"]] == ["system", "account"]


@pytest.mark.parametrize(
    ("payload", "hint"),
    [
        ({"openid": "bad id!", "type": "subscribe"}, "openid"),
        ({"openid": USER_A, "type": "text", "content": "   "}, "空白"),
        ({"openid": USER_A, "type": "text", "content": "长" * 2001}, "太长"),
        ({"openid": USER_A, "type": "text"}, "空白"),
        ({"openid": USER_A, "type": "click"}, "key"),
        ({"openid": USER_A, "type": "view", "url": "javascript:alert(1)"}, "http"),
        ({"openid": USER_A, "type": "scan", "scene": ""}, "场景值"),
        ({"openid": USER_A, "type": "scan", "scene": "x" * 65}, "场景值"),
        ({"openid": USER_A, "type": "location"}, "不支持"),
        ({"openid": USER_A, "type": "voice", "content": " "}, "要说的话"),
        (["not", "an", "object"], "JSON"),
    ],
)
def test_bad_requests_get_a_hint_and_change_nothing(
    sim: FlaskClient, payload: Any, hint: str
) -> None:
    response = sim.post("/simulator/api/send", json=payload)
    assert response.status_code == 400
    assert hint in response.get_json()["error"]
    assert chat(sim, USER_A)["items"] == []


def test_a_form_post_is_refused(sim: FlaskClient) -> None:
    # Only JSON is accepted, so another site cannot drive the simulator with a plain form.
    response = sim.post("/simulator/api/send", data={"openid": USER_A, "type": "subscribe"})
    assert response.status_code == 400
    assert chat(sim, USER_A)["items"] == []


@pytest.mark.parametrize(
    "query", [{"openid": "x"}, {"openid": USER_A, "history": "-1"}, {"openid": USER_A, "api": "a"}]
)
def test_bad_chat_queries_are_refused(sim: FlaskClient, query: dict[str, str]) -> None:
    assert sim.get("/simulator/api/chat", query_string=query).status_code == 400


# ---- decoding replies as WeChat would ---------------------------------------------------------

PROTOCOL = Protocol("testtoken", "wx1234567890abcdef", TEST_AES_KEY)


def encrypted(reply: Reply) -> bytes:
    return PROTOCOL.encrypt(reply.render(to_openid=USER_A, from_account=SIMULATED_ACCOUNT)).encode()


def test_news_reply_becomes_article_cards() -> None:
    reply = Reply(
        articles=(
            Article("科普日", "九月第三周", "https://example.org/1", "https://example.org/1.jpg"),
            Article("农技下乡", "", "https://example.org/2", ""),
        )
    )
    xml = open_reply_xml(PROTOCOL, encrypted(reply))
    assert xml is not None
    assert shown_reply(xml) == {
        "type": "news",
        "articles": [
            {
                "title": "科普日",
                "description": "九月第三周",
                "picurl": "https://example.org/1.jpg",
                "url": "https://example.org/1",
            },
            {"title": "农技下乡", "description": "", "picurl": "", "url": "https://example.org/2"},
        ],
    }
    single = open_reply_xml(PROTOCOL, encrypted(Reply(articles=(Article("只有一篇"),))))
    assert single is not None
    assert shown_reply(single)["articles"][0]["title"] == "只有一篇"  # type: ignore[index]


def test_text_image_and_empty_replies() -> None:
    text = open_reply_xml(PROTOCOL, encrypted(Reply(text='<a href="https://x.org">x</a> & <b>')))
    assert text is not None
    assert shown_reply(text) == {"type": "text", "content": '<a href="https://x.org">x</a> & <b>'}
    image = open_reply_xml(PROTOCOL, encrypted(Reply(image_media_id="media-1")))
    assert image is not None
    assert shown_reply(image) == {"type": "image", "media_id": "media-1"}
    assert open_reply_xml(PROTOCOL, b"success") is None
    assert open_reply_xml(PROTOCOL, b"") is None


def test_a_tampered_encrypted_reply_is_refused() -> None:
    body = encrypted(Reply(text="你好")).decode()
    tampered = re.sub(r"<MsgSignature><!\[CDATA\[(\w)", r"<MsgSignature><![CDATA[0\1", body)
    with pytest.raises(SignatureError):
        open_reply_xml(PROTOCOL, tampered.encode())


def test_template_lines_follow_the_template_layout() -> None:
    content = "{{first.DATA}}\n活动名称：{{thing1.DATA}}\n时间:{{time2.DATA}}\n{{remark.DATA}}"
    data = {"first": "您好", "thing1": "科普", "time2": "5月1日", "remark": "谢谢"}
    assert template_lines(content, data) == [
        {"label": "", "value": "您好"},
        {"label": "活动名称", "value": "科普"},
        {"label": "时间", "value": "5月1日"},
        {"label": "", "value": "谢谢"},
    ]
    # An unknown template: its keys label the values.
    assert template_lines("", {"thing1": "科普"}) == [{"label": "thing1", "value": "科普"}]


def test_api_message_of_an_unknown_template_still_shows_its_values() -> None:
    item = api_message_item(
        {"id": 7, "type": "template", "template_id": "gone", "title": "", "data": {"k": "v"}},
        {},
    )
    assert item["id"] == "a7" and item["title"] == "模板消息"
    assert item["lines"] == [{"label": "k", "value": "v"}]
