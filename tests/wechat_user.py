"""A simulated WeChat user for transcript tests: posts signed (and encrypted) XML to /wechat.

user.click("VOLUNTEER_REGISTER")
assert "姓名" in user.say("同意")
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass, field
from typing import Any

from flask.testing import FlaskClient

from wechat.protocol import Mode, Protocol, build_inbound_xml, parse_xml

ACCOUNT = "gh_test_account"
_msg_ids = itertools.count(int(time.time() * 1000) * 1000)


@dataclass
class Answer:
    status: int
    body: bytes
    fields: dict[str, str] | None
    # The reply's XML as WeChat reads it (decrypted in safe mode); "" for `success`.
    xml: str = ""

    @property
    def text(self) -> str:
        if self.fields is None:
            return ""
        return self.fields.get("Content", "")

    @property
    def empty(self) -> bool:
        return self.fields is None


@dataclass
class WeChatUser:
    client: FlaskClient
    protocol: Protocol
    openid: str
    # None: as WeChat sends to this account: safe mode when it has an EncodingAESKey.
    mode: Mode | None = None
    create_time: int = field(default_factory=lambda: int(time.time()))
    last_msg_id: int = 0

    def __post_init__(self) -> None:
        if self.mode is None:
            self.mode = Mode.SAFE if self.protocol.aes_key else Mode.PLAIN

    def _next_time(self) -> int:
        self.create_time += 1
        return self.create_time

    def post(self, fields: dict[str, Any]) -> Answer:
        xml = build_inbound_xml(fields)
        assert self.mode is not None
        query, body = self.protocol.build_request(xml, self.mode, openid=self.openid)
        response = self.client.post(
            "/wechat", query_string=query, data=body, content_type="text/xml"
        )
        xml = self.protocol.reply_xml(response.data) if response.status_code == 200 else ""
        opened = parse_xml(xml) if xml else None
        return Answer(response.status_code, response.data, opened, xml)

    def base(self, msg_type: str) -> dict[str, Any]:
        return {
            "ToUserName": ACCOUNT,
            "FromUserName": self.openid,
            "CreateTime": self._next_time(),
            "MsgType": msg_type,
        }

    def send_text(self, content: str, msg_id: int | None = None) -> Answer:
        self.last_msg_id = msg_id if msg_id is not None else next(_msg_ids)
        return self.post({**self.base("text"), "Content": content, "MsgId": self.last_msg_id})

    def say(self, content: str) -> str:
        answer = self.send_text(content)
        assert answer.status == 200, answer.body
        return answer.text

    def event(self, event: str, key: str = "", **extra: Any) -> Answer:
        fields = {**self.base("event"), "Event": event}
        if key or event in {"CLICK", "SCAN", "VIEW"}:
            fields["EventKey"] = key
        fields.update(extra)
        return self.post(fields)

    def click(self, key: str) -> str:
        answer = self.event("CLICK", key)
        assert answer.status == 200, answer.body
        return answer.text

    def subscribe(self, scene: str | None = None) -> str:
        answer = self.event("subscribe", f"qrscene_{scene}" if scene else "")
        assert answer.status == 200
        return answer.text

    def unsubscribe(self) -> Answer:
        return self.event("unsubscribe")

    def voice(self) -> str:
        fields = {
            **self.base("voice"),
            "MediaId": "media-voice-1",
            "Format": "amr",
            "MsgId": next(_msg_ids),
        }
        return self.post(fields).text

    def speak(self, recognition: str) -> str:
        """A voice message as WeChat sends it with speech recognition on (usually ending in 。)."""
        answer = self.send_voice(recognition)
        assert answer.status == 200, answer.body
        return answer.text

    def send_voice(self, recognition: str | None) -> Answer:
        self.last_msg_id = next(_msg_ids)
        fields = {
            **self.base("voice"),
            "MediaId": f"media-voice-{self.last_msg_id}",
            "Format": "amr",
            "MsgId": self.last_msg_id,
        }
        if recognition is not None:
            fields["Recognition"] = recognition
        return self.post(fields)

    def image(self) -> str:
        fields = {
            **self.base("image"),
            "PicUrl": "http://example.invalid/a.jpg",
            "MediaId": "media-image-1",
            "MsgId": next(_msg_ids),
        }
        return self.post(fields).text
