"""What WeChat's servers would send to /wechat, and what a WeChat client would show of the answer.

Pure functions: the views in sandbox/simulator/views.py do the posting and the storing.
"""

from __future__ import annotations

import itertools
import re
import time
from collections.abc import Mapping
from typing import Any

import xmltodict

from wechat.protocol import Protocol, ProtocolError, parse_xml

# The official account's original ID (ToUserName), shaped like WeChat's: gh_ + 12 hex digits.
SIMULATED_ACCOUNT = "gh_5a1d0b0c9e2f"
# WeChat's own limit for a text message typed by a follower.
MAX_TEXT = 2000
MAX_SCENE = 64
OPENID_PATTERN = re.compile(r"^[A-Za-z0-9_\-]{6,64}$")
# Every simulated user's openid starts with this. Real openids of an official account begin with
# "o" (28 characters), so with real credentials the simulator can never speak for a real person.
SIMULATED_OPENID_PREFIX = "sim-"
# What WeChat shows when the server answers with an error or not at all.
UNAVAILABLE = "该公众号暂时无法提供服务，请稍后再试"

Item = dict[str, Any]

# MsgId is a 64-bit number unique per message; microseconds since the epoch keep it growing.
_msg_ids = itertools.count(time.time_ns() // 1000)


def next_msg_id() -> int:
    return next(_msg_ids)


def text_message(openid: str, content: str) -> dict[str, Any]:
    return {
        "ToUserName": SIMULATED_ACCOUNT,
        "FromUserName": openid,
        "CreateTime": int(time.time()),
        "MsgType": "text",
        "Content": content,
        "MsgId": next_msg_id(),
    }


def voice_message(openid: str, recognition: str) -> dict[str, Any]:
    """A voice message as WeChat sends it with speech recognition on: the recognised text ends
    with WeChat's 。 unless the speaker's sentence already ends with punctuation."""
    said = recognition.strip()
    if said and said[-1] not in "。！？!?.":
        said += "。"
    msg_id = next_msg_id()
    return {
        "ToUserName": SIMULATED_ACCOUNT,
        "FromUserName": openid,
        "CreateTime": int(time.time()),
        "MsgType": "voice",
        "MediaId": f"simulated-voice-{msg_id}",
        "Format": "amr",
        "Recognition": said,
        "MsgId": msg_id,
    }


def event_message(openid: str, event: str, key: str | None = None, **extra: Any) -> dict[str, Any]:
    """An event as WeChat formats it (events carry no MsgId)."""
    fields: dict[str, Any] = {
        "ToUserName": SIMULATED_ACCOUNT,
        "FromUserName": openid,
        "CreateTime": int(time.time()),
        "MsgType": "event",
        "Event": event,
    }
    if key is not None:
        fields["EventKey"] = key
    fields.update(extra)
    return fields


def fake_ticket(scene: str) -> str:
    """A QR-code ticket to go with a simulated scan (WeChat sends the code's ticket)."""
    return "gQsim" + re.sub(r"[^A-Za-z0-9]", "", scene)[:40]


def open_reply_xml(protocol: Protocol, body: bytes) -> str | None:
    """The reply's plain XML as WeChat would read it (decrypted in safe mode), or None for
    an empty or `success` answer. Raises ProtocolError (or SignatureError) for a broken reply."""
    text = body.decode("utf-8").strip()
    if not text or text == "success":
        return None
    outer = parse_xml(text)
    if "Encrypt" in outer:
        return protocol.decrypt(
            text.encode("utf-8"),
            outer.get("MsgSignature", ""),
            outer.get("TimeStamp", ""),
            outer.get("Nonce", ""),
        )
    return text


def shown_reply(reply_xml: str) -> Item | None:
    """What the chat shows for a passive reply: text, news cards, an image, or nothing."""
    fields = parse_xml(reply_xml)
    kind = fields.get("MsgType", "").lower()
    if kind == "text":
        return {"type": "text", "content": fields.get("Content", "")}
    if kind == "news":
        return {"type": "news", "articles": _reply_articles(reply_xml)}
    if kind == "image":
        return {"type": "image", "media_id": fields.get("Image.MediaId", "")}
    if kind in {"voice", "video", "music"}:
        return {"type": "media", "media": kind}
    if kind == "transfer_customer_service":
        return None  # handed to a human agent: WeChat shows nothing
    raise ProtocolError(f"unknown reply MsgType {kind!r}")


def _reply_articles(reply_xml: str) -> list[dict[str, str]]:
    # parse_xml (which refuses DTDs and entities) has already accepted this document.
    root = xmltodict.parse(reply_xml, disable_entities=True).get("xml") or {}
    items = (root.get("Articles") or {}).get("item") or []
    if isinstance(items, dict):
        items = [items]
    return [
        {
            "title": _str(item.get("Title")),
            "description": _str(item.get("Description")),
            "picurl": _str(item.get("PicUrl")),
            "url": _str(item.get("Url")),
        }
        for item in items
        if isinstance(item, dict)
    ]


def _str(value: Any) -> str:
    return value if isinstance(value, str) else ""


# ---- messages sent later through the API (kept by the fake WeChat API per openid) --------------


def api_message_item(
    message: Mapping[str, Any], templates: Mapping[str, Mapping[str, str]]
) -> Item:
    """A message the fake WeChat API delivered, as the chat shows it."""
    item: Item = {
        "id": f"a{message.get('id')}",
        "side": "account",
        "source": "api",
        "time": float(message.get("time") or time.time()),
    }
    kind = message.get("type")
    if kind == "text":
        return {**item, "type": "text", "content": str(message.get("content", ""))}
    if kind == "news":
        articles = message.get("articles") or []
        return {
            **item,
            "type": "news",
            "articles": [
                {
                    "title": _str(a.get("title")),
                    "description": _str(a.get("description")),
                    "picurl": _str(a.get("picurl")),
                    "url": _str(a.get("url")),
                }
                for a in articles
                if isinstance(a, dict)
            ],
        }
    if kind == "template":
        data = message.get("data") or {}
        template = templates.get(str(message.get("template_id", "")))
        return {
            **item,
            "type": "template",
            "title": str(message.get("title") or (template or {}).get("title") or "模板消息"),
            "lines": template_lines(template.get("content", "") if template else "", data),
            "url": _str(message.get("url")),
        }
    return {**item, "type": "unsupported", "content": str(kind)}


_PLACEHOLDER = re.compile(r"\{\{\s*(\w+)\.DATA\s*\}\}")
_LABELLED_LINE = re.compile(
    r"^\s*(?P<label>[^{}]*?)\s*[:：]\s*\{\{\s*(?P<key>\w+)\.DATA\s*\}\}\s*$"
)


def template_lines(content: str, data: Mapping[str, Any]) -> list[dict[str, str]]:
    """A template's lines with the values filled in, as WeChat lays them out: label and value.

    `content` is the template as WeChat lists it ("活动名称:{{thing1.DATA}}\\n..."); when it is
    unknown, the keys themselves label the values.
    """

    def value(key: str) -> str:
        raw = data.get(key)
        if isinstance(raw, Mapping):
            raw = raw.get("value")
        return "" if raw is None else str(raw)

    if not content.strip():
        return [{"label": key, "value": value(key)} for key in data]
    lines = []
    for line in content.splitlines():
        if not line.strip():
            continue
        labelled = _LABELLED_LINE.match(line)
        if labelled:
            lines.append({"label": labelled["label"], "value": value(labelled["key"])})
        else:
            lines.append({"label": "", "value": _PLACEHOLDER.sub(lambda m: value(m[1]), line)})
    return lines
