"""WeChat's message protocol: signatures, AES encryption, safe XML parsing, building requests.

The receiving side (the webhook) and the sending side (tests, the simulator, the benchmark) share
this module so that both speak exactly the same protocol.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any
from xml.parsers import expat as pyexpat
from xml.sax.saxutils import escape

import xmltodict
from wechatpy.crypto import WeChatCrypto
from wechatpy.exceptions import InvalidAppIdException, InvalidSignatureException


class ProtocolError(Exception):
    """The request is not a well-formed WeChat message (answered with HTTP 400)."""


class SignatureError(ProtocolError):
    """The request's signature does not match (answered with HTTP 403)."""


class RefusedError(SignatureError):
    """Signed, but not acceptable: too old, replayed, or plaintext where only encrypted messages
    are accepted (answered with HTTP 403)."""


class Mode(StrEnum):
    PLAIN = "plain"
    COMPATIBLE = "compatible"
    SAFE = "safe"


def sign(*parts: str) -> str:
    """WeChat's signature: sha1 of the sorted, concatenated parts."""
    return hashlib.sha1("".join(sorted(parts)).encode("utf-8")).hexdigest()


def _equal(a: str, b: str) -> bool:
    return secrets.compare_digest(a.encode("utf-8"), b.encode("utf-8"))


class _NoDoctypeExpat:
    """pyexpat for xmltodict, with any document type declaration refused.

    Checked by the parser, not by searching the text: a user may well send 「<!DOCTYPE」 as a
    message, which arrives inside CDATA and is harmless.
    """

    @staticmethod
    def ParserCreate(*args: Any) -> Any:
        parser = pyexpat.ParserCreate(*args)
        parser.StartDoctypeDeclHandler = _refuse_doctype
        return parser


def _refuse_doctype(*_args: Any) -> None:
    raise ValueError("XML with a DTD")


def parse_xml(body: bytes | str) -> dict[str, str]:
    """Parse a WeChat XML document into a flat dict, refusing DTDs and entities."""
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    try:
        doc = xmltodict.parse(text, expat=_NoDoctypeExpat, disable_entities=True)
    except Exception as exc:  # expat raises several types; all mean "not valid XML"
        raise ProtocolError(f"malformed XML: {type(exc).__name__}") from None
    root = doc.get("xml") if isinstance(doc, dict) else None
    if not isinstance(root, dict):
        raise ProtocolError("the document has no <xml> root")
    flat: dict[str, str] = {}
    for key, value in root.items():
        if isinstance(value, str):
            flat[key] = value
        elif value is None:
            flat[key] = ""
        elif isinstance(value, dict):
            # Nested structures (ScanCodeInfo, SendPicsInfo, ...): flatten one level.
            for sub_key, sub_value in value.items():
                if isinstance(sub_value, str):
                    flat[f"{key}.{sub_key}"] = sub_value
    return flat


_TIMESTAMP_RE = re.compile(r"^[0-9]{1,12}$")
# WeChat's nonces are digits; bounded so that a key made of them stays small.
_NONCE_RE = re.compile(r"^[A-Za-z0-9_-]{1,64}$")
_SAFE_MODE_FIELDS = {"ToUserName", "Encrypt"}


@dataclass(frozen=True)
class RequestPolicy:
    """What the webhook accepts: compatible-mode bodies or only safe-mode ones, and how far a
    request's timestamp may be from our clock."""

    compatible: bool = False
    window_seconds: int = 300


@dataclass(frozen=True)
class Opened:
    """A request that passed the checks: the message's XML and how it came."""

    xml: str
    encrypted: bool
    timestamp: int
    nonce: str

    @property
    def fingerprint(self) -> str:
        """Identifies the message itself: a retry has the same, another message another."""
        return hashlib.blake2b(self.xml.encode("utf-8"), digest_size=12).hexdigest()


@dataclass(frozen=True)
class Protocol:
    token: str
    app_id: str
    aes_key: str | None = None

    def _crypto(self) -> WeChatCrypto:
        if not self.aes_key:
            raise SignatureError("encrypted message but no EncodingAESKey configured")
        return WeChatCrypto(self.token, self.aes_key, self.app_id)

    def check_signature(self, signature: str, timestamp: str, nonce: str) -> None:
        if not signature or not _equal(sign(self.token, timestamp, nonce), signature):
            raise SignatureError("bad signature")

    def decrypt(self, body: bytes, msg_signature: str, timestamp: str, nonce: str) -> str:
        """Return the inner XML of a safe/compatible-mode message."""
        return self._decrypt_parsed(parse_xml(body), msg_signature, timestamp, nonce)

    def _decrypt_parsed(
        self, outer: Mapping[str, str], msg_signature: str, timestamp: str, nonce: str
    ) -> str:
        encrypted = outer.get("Encrypt", "")
        if not encrypted:
            raise ProtocolError("no <Encrypt> element")
        if not msg_signature or not _equal(
            sign(self.token, timestamp, nonce, encrypted), msg_signature
        ):
            raise SignatureError("bad msg_signature")
        crypto = self._crypto()
        try:
            # The parsed dict, so wechatpy does not parse the body a second time.
            xml: str = crypto.decrypt_message(
                {"Encrypt": encrypted}, msg_signature, timestamp, nonce
            )
        except (InvalidSignatureException, InvalidAppIdException) as exc:
            raise SignatureError(type(exc).__name__) from None
        except Exception as exc:  # bad padding, bad base64, ...
            raise ProtocolError(f"cannot decrypt: {type(exc).__name__}") from None
        return xml

    def encrypt(self, xml: str, nonce: str | None = None, timestamp: str | None = None) -> str:
        nonce = nonce or random_nonce()
        timestamp = timestamp or str(int(time.time()))
        result: str = self._crypto().encrypt_message(xml, nonce, timestamp)
        return result

    def open_request(
        self, query: Mapping[str, str], body: bytes, policy: RequestPolicy, now: float
    ) -> Opened:
        """Check a POST the way our policy demands and return the message's XML.

        The `signature` covers only token, timestamp and nonce, never the body: with an
        EncodingAESKey configured, only the `msg_signature` over the ciphertext vouches for the
        message, so plaintext is refused. The caller still has to refuse a (timestamp, nonce)
        pair seen before with another message.
        """
        timestamp, nonce = query.get("timestamp", ""), query.get("nonce", "")
        self.check_signature(query.get("signature", ""), timestamp, nonce)
        if not _TIMESTAMP_RE.match(timestamp) or not _NONCE_RE.match(nonce):
            raise RefusedError("malformed timestamp or nonce")
        if abs(now - int(timestamp)) > policy.window_seconds:
            raise RefusedError("timestamp outside the accepted window")
        encrypted = query.get("encrypt_type", "raw").lower() == "aes"
        if self.aes_key and not encrypted:
            raise RefusedError("plaintext message while an EncodingAESKey is configured")
        if not encrypted:
            return Opened(body.decode("utf-8"), False, int(timestamp), nonce)
        outer = parse_xml(body)
        xml = self._decrypt_parsed(outer, query.get("msg_signature", ""), timestamp, nonce)
        if not policy.compatible and set(outer) - _SAFE_MODE_FIELDS:
            raise ProtocolError("plaintext fields beside <Encrypt> (compatible mode is off)")
        # In compatible mode the plaintext fields are ignored: only the ciphertext is signed.
        return Opened(xml, True, int(timestamp), nonce)

    # -- the sending side: what WeChat's servers do -------------------------------------

    def build_request(
        self,
        inner_xml: str,
        mode: Mode,
        *,
        openid: str = "",
        timestamp: int | None = None,
        nonce: str | None = None,
    ) -> tuple[dict[str, str], bytes]:
        """Query string and body of the POST WeChat would send for `inner_xml`."""
        when = str(int(time.time()) if timestamp is None else timestamp)
        nonce = nonce or random_nonce()
        query = {"signature": sign(self.token, when, nonce), "timestamp": when, "nonce": nonce}
        if openid:
            query["openid"] = openid
        if mode is Mode.PLAIN:
            return query, inner_xml.encode("utf-8")
        encrypted_doc = parse_xml(self.encrypt(inner_xml, nonce, when))
        encrypted = encrypted_doc["Encrypt"]
        query["encrypt_type"] = "aes"
        query["msg_signature"] = sign(self.token, when, nonce, encrypted)
        if mode is Mode.SAFE:
            body = (
                "<xml><ToUserName><![CDATA[{to}]]></ToUserName>"
                "<Encrypt><![CDATA[{enc}]]></Encrypt></xml>"
            ).format(to=escape(parse_xml(inner_xml).get("ToUserName", "")), enc=encrypted)
        else:  # compatible: the plaintext fields plus <Encrypt>
            body = inner_xml.replace("</xml>", f"<Encrypt><![CDATA[{encrypted}]]></Encrypt></xml>")
        return query, body.encode("utf-8")

    def open_reply(self, body: bytes, query: Mapping[str, str]) -> dict[str, str] | None:
        """Decode a reply as WeChat would: None for `success`/empty, else the reply's fields."""
        xml = self.reply_xml(body)
        return parse_xml(xml) if xml else None

    def reply_xml(self, body: bytes) -> str:
        """A reply's XML as WeChat reads it (decrypted if it was encrypted); "" for `success`."""
        text = body.decode("utf-8").strip()
        if not text or text == "success":
            return ""
        doc = parse_xml(text)
        if "Encrypt" in doc and "MsgSignature" in doc:
            return self.decrypt(
                text.encode("utf-8"), doc["MsgSignature"], doc["TimeStamp"], doc["Nonce"]
            )
        return text


def random_nonce(length: int = 10) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


def cdata(value: Any) -> str:
    text = str(value).replace("]]>", "]]]]><![CDATA[>")
    return f"<![CDATA[{text}]]>"


def build_inbound_xml(fields: Mapping[str, Any]) -> str:
    """An inbound message as WeChat formats it (strings in CDATA, numbers bare)."""
    parts = []
    for key, value in fields.items():
        if isinstance(value, int):
            parts.append(f"<{key}>{value}</{key}>")
        else:
            parts.append(f"<{key}>{cdata(value)}</{key}>")
    return "<xml>" + "".join(parts) + "</xml>"
