"""Typed inbound messages and the replies handlers return."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from wechatpy.replies import ArticlesReply, ImageReply

from wechat.protocol import ProtocolError

# Largest text we look at; WeChat itself allows about 2,000 characters per message.
MAX_TEXT = 2000
# An openid is 28 characters of [A-Za-z0-9_-]; our columns hold 64.
_ACCOUNT_RE = re.compile(r"^[\x21-\x7e]{1,64}$")
_CREATE_TIME_RE = re.compile(r"^[0-9]{1,12}$")
# WeChat's message ids are unsigned 64-bit numbers, written in ASCII digits.
_MSG_ID_RE = re.compile(r"^[0-9]{1,20}$")
_MAX_MSG_ID = 2**64 - 1


class InvalidMessage(ProtocolError):
    """A field WeChat never sends that way (validly signed or not): the message is refused
    before anything touches it. `harmless` events are answered `success` (WeChat would only
    retry them), anything else with HTTP 400."""

    def __init__(self, field_name: str, *, harmless: bool = False) -> None:
        super().__init__(f"invalid {field_name}")
        self.harmless = harmless


# WeChat ends a recognised sentence with punctuation (usually 。): not part of the answer.
_SPOKEN_END = " \t\r\n。．.！!？?，,、；;：:…~"


def recognised_text(recognition: str) -> str:
    """The text of a voice message's `Recognition`, without the punctuation WeChat adds."""
    return recognition.strip().rstrip(_SPOKEN_END).strip()


def _checked_msg_id(fields: Mapping[str, str], is_event: bool) -> int | None:
    name = "MsgID" if "MsgID" in fields else "MsgId"
    raw = fields.get(name, "").strip()
    if not raw:
        return None
    if not _MSG_ID_RE.match(raw) or int(raw) > _MAX_MSG_ID:
        raise InvalidMessage(name, harmless=is_event)
    return int(raw)


def _checked_account(fields: Mapping[str, str], name: str) -> str:
    value = fields.get(name, "")
    if value and not _ACCOUNT_RE.match(value):
        raise InvalidMessage(name)
    return value


@dataclass(frozen=True)
class Inbound:
    openid: str
    account: str
    msg_type: str
    create_time: int
    msg_id: int | None = None
    content: str = ""
    event: str = ""
    event_key: str = ""
    raw: Mapping[str, str] = field(default_factory=dict)
    # A voice message whose speech WeChat recognised: it arrives here as text.
    spoken: bool = False

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Inbound:
        """The typed message; raises InvalidMessage for a field no real message has."""
        msg_type = fields.get("MsgType", "").strip().lower()
        is_event = msg_type == "event"
        msg_id = _checked_msg_id(fields, is_event)
        create_time_text = fields.get("CreateTime", "").strip() or "0"
        if not _CREATE_TIME_RE.match(create_time_text):
            raise InvalidMessage("CreateTime")
        content = fields.get("Content", "") if msg_type == "text" else ""
        spoken = msg_type == "voice" and bool(recognised_text(fields.get("Recognition", "")))
        if spoken:
            # Treated as typed text in every flow and command.
            msg_type, content = "text", recognised_text(fields["Recognition"])
        return cls(
            openid=_checked_account(fields, "FromUserName"),
            account=_checked_account(fields, "ToUserName"),
            msg_type=msg_type,
            create_time=int(create_time_text),
            # Events carry no MsgId (a template report's MsgID names the notice sent).
            msg_id=None if is_event else msg_id,
            content=content,
            event=fields.get("Event", "").strip().lower() if msg_type == "event" else "",
            event_key=fields.get("EventKey", "") or "",
            raw=dict(fields),
            spoken=spoken,
        )

    @property
    def is_text(self) -> bool:
        return self.msg_type == "text"

    @property
    def text(self) -> str:
        """The user's text, trimmed and bounded."""
        return self.content.strip()[:MAX_TEXT]

    @property
    def is_click(self) -> bool:
        return self.msg_type == "event" and self.event == "click"

    @property
    def scene(self) -> str | None:
        """The scene of a scene QR code: subscribe-by-scan (qrscene_X) or SCAN (X)."""
        if self.event == "subscribe" and self.event_key.startswith("qrscene_"):
            return self.event_key[len("qrscene_") :] or None
        if self.event == "scan" and self.event_key:
            return self.event_key
        return None

    @property
    def dedup_key(self) -> str:
        if self.msg_id is not None:
            return f"msg:{self.msg_id}"
        # Events carry no MsgId: WeChat's own advice is FromUserName + CreateTime; the event
        # and its key keep two different same-second events apart.
        return f"evt:{self.openid}:{self.create_time}:{self.event}:{self.event_key}"

    @property
    def kind(self) -> str:
        if self.spoken:
            return "voice:text"
        return f"event:{self.event}" if self.msg_type == "event" else self.msg_type


@dataclass(frozen=True)
class Article:
    title: str
    description: str = ""
    url: str = ""
    picurl: str = ""


@dataclass(frozen=True)
class Reply:
    """What a handler answers: text, news (articles) or an image."""

    text: str = ""
    articles: Sequence[Article] = ()
    image_media_id: str = ""

    @property
    def kind(self) -> str:
        if self.articles:
            return "news"
        if self.image_media_id:
            return "image"
        return "text"

    def render(self, *, to_openid: str, from_account: str) -> str:
        if not self.articles and not self.image_media_id:
            # The common case, formatted directly (as wechatpy's TextReply would).
            return (
                f"<xml><ToUserName><![CDATA[{_cdata_safe(to_openid)}]]></ToUserName>"
                f"<FromUserName><![CDATA[{_cdata_safe(from_account)}]]></FromUserName>"
                f"<CreateTime>{int(time.time())}</CreateTime>"
                f"<MsgType><![CDATA[text]]></MsgType>"
                f"<Content><![CDATA[{_cdata_safe(self.text)}]]></Content></xml>"
            )
        common: dict[str, Any] = {
            "source": from_account,
            "target": to_openid,
            "time": int(time.time()),
        }
        if self.articles:
            reply: Any = ArticlesReply(**common)
            for article in list(self.articles)[:8]:
                reply.add_article(
                    {
                        "title": _cdata_safe(article.title),
                        "description": _cdata_safe(article.description),
                        "image": _cdata_safe(article.picurl),
                        "url": _cdata_safe(article.url),
                    }
                )
        else:
            reply = ImageReply(media_id=self.image_media_id, **common)
        rendered: str = reply.render()
        return rendered

    def to_json(self) -> str:
        if not self.articles and not self.image_media_id:
            return _text_json(self.text)  # the common case: one string, no dataclass walk
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Reply:
        data = json.loads(raw)
        return cls(
            text=data.get("text", ""),
            articles=tuple(Article(**a) for a in data.get("articles", ())),
            image_media_id=data.get("image_media_id", ""),
        )


_json_string = json.JSONEncoder(ensure_ascii=False).encode


def _text_json(text: str) -> str:
    return f'{{"text":{_json_string(text)},"articles":[],"image_media_id":""}}'


def _cdata_safe(value: str) -> str:
    """wechatpy puts values in CDATA as they are: a "]]>" typed by a user would end it early."""
    return value.replace("]]>", "]]]]><![CDATA[>")


def text(content: str) -> Reply:
    return Reply(text=content)


def as_reply(value: Reply | str | None) -> Reply | None:
    if value is None or isinstance(value, Reply):
        return value
    return Reply(text=value)
