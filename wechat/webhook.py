"""The HTTP endpoint WeChat calls: GET for the URL check, POST for messages.

With an EncodingAESKey configured only encrypted messages are accepted (the plain `signature`
does not cover the body); requests must be recent, and a (timestamp, nonce) pair is accepted
for one message only. The query string (signatures, nonce, echostr) is never logged.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl

from flask import Blueprint, Flask, Response, current_app, request

from config import Settings
from wechat.bot import Bot
from wechat.dispatcher import Seen
from wechat.messages import Inbound, InvalidMessage
from wechat.protocol import Opened, ProtocolError, RequestPolicy, SignatureError

log = logging.getLogger("wechat.webhook")

bp = Blueprint("wechat", __name__)


def _bot() -> Bot:
    bot: Bot = current_app.extensions["bot"]
    return bot


def _plain(text: str, status: int = 200) -> Response:
    return Response(text, status=status, mimetype="text/plain")


@bp.get("/wechat")
def verify() -> Response:
    args = request.args
    try:
        _bot().protocol.check_signature(
            args.get("signature", ""), args.get("timestamp", ""), args.get("nonce", "")
        )
    except SignatureError:
        return _plain("forbidden", 403)
    return _plain(args.get("echostr", ""))


def policy_of(settings: Settings) -> RequestPolicy:
    return RequestPolicy(
        compatible=settings.wechat_message_mode == "compat",
        window_seconds=settings.wechat_timestamp_window_seconds,
    )


def _seen(bot: Bot, opened: Opened, now: float) -> Seen:
    """Remember the pair for as long as its timestamp stays inside the window."""
    window = bot.dispatcher.settings.wechat_timestamp_window_seconds
    ttl = max(1, opened.timestamp + window - int(now)) + 1
    return Seen(
        bot.dispatcher.keys.request_nonce(opened.timestamp, opened.nonce), opened.fingerprint, ttl
    )


@bp.post("/wechat")
def receive() -> Response:
    """The same as FastWebhook below, for an app mounted without it."""
    limit = _bot().dispatcher.settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _plain("payload too large", 413)
    status, content_type, body = handle_post(_bot(), request.args, request.get_data(cache=False))
    return Response(body, status=status, content_type=content_type)


Answer = tuple[int, str, bytes]
_PLAIN = "text/plain; charset=utf-8"
_XML = "application/xml; charset=utf-8"


def handle_post(bot: Bot, query: Mapping[str, str], body: bytes) -> Answer:
    """A message POST from WeChat: (status, content type, body)."""
    settings = bot.dispatcher.settings
    if len(body) > settings.max_body_bytes:
        return 413, _PLAIN, b"payload too large"
    now = time.time()
    try:
        opened = bot.protocol.open_request(query, body, policy_of(settings), now)
        msg = Inbound.from_fields(bot.parse(opened.xml))
    except InvalidMessage as exc:
        # Validly signed, yet no real message looks like this: one line, nothing touched.
        log.warning("rejected: %s", exc)
        return (200, _PLAIN, b"success") if exc.harmless else (400, _PLAIN, b"bad request")
    except SignatureError as exc:
        log.warning("rejected: %s", exc)
        return 403, _PLAIN, b"forbidden"
    except (ProtocolError, UnicodeDecodeError) as exc:
        log.warning(
            "rejected: bad request: %s",
            type(exc).__name__ if isinstance(exc, UnicodeDecodeError) else exc,
        )
        return 400, _PLAIN, b"bad request"
    if not msg.openid or not msg.msg_type:
        return 400, _PLAIN, b"bad request"

    outcome = bot.dispatcher.dispatch(msg, _seen(bot, opened, now))
    if outcome.status == "replayed":
        log.warning("rejected: timestamp and nonce already used by another message")
        return 403, _PLAIN, b"forbidden"
    if outcome.reply is None:
        return 200, _PLAIN, b"success"
    xml = outcome.reply.render(to_openid=msg.openid, from_account=msg.account)
    if opened.encrypted:
        xml = bot.protocol.encrypt(xml, nonce=opened.nonce)
    return 200, _XML, xml.encode("utf-8")


def query_of(text: str) -> dict[str, str]:
    """The query string as parse_qsl(keep_blank_values=True) reads it (the last of repeated
    names wins), without its per-pair work for the plain values WeChat sends."""
    if "%" in text or "+" in text:
        return dict(parse_qsl(text, keep_blank_values=True))
    query: dict[str, str] = {}
    for pair in text.split("&"):
        if pair:
            name, _, value = pair.partition("=")
            query[name] = value
    return query


_REASONS = {
    200: "200 OK",
    400: "400 BAD REQUEST",
    403: "403 FORBIDDEN",
    413: "413 PAYLOAD TOO LARGE",
}


class FastWebhook:
    """WSGI middleware that answers POST /wechat without Flask's request machinery (request
    context, session, before-request hooks, response object): the hot path of the service.
    Everything else goes to the Flask app. Errors answer `success`, as the app's error handler
    does for /wechat, so WeChat never sees a 500."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.next: Callable[..., Iterable[bytes]] = app.wsgi_app

    def __call__(
        self, environ: dict[str, Any], start_response: Callable[..., Any]
    ) -> Iterable[bytes]:
        if environ.get("PATH_INFO") != "/wechat" or environ.get("REQUEST_METHOD") != "POST":
            return self.next(environ, start_response)
        bot: Bot = self.app.extensions["bot"]
        try:
            status, content_type, body = self._answer(bot, environ)
        except Exception:
            log.exception("unhandled error path=/wechat")
            status, content_type, body = 200, _PLAIN, b"success"
        start_response(
            _REASONS.get(status, f"{status} ERROR"),
            [("Content-Type", content_type), ("Content-Length", str(len(body)))],
        )
        return [body]

    @staticmethod
    def _answer(bot: Bot, environ: dict[str, Any]) -> Answer:
        limit = bot.dispatcher.settings.max_body_bytes
        length_text = environ.get("CONTENT_LENGTH") or ""
        length = int(length_text) if length_text.isdigit() else -1
        if length > limit:
            return 413, _PLAIN, b"payload too large"
        stream = environ["wsgi.input"]
        body = stream.read(length) if length >= 0 else stream.read(limit + 1)
        return handle_post(bot, query_of(environ.get("QUERY_STRING", "")), body)
