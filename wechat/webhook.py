"""The HTTP endpoint WeChat calls: GET for the URL check, POST for messages, in all three modes."""

from __future__ import annotations

import logging

from flask import Blueprint, Response, current_app, request

from wechat.bot import Bot
from wechat.messages import Inbound
from wechat.protocol import ProtocolError, SignatureError

log = logging.getLogger("wechat.webhook")

bp = Blueprint("wechat", __name__)


def _bot() -> Bot:
    bot: Bot = current_app.extensions["bot"]
    return bot


@bp.get("/wechat")
def verify() -> Response:
    args = request.args
    try:
        _bot().protocol.check_signature(
            args.get("signature", ""), args.get("timestamp", ""), args.get("nonce", "")
        )
    except SignatureError:
        return Response("forbidden", status=403, mimetype="text/plain")
    return Response(args.get("echostr", ""), mimetype="text/plain")


@bp.post("/wechat")
def receive() -> Response:
    bot = _bot()
    limit = bot.dispatcher.settings.max_body_bytes
    if request.content_length is not None and request.content_length > limit:
        return Response("payload too large", status=413, mimetype="text/plain")
    body = request.get_data(cache=False)
    if len(body) > limit:
        return Response("payload too large", status=413, mimetype="text/plain")
    args = request.args
    timestamp, nonce = args.get("timestamp", ""), args.get("nonce", "")
    encrypted = args.get("encrypt_type", "raw").lower() == "aes"
    try:
        bot.protocol.check_signature(args.get("signature", ""), timestamp, nonce)
        inner = (
            bot.protocol.decrypt(body, args.get("msg_signature", ""), timestamp, nonce)
            if encrypted
            else body.decode("utf-8")
        )
        msg = Inbound.from_fields(bot.parse(inner))
    except SignatureError as exc:
        log.warning("rejected: %s", exc)
        return Response("forbidden", status=403, mimetype="text/plain")
    except (ProtocolError, UnicodeDecodeError) as exc:
        log.warning(
            "rejected: bad request: %s",
            type(exc).__name__ if isinstance(exc, UnicodeDecodeError) else exc,
        )
        return Response("bad request", status=400, mimetype="text/plain")
    if not msg.openid or not msg.msg_type:
        return Response("bad request", status=400, mimetype="text/plain")

    outcome = bot.dispatcher.dispatch(msg)
    if outcome.reply is None:
        return Response("success", mimetype="text/plain")
    xml = outcome.reply.render(to_openid=msg.openid, from_account=msg.account)
    if encrypted:
        xml = bot.protocol.encrypt(xml, nonce=nonce)
    return Response(xml, mimetype="application/xml")
