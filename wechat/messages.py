"""Typed inbound messages and the replies handlers return."""

from __future__ import annotations

import json
import time
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from wechatpy.replies import ArticlesReply, ImageReply, TextReply

# Largest text we look at; WeChat itself allows about 2,000 characters per message.
MAX_TEXT = 2000


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

    @classmethod
    def from_fields(cls, fields: Mapping[str, str]) -> Inbound:
        msg_type = fields.get("MsgType", "").strip().lower()
        msg_id_text = fields.get("MsgId") or fields.get("MsgID") or ""
        try:
            create_time = int(fields.get("CreateTime", "0") or 0)
        except ValueError:
            create_time = 0
        return cls(
            openid=fields.get("FromUserName", ""),
            account=fields.get("ToUserName", ""),
            msg_type=msg_type,
            create_time=create_time,
            msg_id=int(msg_id_text) if msg_id_text.isdigit() and msg_type != "event" else None,
            content=fields.get("Content", "") if msg_type == "text" else "",
            event=fields.get("Event", "").strip().lower() if msg_type == "event" else "",
            event_key=fields.get("EventKey", "") or "",
            raw=dict(fields),
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
        elif self.image_media_id:
            reply = ImageReply(media_id=self.image_media_id, **common)
        else:
            reply = TextReply(content=_cdata_safe(self.text), **common)
        rendered: str = reply.render()
        return rendered

    def to_json(self) -> str:
        return json.dumps(asdict(self), ensure_ascii=False)

    @classmethod
    def from_json(cls, raw: str) -> Reply:
        data = json.loads(raw)
        return cls(
            text=data.get("text", ""),
            articles=tuple(Article(**a) for a in data.get("articles", ())),
            image_media_id=data.get("image_media_id", ""),
        )


def _cdata_safe(value: str) -> str:
    """wechatpy puts values in CDATA as they are: a "]]>" typed by a user would end it early."""
    return value.replace("]]>", "]]]]><![CDATA[>")


def text(content: str) -> Reply:
    return Reply(text=content)


def as_reply(value: Reply | str | None) -> Reply | None:
    if value is None or isinstance(value, Reply):
        return value
    return Reply(text=value)
