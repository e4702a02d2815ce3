"""Forged and odd requests: plaintext next to an EncodingAESKey, stale timestamps, replayed
(timestamp, nonce) pairs, secrets in request logs, and validly signed fields no real message has."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest
import redis
import requests
from flask import Flask
from flask.testing import FlaskClient
from werkzeug.serving import make_server

from config.logging import configure_logging
from handlers.basics import GUIDE
from handlers.context import Context
from infra.db import Database
from sandbox.fake_wechat import FakeWeChatState
from tests.test_webhook import (
    account_in_mode,
    captured_logs,
    count_followers,
    dedup_keys,
    formatted,
    install_bot,
)
from tests.wechat_user import ACCOUNT, WeChatUser
from wechat.protocol import Mode, Protocol, build_inbound_xml, parse_xml, sign
from wechat.router import Router

MakeUser = Callable[..., WeChatUser]


class Runs:
    """The texts a test handler was run with."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def router(self) -> Router:
        router = Router("test_runs")

        @router.pattern(r"(计数.*|确认注销)")
        def count(ctx: Context) -> str:
            self.texts.append(ctx.text)
            return f"收到#{len(self.texts)}"

        return router


def text_xml(openid: str, content: str, msg_id: int) -> str:
    return build_inbound_xml(
        {
            "ToUserName": ACCOUNT,
            "FromUserName": openid,
            "CreateTime": int(time.time()),
            "MsgType": "text",
            "Content": content,
            "MsgId": msg_id,
        }
    )


def post(client: FlaskClient, query: dict[str, str], body: bytes) -> Any:
    return client.post("/wechat", query_string=query, data=body, content_type="text/xml")


def reply_text(protocol: Protocol, response: Any) -> str:
    assert response.status_code == 200, response.data
    opened = protocol.open_reply(response.data, {})
    return opened["Content"] if opened else ""


# -- only encrypted messages when the account has an EncodingAESKey ---------------------------


def test_plaintext_forged_with_a_logged_signature_is_refused(
    app: Flask, client: FlaskClient, protocol: Protocol, db: Database, redis_client: redis.Redis
) -> None:
    runs = Runs()
    install_bot(app, runs.router())
    victim = "oVictim00000000000000000001"
    query, body = protocol.build_request(text_xml(victim, "计数", 1001), Mode.SAFE, openid=victim)
    assert reply_text(protocol, post(client, query, body)) == "收到#1"

    # Someone who read signature, timestamp and nonce of that request in a log writes their own
    # plaintext body under them: the signature does not cover the body, so it proves nothing.
    stolen = {k: query[k] for k in ("signature", "timestamp", "nonce", "openid")}
    forged = text_xml(victim, "确认注销", 1002).encode()
    response = post(client, stolen, forged)
    assert response.status_code == 403
    # Nor with the encrypted request's own query string.
    assert post(client, query, forged).status_code in (400, 403)
    assert runs.texts == ["计数"]


def test_compatible_mode_reads_only_the_encrypted_fields(
    app: Flask, client: FlaskClient, protocol: Protocol
) -> None:
    runs = Runs()
    account_in_mode(app, Mode.COMPATIBLE, runs.router())
    openid = "oCompatible0000000000000001"
    query, body = protocol.build_request(
        text_xml(openid, "计数 真的", 2001), Mode.COMPATIBLE, openid=openid
    )
    # The plaintext copy of the fields is not signed: changing it changes nothing.
    tampered = body.replace("计数 真的".encode(), "确认注销".encode(), 1)
    assert tampered != body
    assert reply_text(protocol, post(client, query, tampered)) == "收到#1"
    assert runs.texts == ["计数 真的"]


def test_compatible_mode_is_refused_unless_configured(
    app: Flask, client: FlaskClient, protocol: Protocol
) -> None:
    openid = "oCompatible0000000000000002"
    query, body = protocol.build_request(text_xml(openid, "帮助", 2002), Mode.COMPATIBLE)
    assert post(client, query, body).status_code == 400
    account_in_mode(app, Mode.COMPATIBLE)
    query, body = protocol.build_request(text_xml(openid, "帮助", 2003), Mode.COMPATIBLE)
    assert reply_text(protocol, post(client, query, body)) == GUIDE


# -- recent timestamps, and a (timestamp, nonce) pair for one message only ---------------------


def test_the_timestamp_window_is_a_setting(
    app: Flask, client: FlaskClient, protocol: Protocol
) -> None:
    install_bot(app, wechat_timestamp_window_seconds=60)
    openid = "oWindow000000000000000000001"
    now = int(time.time())
    query, body = protocol.build_request(
        text_xml(openid, "帮助", 3001), Mode.SAFE, timestamp=now - 62
    )
    assert post(client, query, body).status_code == 403
    query, body = protocol.build_request(
        text_xml(openid, "帮助", 3002), Mode.SAFE, timestamp=now + 62
    )
    assert post(client, query, body).status_code == 403
    query, body = protocol.build_request(
        text_xml(openid, "帮助", 3003), Mode.SAFE, timestamp=now - 50
    )
    assert reply_text(protocol, post(client, query, body)) == GUIDE


@pytest.mark.parametrize("mode", [Mode.PLAIN, Mode.SAFE])
def test_a_timestamp_and_nonce_pair_carries_one_message_only(
    app: Flask, client: FlaskClient, protocol: Protocol, mode: Mode
) -> None:
    runs = Runs()
    account_in_mode(app, mode, runs.router())
    openid = "oReplay000000000000000000001"
    when = int(time.time())
    query, body = protocol.build_request(
        text_xml(openid, "计数", 4001), mode, timestamp=when, nonce="1234567890"
    )
    assert reply_text(protocol, post(client, query, body)) == "收到#1"
    # Another message (another MsgId, another text) under the same timestamp and nonce.
    query, body = protocol.build_request(
        text_xml(openid, "确认注销", 4002), mode, timestamp=when, nonce="1234567890"
    )
    with captured_logs() as records:
        assert post(client, query, body).status_code == 403
    assert runs.texts == ["计数"]
    assert "1234567890" not in formatted(records)


def test_wechat_retries_get_the_first_answer_with_the_same_or_a_new_signature(
    app: Flask, client: FlaskClient, protocol: Protocol
) -> None:
    runs = Runs()
    install_bot(app, runs.router())
    openid = "oRetry0000000000000000000001"
    xml = text_xml(openid, "计数", 5001)
    when = int(time.time())
    first = protocol.build_request(xml, Mode.SAFE, timestamp=when, nonce="5550001")
    assert reply_text(protocol, post(client, *first)) == "收到#1"
    # The same request again (same pair, a fresh encryption of the same message).
    again = protocol.build_request(xml, Mode.SAFE, timestamp=when, nonce="5550001")
    assert reply_text(protocol, post(client, *again)) == "收到#1"
    # A retry signed anew.
    later = protocol.build_request(xml, Mode.SAFE, timestamp=when + 5, nonce="5550002")
    assert reply_text(protocol, post(client, *later)) == "收到#1"
    assert runs.texts == ["计数"]


# -- request logs ----------------------------------------------------------------------------


@pytest.fixture
def served(app: Flask) -> Iterator[str]:
    """The app on a real HTTP server on loopback (the test client writes no access log)."""
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        thread.join(5)


def test_request_logs_never_show_signatures_nonce_or_echostr(
    served: str, protocol: Protocol
) -> None:
    openid = "oLogged000000000000000000001"
    query, body = protocol.build_request(text_xml(openid, "帮助", 6001), Mode.SAFE, openid=openid)
    check = {"timestamp": query["timestamp"], "nonce": "8822446600", "echostr": "echo7719302"}
    check["signature"] = sign(protocol.token, check["timestamp"], check["nonce"])
    with captured_logs() as records:
        answered = requests.post(f"{served}/wechat", params=query, data=body, timeout=10)
        echoed = requests.get(f"{served}/wechat", params=check, timeout=10)
    assert answered.status_code == 200 and echoed.text == "echo7719302"
    text = formatted(records)
    assert "POST /wechat" in text and "GET /wechat" in text  # the request lines are there
    for secret in (
        query["signature"],
        query["msg_signature"],
        query["nonce"],
        check["signature"],
        check["nonce"],
        "echo7719302",
    ):
        assert secret not in text


@pytest.mark.parametrize("logger", ["granian.access", "gunicorn.access"])
def test_web_server_access_lines_are_redacted_too(logger: str) -> None:
    configure_logging("INFO")
    access = logging.getLogger(logger)
    line = "GET /wechat?signature=abc123&timestamp=1&nonce=987&echostr=hello&msg_signature=d4"
    with captured_logs() as records:
        access.info('%(h)s "%(r)s" %(s)s', {"h": "127.0.0.1", "r": line, "s": "200"})
    text = formatted(records)
    assert "timestamp=1" in text
    for secret in ("abc123", "987", "hello", "d4"):
        assert secret not in text


# -- validly signed, yet no real message looks like this ---------------------------------------


def _sent(protocol: Protocol, client: FlaskClient, fields: dict[str, Any]) -> Any:
    query, body = protocol.build_request(build_inbound_xml(fields), Mode.SAFE)
    return post(client, query, body)


ODD_MESSAGES = {
    "msgid-superscript-two": {"MsgId": "²"},
    "msgid-4300-digits": {"MsgId": "9" * 4300},
    "msgid-beyond-64-bits": {"MsgId": str(2**64)},
    "msgid-negative": {"MsgId": "-5"},
    "sender-over-64-characters": {"FromUserName": "o" * 65},
    "sender-with-spaces": {"FromUserName": "o abc"},
    "create-time-not-a-number": {"CreateTime": "昨天"},
}


@pytest.mark.parametrize("case", list(ODD_MESSAGES))
def test_odd_fields_are_refused_with_one_line_and_nothing_touched(
    case: str,
    app: Flask,
    client: FlaskClient,
    protocol: Protocol,
    db: Database,
    redis_client: redis.Redis,
    fake_wechat: FakeWeChatState,
) -> None:
    fields: dict[str, Any] = {
        "ToUserName": ACCOUNT,
        "FromUserName": "oOddInput0000000000000000001",
        "CreateTime": int(time.time()),
        "MsgType": "text",
        "Content": "帮助",
        "MsgId": 7001,
        **ODD_MESSAGES[case],
    }
    with captured_logs() as records:
        response = _sent(protocol, client, fields)
    assert response.status_code == 400
    assert b"Traceback" not in response.data
    warnings = [r for r in records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and not any(r.exc_info for r in records)
    assert count_followers(db) == 0
    assert dedup_keys(redis_client, app) == []
    assert fake_wechat.calls == []


@pytest.mark.parametrize("msgid", ["²", "9" * 4300, "12a"])
def test_a_template_report_with_an_odd_msgid_is_answered_success_untouched(
    msgid: str,
    app: Flask,
    client: FlaskClient,
    protocol: Protocol,
    db: Database,
    redis_client: redis.Redis,
) -> None:
    fields = {
        "ToUserName": ACCOUNT,
        "FromUserName": "oOddInput0000000000000000002",
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": "TEMPLATESENDJOBFINISH",
        "MsgID": msgid,
        "Status": "success",
    }
    with captured_logs() as records:
        response = _sent(protocol, client, fields)
    assert response.status_code == 200 and response.data == b"success"
    warnings = [r for r in records if r.levelno >= logging.WARNING]
    assert len(warnings) == 1 and not any(r.exc_info for r in records)
    assert count_followers(db) == 0
    assert dedup_keys(redis_client, app) == []


def test_a_long_but_valid_msgid_is_still_a_message(client: FlaskClient, protocol: Protocol) -> None:
    fields = {
        "ToUserName": ACCOUNT,
        "FromUserName": "oOddInput0000000000000000003",
        "CreateTime": int(time.time()),
        "MsgType": "text",
        "Content": "帮助",
        "MsgId": str(2**64 - 1),
    }
    response = _sent(protocol, client, fields)
    assert parse_xml(response.data) and reply_text(protocol, response) == GUIDE
