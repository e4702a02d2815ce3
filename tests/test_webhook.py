"""The /wechat endpoint over HTTP: URL check, the three modes, bad input, and the basic replies."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import redis
import xmltodict
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import func, select

from config import Settings
from extensions import build_services, close_extensions, services_of
from handlers import ANSWERS, FLOWS, ROUTERS
from handlers.basics import GUIDE, WELCOME
from handlers.context import Context
from infra.db import Database
from models import Follower
from sandbox.fake_wechat import FakeWeChatState
from tests.wechat_user import ACCOUNT, WeChatUser
from wechat.bot import Bot, build_bot
from wechat.dispatcher import COMING_SOON, SORRY
from wechat.messages import Article, Reply
from wechat.protocol import Mode, Protocol, build_inbound_xml, parse_xml, sign
from wechat.router import Router

MakeUser = Callable[..., WeChatUser]


# -- helpers shared with test_dispatch.py --------------------------------------------------


def install_bot(app: Flask, *routers: Router, **overrides: Any) -> Bot:
    """Rebuild the app's services and bot with test-only routers in front of ours (and
    settings overrides)."""
    settings = services_of(app).settings.with_overrides(**overrides)
    close_extensions(app)
    services = build_services(settings)
    app.extensions["services"] = services
    bot = build_bot(
        settings,
        [*routers, *ROUTERS],
        FLOWS,
        redis_client=services.redis,
        keys=services.keys,
        api=services.api,
        cipher=services.pii,
        answers=ANSWERS,
        services=services,
    )
    app.extensions["bot"] = bot
    return bot


# How the account is configured for each way WeChat can send: plaintext needs no EncodingAESKey,
# compatible mode needs WECHAT_MESSAGE_MODE=compat (the test app has a key, in safe mode).
MODE_SETTINGS: dict[Mode, dict[str, Any]] = {
    Mode.PLAIN: {"wechat_encoding_aes_key": None},
    Mode.COMPATIBLE: {"wechat_message_mode": "compat"},
    Mode.SAFE: {},
}


def account_in_mode(app: Flask, mode: Mode, *routers: Router) -> Bot:
    """Configure the account so that WeChat sends in `mode` (with test routers in front)."""
    return install_bot(app, *routers, **MODE_SETTINGS[mode])


@contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    """Every log record, from every thread (works with or without pytest's logging plugin)."""
    records: list[logging.LogRecord] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            records.append(record)

    handler = Keep(logging.DEBUG)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield records
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def formatted(records: list[logging.LogRecord]) -> str:
    formatter = logging.Formatter("%(name)s %(levelname)s %(message)s")
    return "\n".join(formatter.format(record) for record in records)


def count_followers(db: Database) -> int:
    with db.Session() as session:
        return session.scalar(select(func.count()).select_from(Follower)) or 0


def dedup_keys(redis_client: redis.Redis, app: Flask) -> list[bytes]:
    prefix = app.extensions["services"].keys.prefix + "dedup:"
    return list(redis_client.scan_iter(match=prefix + "*"))


# -- GET: the URL check ----------------------------------------------------------------------


def test_url_check_answers_echostr(client: FlaskClient, protocol: Protocol) -> None:
    query = {"timestamp": "1409304348", "nonce": "xxxxxx", "echostr": "5837397749786470000"}
    query["signature"] = sign(protocol.token, query["timestamp"], query["nonce"])
    response = client.get("/wechat", query_string=query)
    assert response.status_code == 200
    assert response.data == b"5837397749786470000"


@pytest.mark.parametrize(
    "change",
    [
        {"signature": "0" * 40},
        {"signature": ""},
        {"timestamp": "1409304349"},
        {"nonce": "yyyyyy"},
    ],
    ids=["wrong", "missing", "other-timestamp", "other-nonce"],
)
def test_url_check_with_a_bad_signature_is_403(
    client: FlaskClient, protocol: Protocol, change: dict[str, str]
) -> None:
    query = {"timestamp": "1409304348", "nonce": "xxxxxx", "echostr": "hello"}
    query["signature"] = sign(protocol.token, query["timestamp"], query["nonce"])
    query.update(change)
    if not query["signature"]:
        del query["signature"]
    response = client.get("/wechat", query_string=query)
    assert response.status_code == 403
    assert b"hello" not in response.data


# -- POST in the three modes -----------------------------------------------------------------


@pytest.mark.parametrize("mode", list(Mode))
def test_text_gets_a_reply_in_each_mode(
    app: Flask, make_user: MakeUser, protocol: Protocol, mode: Mode
) -> None:
    account_in_mode(app, mode)
    user = make_user(mode=mode)
    answer = user.send_text("帮助")
    assert answer.status == 200
    assert answer.text == GUIDE
    assert answer.fields is not None
    assert answer.fields["ToUserName"] == user.openid
    assert answer.fields["FromUserName"] == ACCOUNT
    assert answer.fields["MsgType"] == "text"
    outer = parse_xml(answer.body)
    if mode is Mode.PLAIN:
        assert "Encrypt" not in outer
        assert outer["Content"] == GUIDE
    else:
        # Encrypted because the request was, and signed so that WeChat accepts it.
        assert set(outer) == {"Encrypt", "MsgSignature", "TimeStamp", "Nonce"}
        assert outer["MsgSignature"] == sign(
            protocol.token, outer["TimeStamp"], outer["Nonce"], outer["Encrypt"]
        )
        assert "使用说明".encode() not in answer.body


@pytest.mark.parametrize("mode", list(Mode))
def test_subscribe_in_each_mode_welcomes_and_records_the_follower(
    app: Flask, make_user: MakeUser, db: Database, mode: Mode
) -> None:
    account_in_mode(app, mode)
    user = make_user(mode=mode)
    assert user.subscribe() == WELCOME
    assert count_followers(db) == 1


# -- bad input: refused, and nothing processed -----------------------------------------------


def _subscribe_xml(openid: str, extra: str = "") -> str:
    return build_inbound_xml(
        {
            "ToUserName": ACCOUNT,
            "FromUserName": openid,
            "CreateTime": 1700000000,
            "MsgType": "event",
            "Event": "subscribe",
        }
    ).replace("</xml>", extra + "</xml>")


def _post(client: FlaskClient, query: dict[str, str], body: bytes) -> Any:
    return client.post("/wechat", query_string=query, data=body, content_type="text/xml")


ENTITY_PREFIXES = {
    "billion-laughs": (
        '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY a "aaaaaaaaaa">'
        '<!ENTITY b "&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;"><!ENTITY c "&b;&b;&b;&b;&b;&b;&b;&b;">]>'
    ),
    "external-entity": '<!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>',
    "doctype-only": '<!DOCTYPE xml SYSTEM "http://127.0.0.1:9/evil.dtd">',
}


def _safe_request(protocol: Protocol, inner_xml: str) -> tuple[dict[str, str], bytes]:
    """A safe-mode request for any payload (build_request parses what it encrypts)."""
    timestamp, nonce = str(int(time.time())), "n0nce1"
    encrypted = parse_xml(protocol.encrypt(inner_xml, nonce, timestamp))["Encrypt"]
    query = {
        "signature": sign(protocol.token, timestamp, nonce),
        "timestamp": timestamp,
        "nonce": nonce,
        "encrypt_type": "aes",
        "msg_signature": sign(protocol.token, timestamp, nonce, encrypted),
    }
    return query, f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>".encode()


def _bad_request(
    case: str, protocol: Protocol, openid: str, mode: Mode = Mode.SAFE
) -> tuple[dict[str, str], bytes, int]:
    """A subscribe event made bad in one way; (query, body, expected status).

    `mode` is how the account receives (safe: it has an EncodingAESKey; plain: it has none).
    """
    good = _subscribe_xml(openid)

    def build(xml: str = good, how: Mode = mode, **when: Any) -> tuple[dict[str, str], bytes]:
        return protocol.build_request(xml, how, openid=openid, **when)

    if case == "bad-signature":
        query, body = build()
        return {**query, "signature": "0" * 40}, body, 403
    if case == "missing-signature":
        query, body = build()
        del query["signature"]
        return query, body, 403
    if case == "signature-of-another-nonce":
        query, body = build()
        return {**query, "nonce": query["nonce"] + "x"}, body, 403
    if case == "bad-msg-signature":
        query, body = build(how=Mode.SAFE)
        return {**query, "msg_signature": "0" * 40}, body, 403
    if case == "missing-msg-signature":
        query, body = build(how=Mode.SAFE)
        del query["msg_signature"]
        return query, body, 403
    if case == "compatible-bad-msg-signature":
        query, body = build(how=Mode.COMPATIBLE)
        return {**query, "msg_signature": "0" * 40}, body, 403
    if case == "plaintext-with-an-aes-key":
        query, body = build(how=Mode.PLAIN)
        return query, body, 403
    if case == "compatible-body-in-safe-mode":
        query, body = build(how=Mode.COMPATIBLE)
        return query, body, 400
    if case == "timestamp-too-old":
        query, body = build(timestamp=int(time.time()) - 301)
        return query, body, 403
    if case == "timestamp-in-the-future":
        query, body = build(timestamp=int(time.time()) + 301)
        return query, body, 403
    if case == "timestamp-not-a-number":
        query, body = build(timestamp=-5)
        return query, body, 403
    if case == "nonce-too-long":
        query, body = build(nonce="n" * 65)
        return query, body, 403
    if case == "broken-xml":
        query, body = build()
        return query, body[:-10], 400
    if case == "not-utf8":
        query, body = build()
        return query, body.replace(b"</xml>", b"\xff\xfe</xml>"), 400
    if case == "no-sender":
        xml = good.replace(f"<FromUserName><![CDATA[{openid}]]></FromUserName>", "")
        query, body = build(xml)
        return query, body, 400
    if case == "safe-without-encrypt":
        query, body = build(how=Mode.SAFE)
        return query, f"<xml><ToUserName>{ACCOUNT}</ToUserName></xml>".encode(), 400
    if case.startswith("safe-"):  # an entity inside the encrypted payload
        return (*_safe_request(protocol, ENTITY_PREFIXES[case[len("safe-") :]] + good), 400)
    if case in ENTITY_PREFIXES:
        query, body = build()
        return query, ENTITY_PREFIXES[case].encode() + body, 400
    if case == "too-large":
        padding = "<Padding>" + "a" * (256 * 1024) + "</Padding>"
        query, body = build(_subscribe_xml(openid, padding), Mode.PLAIN)
        return query, body, 413
    if case == "too-large-encrypted":
        padding = "<Padding>" + "a" * (200 * 1024) + "</Padding>"
        query, body = build(_subscribe_xml(openid, padding), Mode.SAFE)
        return query, body, 413  # the base64 ciphertext crosses 256 KB
    raise AssertionError(case)


# Refused by an account with an EncodingAESKey (the test app's default).
BAD_CASES = [
    "bad-signature",
    "missing-signature",
    "signature-of-another-nonce",
    "bad-msg-signature",
    "missing-msg-signature",
    "compatible-bad-msg-signature",
    "plaintext-with-an-aes-key",
    "compatible-body-in-safe-mode",
    "timestamp-too-old",
    "timestamp-in-the-future",
    "timestamp-not-a-number",
    "nonce-too-long",
    "broken-xml",
    "not-utf8",
    "no-sender",
    "safe-without-encrypt",
    "billion-laughs",
    "external-entity",
    "doctype-only",
    "safe-billion-laughs",
    "safe-external-entity",
    "too-large",
    "too-large-encrypted",
]
# Refused by an account without one (plaintext messages).
PLAIN_BAD_CASES = [
    "bad-signature",
    "missing-signature",
    "signature-of-another-nonce",
    "timestamp-too-old",
    "timestamp-in-the-future",
    "broken-xml",
    "not-utf8",
    "no-sender",
    "billion-laughs",
    "external-entity",
    "doctype-only",
    "too-large",
]


def _assert_nothing_processed(
    app: Flask, db: Database, redis_client: redis.Redis, fake_wechat: FakeWeChatState
) -> None:
    assert count_followers(db) == 0
    assert dedup_keys(redis_client, app) == []
    assert fake_wechat.calls == []


@pytest.mark.parametrize("case", BAD_CASES)
def test_bad_requests_are_refused_and_nothing_is_processed(
    case: str,
    app: Flask,
    client: FlaskClient,
    protocol: Protocol,
    db: Database,
    redis_client: redis.Redis,
    fake_wechat: FakeWeChatState,
) -> None:
    openid = "oBadRequest0000000000000001"
    query, body, status = _bad_request(case, protocol, openid)
    response = _post(client, query, body)
    assert response.status_code == status
    assert b"Traceback" not in response.data
    assert b"success" not in response.data
    _assert_nothing_processed(app, db, redis_client, fake_wechat)


@pytest.mark.parametrize("case", PLAIN_BAD_CASES)
def test_bad_plaintext_requests_are_refused_and_nothing_is_processed(
    case: str,
    app: Flask,
    client: FlaskClient,
    protocol: Protocol,
    db: Database,
    redis_client: redis.Redis,
    fake_wechat: FakeWeChatState,
) -> None:
    account_in_mode(app, Mode.PLAIN)
    openid = "oBadRequest0000000000000001"
    query, body, status = _bad_request(case, protocol, openid, Mode.PLAIN)
    response = _post(client, query, body)
    assert response.status_code == status
    assert b"Traceback" not in response.data
    _assert_nothing_processed(app, db, redis_client, fake_wechat)


def test_the_same_request_done_right_is_processed(
    app: Flask,
    client: FlaskClient,
    protocol: Protocol,
    db: Database,
    redis_client: redis.Redis,
) -> None:
    """The control for the test above: its fixtures do see a processed message."""
    openid = "oBadRequest0000000000000001"
    padding = "<Padding>" + "a" * (150 * 1024) + "</Padding>"
    query, body = protocol.build_request(_subscribe_xml(openid, padding), Mode.SAFE)
    assert len(body) < 256 * 1024
    response = _post(client, query, body)
    assert response.status_code == 200
    reply = protocol.open_reply(response.data, query)
    assert reply is not None and reply["Content"] == WELCOME
    assert count_followers(db) == 1
    assert len(dedup_keys(redis_client, app)) == 1


@pytest.mark.parametrize("mode", list(Mode))
def test_text_that_looks_like_markup_is_answered(
    app: Flask, make_user: MakeUser, mode: Mode
) -> None:
    account_in_mode(app, mode)
    reply = make_user(mode=mode).say('<!DOCTYPE html><!ENTITY x "y">]]>')
    assert reply.startswith("抱歉，没能理解您的消息。")


def test_unknown_message_type_answers_success(wechat_user: WeChatUser) -> None:
    answer = wechat_user.post({**wechat_user.base("hologram"), "MsgId": 98765432101})
    assert answer.status == 200
    assert answer.body == b"success"


def test_unknown_event_answers_success(wechat_user: WeChatUser) -> None:
    answer = wechat_user.event("TEMPLATESENDJOBFINISH", MsgID=123, Status="success")
    assert answer.status == 200
    assert answer.body == b"success"


def test_handler_error_gets_a_polite_message_and_is_logged(app: Flask, make_user: MakeUser) -> None:
    boom = Router("test_boom")

    @boom.keyword("爆炸")
    def explode(ctx: Context) -> str:
        raise RuntimeError("secret internal detail")

    install_bot(app, boom)
    user = make_user(mode=Mode.SAFE)
    with captured_logs() as records:
        answer = user.send_text("爆炸")
    assert answer.status == 200
    assert answer.text == SORRY
    assert b"Traceback" not in answer.body and b"secret internal detail" not in answer.body
    failures = [r for r in records if r.levelno >= logging.ERROR]
    assert len(failures) == 1
    message = failures[0].getMessage()
    assert user.openid in message and "test_boom.explode" in message and "kind=text" in message
    assert failures[0].exc_info is not None
    # The service keeps working for this user.
    assert user.say("帮助") == GUIDE


def echo_router() -> Router:
    router = Router("test_echo")

    @router.pattern(r"回声(.*)")
    def echo(ctx: Context) -> str:
        assert ctx.match is not None
        return ctx.match.group(1).strip()

    @router.keyword("新闻")
    def news(ctx: Context) -> Reply:
        return Reply(
            articles=[Article(title="标题]]>一", description="<b>&]]>", url="http://x/?a=1&b=2")]
        )

    return router


@pytest.mark.parametrize("mode", list(Mode))
def test_reply_text_with_cdata_end_and_markup_arrives_intact(
    app: Flask, make_user: MakeUser, mode: Mode
) -> None:
    account_in_mode(app, mode, echo_router())
    user = make_user(mode=mode)
    assert user.say("回声 a]]>b <x> & y ]]]]>") == "a]]>b <x> & y ]]]]>"


def test_news_reply_with_cdata_end_arrives_intact(app: Flask, make_user: MakeUser) -> None:
    account_in_mode(app, Mode.PLAIN, echo_router())
    answer = make_user(mode=Mode.PLAIN).send_text("新闻")
    assert answer.status == 200
    item = xmltodict.parse(answer.body)["xml"]["Articles"]["item"]
    assert item["Title"] == "标题]]>一"
    assert item["Description"] == "<b>&]]>"
    assert item["Url"] == "http://x/?a=1&b=2"


def test_redis_outage_never_gives_wechat_a_500(settings: Settings, db: Database) -> None:
    from app import create_app
    from tests.test_health import closed_port

    broken = create_app(settings.with_overrides(redis_url=f"redis://127.0.0.1:{closed_port()}/0"))
    try:
        user = WeChatUser(broken.test_client(), broken.extensions["bot"].protocol, "oNoRedis00001")
        with captured_logs() as records:
            answer = user.send_text("帮助")
        assert answer.status == 200
        assert answer.text == "系统维护中，暂时无法处理您的消息，请稍后再试。"
        assert any(r.levelno >= logging.ERROR for r in records)
    finally:
        close_extensions(broken)


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [("PUT", "/wechat", 405), ("DELETE", "/wechat", 405), ("GET", "/no-such-page", 404)],
)
def test_other_requests_get_a_plain_error(
    client: FlaskClient, method: str, path: str, status: int
) -> None:
    response = client.open(path, method=method)
    assert response.status_code == status
    assert b"Traceback" not in response.data


# -- the basic replies -------------------------------------------------------------------------


def test_subscribe_welcome_says_what_the_account_is_for(wechat_user: WeChatUser) -> None:
    welcome = wechat_user.subscribe()
    assert "科技志愿服务" in welcome
    assert "奉献、友爱、互助、进步" in welcome
    assert "志愿者 → 注册" in welcome
    assert "组织 → 注册" in welcome


def _follower(db: Database, openid: str) -> Follower:
    with db.Session() as session:
        follower = session.scalar(select(Follower).where(Follower.openid == openid))
        assert follower is not None
        return follower


def test_subscribe_records_a_follower(wechat_user: WeChatUser, db: Database) -> None:
    wechat_user.subscribe()
    follower = _follower(db, wechat_user.openid)
    assert follower.subscribed
    assert follower.subscribe_scene is None
    assert follower.unsubscribed_at is None


def test_subscribe_by_scene_qr_code_records_the_scene(
    wechat_user: WeChatUser, db: Database
) -> None:
    assert wechat_user.subscribe(scene="lanzhou_expo_2024") == WELCOME
    follower = _follower(db, wechat_user.openid)
    assert follower.subscribed
    assert follower.subscribe_scene == "lanzhou_expo_2024"


def test_unsubscribe_marks_the_follower_and_a_return_restores_it(
    wechat_user: WeChatUser, db: Database
) -> None:
    wechat_user.subscribe()
    first_seen = _follower(db, wechat_user.openid).first_seen_at
    answer = wechat_user.unsubscribe()
    assert answer.status == 200 and answer.body == b"success"
    gone = _follower(db, wechat_user.openid)
    assert not gone.subscribed and gone.unsubscribed_at is not None
    wechat_user.subscribe(scene="back_again")
    back = _follower(db, wechat_user.openid)
    assert back.subscribed and back.unsubscribed_at is None
    assert back.subscribe_scene == "back_again"
    assert back.first_seen_at == first_seen
    assert count_followers(db) == 1


@pytest.mark.parametrize("word", ["帮助", "help", " 帮助。", "使用帮助"])
def test_help_word_gives_the_guide(wechat_user: WeChatUser, word: str) -> None:
    assert wechat_user.say(word) == GUIDE


def test_help_menu_gives_the_guide(wechat_user: WeChatUser) -> None:
    assert wechat_user.click("HELP") == GUIDE


@pytest.mark.parametrize("text", ["你好", "今天天气怎么样", "???", "🙂"])
def test_unknown_text_gives_the_guide(wechat_user: WeChatUser, text: str) -> None:
    reply = wechat_user.say(text)
    assert reply.startswith("抱歉，没能理解您的消息。")
    assert reply.endswith(GUIDE)


def test_unknown_click_key_is_coming_soon(wechat_user: WeChatUser) -> None:
    assert wechat_user.click("NO_SUCH_KEY") == COMING_SOON
    assert "该功能即将上线" in COMING_SOON


def test_menu_key_without_a_feature_yet_is_coming_soon(wechat_user: WeChatUser) -> None:
    from handlers.coming_soon import KEYS

    for key in KEYS:
        assert wechat_user.click(key) == COMING_SOON


def test_non_text_messages_get_a_hint(wechat_user: WeChatUser) -> None:
    assert "文字" in wechat_user.voice()
    assert "文字" in wechat_user.image()


def test_embedded_defaults_answer_messages(tmp_path: Path) -> None:
    """`make run` on a fresh machine: SQLite and the in-process Redis stand-in."""
    from app import create_app
    from infra.migrate import upgrade

    settings = Settings.from_env(
        {"DATABASE_URL": f"sqlite:///{tmp_path / 'kjzy.sqlite3'}"}, load_dotenv=False
    ).with_overrides(redis_prefix=f"kjzy-embedded:{tmp_path.name}:")
    assert settings.sandbox and settings.redis_is_embedded
    upgrade(settings)
    embedded = create_app(settings)
    try:
        user = WeChatUser(embedded.test_client(), embedded.extensions["bot"].protocol, "oEmbed01")
        assert user.subscribe() == WELCOME
        assert user.say("帮助") == GUIDE
        fields = {**user.base("text"), "Content": "帮助", "MsgId": 4242}
        assert user.post(fields).text == GUIDE
        assert user.post(fields).text == GUIDE  # a retry: the first answer
        assert count_followers(embedded.extensions["services"].db) == 1
    finally:
        close_extensions(embedded)
