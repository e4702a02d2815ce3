"""WeChat's message protocol: signatures, AES encryption, safe XML parsing, building requests.

The receiving side (the webhook) and the sending side (tests, the simulator, the benchmark) share
this module so that both speak exactly the same protocol.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import string
import struct
import time
from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import cached_property
from typing import Any
from xml.parsers import expat as pyexpat
from xml.sax.saxutils import escape

from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


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


def _refuse_doctype(*_args: Any) -> None:
    raise ValueError("XML with a DTD")


class _FlatFields:
    """Collects WeChat's fixed schema straight from expat: <xml> with text children, and one
    level of nesting (ScanCodeInfo, SendPicsInfo, ...) flattened to "Outer.Inner". Text is
    trimmed; an element given twice is dropped; deeper structures and attributes are ignored."""

    def __init__(self) -> None:
        self.fields: dict[str, str] = {}
        self.repeated: set[str] = set()
        self.root = ""
        self.depth = 0
        self.names = ["", "", ""]
        self.texts: list[list[str]] = [[], [], []]
        self.nested = [False, False, False]

    def start(self, name: str, _attrs: Any) -> None:
        self.depth += 1
        depth = self.depth
        if depth == 1:
            self.root = name
        elif depth <= 3:
            self.names[depth - 1] = name
            self.texts[depth - 1] = []
            self.nested[depth - 1] = False
            self.nested[depth - 2] = True
        else:
            self.nested[2] = True

    def data(self, text: str) -> None:
        if 2 <= self.depth <= 3:
            self.texts[self.depth - 1].append(text)

    def end(self, _name: str) -> None:
        depth = self.depth
        if depth == 2 and not self.nested[1]:
            self._add(self.names[1], "".join(self.texts[1]).strip())
        elif depth == 3 and not self.nested[2]:
            self._add(f"{self.names[1]}.{self.names[2]}", "".join(self.texts[2]).strip())
        self.depth -= 1

    def _add(self, key: str, value: str) -> None:
        if key in self.fields:
            self.repeated.add(key)
        self.fields[key] = value


def parse_xml(body: bytes | str) -> dict[str, str]:
    """Parse a WeChat XML document into a flat dict, refusing DTDs and entities.

    DTDs are refused by the parser, not by searching the text: a user may well send
    「<!DOCTYPE」 as a message, which arrives inside CDATA and is harmless.
    """
    text = body.decode("utf-8") if isinstance(body, bytes) else body
    collected = _FlatFields()
    parser = pyexpat.ParserCreate()
    parser.buffer_text = True
    parser.StartDoctypeDeclHandler = _refuse_doctype
    parser.StartElementHandler = collected.start
    parser.EndElementHandler = collected.end
    parser.CharacterDataHandler = collected.data
    try:
        parser.Parse(text, True)
    except Exception as exc:  # expat raises several types; all mean "not valid XML"
        raise ProtocolError(f"malformed XML: {type(exc).__name__}") from None
    if collected.root != "xml":
        raise ProtocolError("the document has no <xml> root")
    fields = collected.fields
    for key in collected.repeated:
        del fields[key]
    return fields


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

    @cached_property
    def _key(self) -> bytes:
        if not self.aes_key:
            raise SignatureError("encrypted message but no EncodingAESKey configured")
        return base64.b64decode(self.aes_key + "=")

    @cached_property
    def _cipher_once(self) -> Cipher[modes.CBC]:
        key = self._key
        return Cipher(algorithms.AES(key), modes.CBC(key[:16]))

    def _cipher(self) -> Cipher[modes.CBC]:
        """Built once (the IV is fixed): each message takes its own encryptor/decryptor."""
        return self._cipher_once

    def seal(self, xml: str) -> str:
        """WeChat's message encryption: random(16) + length(4, big-endian) + XML + AppID,
        PKCS#7-padded to 32 bytes, AES-256-CBC with IV = key[:16], base64."""
        payload = xml.encode("utf-8")
        plain = os.urandom(16) + struct.pack(">I", len(payload)) + payload + self.app_id.encode()
        pad = 32 - len(plain) % 32
        encryptor = self._cipher().encryptor()
        sealed = encryptor.update(plain + bytes([pad]) * pad) + encryptor.finalize()
        return base64.b64encode(sealed).decode("ascii")

    def unseal(self, encrypted: str) -> str:
        """The XML inside a ciphertext; SignatureError if it was sealed for another AppID."""
        try:
            data = base64.b64decode(encrypted, validate=True)
            decryptor = self._cipher().decryptor()
            plain = decryptor.update(data) + decryptor.finalize()
            pad = plain[-1]
            if not 1 <= pad <= 32 or len(plain) < 20 + pad:
                raise ValueError("bad padding")
            content = plain[16:-pad]
            (length,) = struct.unpack(">I", content[:4])
            xml, app_id = content[4 : 4 + length], content[4 + length :]
            text = xml.decode("utf-8")
        except SignatureError:
            raise
        except Exception as exc:  # bad base64, length, padding, encoding
            raise ProtocolError(f"cannot decrypt: {type(exc).__name__}") from None
        if len(xml) != length or not secrets.compare_digest(app_id, self.app_id.encode()):
            raise SignatureError("sealed for another AppID")
        return text

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
        return self.unseal(encrypted)

    def encrypt(self, xml: str, nonce: str | None = None, timestamp: str | None = None) -> str:
        """A reply as WeChat expects it in safe mode: the ciphertext, signed."""
        nonce = nonce or random_nonce()
        timestamp = timestamp or str(int(time.time()))
        encrypted = self.seal(xml)
        signature = sign(self.token, timestamp, nonce, encrypted)
        return (
            f"<xml><Encrypt><![CDATA[{encrypted}]]></Encrypt>"
            f"<MsgSignature><![CDATA[{signature}]]></MsgSignature>"
            f"<TimeStamp>{timestamp}</TimeStamp><Nonce><![CDATA[{nonce}]]></Nonce></xml>"
        )

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
