"""The HTTP endpoint WeChat calls: GET for the URL check, POST for messages.

With an EncodingAESKey configured only encrypted messages are accepted (the plain `signature`
does not cover the body); requests must be recent, and a (timestamp, nonce) pair is accepted
for one message only. The query string (signatures, nonce, echostr) is never logged.
"""

from __future__ import annotations

import logging
import time

from flask import Blueprint, Response, current_app, request

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
    bot = _bot()
    settings = bot.dispatcher.settings
    limit = settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return _plain("payload too large", 413)
    body = request.get_data(cache=False)
    if len(body) > limit:
        return _plain("payload too large", 413)
    now = time.time()
    try:
        opened = bot.protocol.open_request(request.args, body, policy_of(settings), now)
        msg = Inbound.from_fields(bot.parse(opened.xml))
    except InvalidMessage as exc:
        # Validly signed, yet no real message looks like this: one line, nothing touched.
        log.warning("rejected: %s", exc)
        return _plain("success") if exc.harmless else _plain("bad request", 400)
    except SignatureError as exc:
        log.warning("rejected: %s", exc)
        return _plain("forbidden", 403)
    except (ProtocolError, UnicodeDecodeError) as exc:
        log.warning(
            "rejected: bad request: %s",
            type(exc).__name__ if isinstance(exc, UnicodeDecodeError) else exc,
        )
        return _plain("bad request", 400)
    if not msg.openid or not msg.msg_type:
        return _plain("bad request", 400)

    outcome = bot.dispatcher.dispatch(msg, _seen(bot, opened, now))
    if outcome.status == "replayed":
        log.warning("rejected: timestamp and nonce already used by another message")
        return _plain("forbidden", 403)
    if outcome.reply is None:
        return _plain("success")
    xml = outcome.reply.render(to_openid=msg.openid, from_account=msg.account)
    if opened.encrypted:
        xml = bot.protocol.encrypt(xml, nonce=opened.nonce)
    return Response(xml, mimetype="application/xml")
