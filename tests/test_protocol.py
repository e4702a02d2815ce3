"""WeChat's message protocol: the official test vector, safe XML parsing, and round trips."""

from __future__ import annotations

import pytest

from wechat.protocol import (
    Mode,
    Protocol,
    ProtocolError,
    SignatureError,
    build_inbound_xml,
    parse_xml,
    sign,
)

# The official vector (消息加解密说明), see /work/shared/reference/wechat.md.
VECTOR_TOKEN = "pamtest"
VECTOR_AES_KEY = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
VECTOR_APP_ID = "wxb11529c136998cb6"
VECTOR_TIMESTAMP = "1409304348"
VECTOR_NONCE = "xxxxxx"
VECTOR_CIPHERTEXT = (
    "jn1L23DB+6ELqJ+6bruv21Y6MD7KeIfP82D6gU39rmkgczbWwt5+3bnyg5K55bgVtVzd832WzZGMhkP72vVOfg=="
)
VECTOR_PLAINTEXT = "我是中文abcd123"
VECTOR_SIGNATURE = "76480565cbe296026c53aaacd1ad523a1ddba24f"

OPENID = "oProtocolUser000000000000001"
INBOUND = build_inbound_xml(
    {
        "ToUserName": "gh_account",
        "FromUserName": OPENID,
        "CreateTime": 1409304348,
        "MsgType": "text",
        "Content": "你好 <b>&amp; ]]> 世界",
        "MsgId": 1234567890123456,
    }
)


@pytest.fixture
def vector() -> Protocol:
    return Protocol(VECTOR_TOKEN, VECTOR_APP_ID, VECTOR_AES_KEY)


@pytest.fixture
def proto() -> Protocol:
    return Protocol("testtoken", "wx1234567890abcdef", VECTOR_AES_KEY)


def _encrypted_body(ciphertext: str) -> bytes:
    return f"<xml><Encrypt><![CDATA[{ciphertext}]]></Encrypt></xml>".encode()


# -- the official test vector ------------------------------------------------------------


def test_signature_of_the_official_vector(vector: Protocol) -> None:
    assert sign(VECTOR_TOKEN, VECTOR_TIMESTAMP, VECTOR_NONCE) == VECTOR_SIGNATURE
    vector.check_signature(VECTOR_SIGNATURE, VECTOR_TIMESTAMP, VECTOR_NONCE)


def test_official_ciphertext_decrypts_to_the_official_plaintext(vector: Protocol) -> None:
    msg_signature = sign(VECTOR_TOKEN, VECTOR_TIMESTAMP, VECTOR_NONCE, VECTOR_CIPHERTEXT)
    plain = vector.decrypt(
        _encrypted_body(VECTOR_CIPHERTEXT), msg_signature, VECTOR_TIMESTAMP, VECTOR_NONCE
    )
    assert plain == VECTOR_PLAINTEXT


def test_official_ciphertext_with_another_app_id_is_refused() -> None:
    other = Protocol(VECTOR_TOKEN, "wx0000000000000000", VECTOR_AES_KEY)
    msg_signature = sign(VECTOR_TOKEN, VECTOR_TIMESTAMP, VECTOR_NONCE, VECTOR_CIPHERTEXT)
    with pytest.raises(SignatureError):
        other.decrypt(
            _encrypted_body(VECTOR_CIPHERTEXT), msg_signature, VECTOR_TIMESTAMP, VECTOR_NONCE
        )


@pytest.mark.parametrize(
    "signature",
    ["", "0" * 40, VECTOR_SIGNATURE.upper(), VECTOR_SIGNATURE[:-1]],
    ids=["missing", "zeros", "uppercase", "truncated"],
)
def test_bad_signatures_are_refused(vector: Protocol, signature: str) -> None:
    with pytest.raises(SignatureError):
        vector.check_signature(signature, VECTOR_TIMESTAMP, VECTOR_NONCE)


def test_bad_msg_signature_is_refused(vector: Protocol) -> None:
    with pytest.raises(SignatureError):
        vector.decrypt(
            _encrypted_body(VECTOR_CIPHERTEXT), VECTOR_SIGNATURE, VECTOR_TIMESTAMP, VECTOR_NONCE
        )


def test_garbage_ciphertext_with_a_valid_msg_signature_is_a_bad_request(
    vector: Protocol,
) -> None:
    garbage = "bm90IGEgcmVhbCBjaXBoZXJ0ZXh0"
    msg_signature = sign(VECTOR_TOKEN, VECTOR_TIMESTAMP, VECTOR_NONCE, garbage)
    with pytest.raises(ProtocolError):
        vector.decrypt(_encrypted_body(garbage), msg_signature, VECTOR_TIMESTAMP, VECTOR_NONCE)


def test_encrypted_message_without_an_aes_key_is_refused() -> None:
    plain_only = Protocol(VECTOR_TOKEN, VECTOR_APP_ID, None)
    msg_signature = sign(VECTOR_TOKEN, VECTOR_TIMESTAMP, VECTOR_NONCE, VECTOR_CIPHERTEXT)
    with pytest.raises(SignatureError):
        plain_only.decrypt(
            _encrypted_body(VECTOR_CIPHERTEXT), msg_signature, VECTOR_TIMESTAMP, VECTOR_NONCE
        )


# -- safe XML ------------------------------------------------------------------------------

BILLION_LAUGHS = (
    '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol">'
    '<!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">]>'
    "<xml><Content>&lol2;</Content></xml>"
)
EXTERNAL_ENTITY = (
    '<?xml version="1.0"?><!DOCTYPE xml [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>'
    "<xml><Content>&xxe;</Content></xml>"
)


@pytest.mark.parametrize(
    "body",
    [
        BILLION_LAUGHS,
        EXTERNAL_ENTITY,
        '<!doctype xml SYSTEM "http://127.0.0.1:9/x.dtd"><xml><A>1</A></xml>',
        "<xml><Content>open",
        "<xml><A>1</A></xml><xml><A>2</A></xml>",
        "not xml at all",
        "<root><A>1</A></root>",
        "",
    ],
    ids=["billion-laughs", "external-entity", "doctype", "truncated", "two-roots", "text",
         "wrong-root", "empty"],
)  # fmt: skip
def test_parse_xml_refuses_bad_documents(body: str) -> None:
    with pytest.raises(ProtocolError):
        parse_xml(body)


def test_doctype_after_a_comment_is_still_refused() -> None:
    with pytest.raises(ProtocolError):
        parse_xml('<!-- <xml> --><!DOCTYPE xml SYSTEM "x.dtd"><xml><A>1</A></xml>')


def test_markup_words_inside_cdata_are_just_text() -> None:
    """A user may send 「<!DOCTYPE html>」; inside CDATA it is harmless text, not a DTD."""
    fields = parse_xml(build_inbound_xml({"Content": '<!DOCTYPE html><!ENTITY x "y">'}))
    assert fields == {"Content": '<!DOCTYPE html><!ENTITY x "y">'}


def test_parse_xml_flattens_fields_and_nested_elements() -> None:
    fields = parse_xml(
        "<xml><MsgType><![CDATA[event]]></MsgType><Empty></Empty>"
        "<ScanCodeInfo><ScanType>qrcode</ScanType><ScanResult>abc</ScanResult></ScanCodeInfo>"
        "</xml>"
    )
    assert fields == {
        "MsgType": "event",
        "Empty": "",
        "ScanCodeInfo.ScanType": "qrcode",
        "ScanCodeInfo.ScanResult": "abc",
    }


def test_build_inbound_xml_round_trips_awkward_text() -> None:
    fields = parse_xml(INBOUND)
    assert fields["Content"] == "你好 <b>&amp; ]]> 世界"
    assert fields["MsgId"] == "1234567890123456"


# -- round trips: what WeChat sends, what we read, what we answer, what WeChat reads ------------


def _receive(proto: Protocol, query: dict[str, str], body: bytes) -> dict[str, str]:
    """What the webhook does with a POST, in protocol terms."""
    proto.check_signature(query["signature"], query["timestamp"], query["nonce"])
    if query.get("encrypt_type") == "aes":
        inner = proto.decrypt(body, query["msg_signature"], query["timestamp"], query["nonce"])
    else:
        inner = body.decode("utf-8")
    return parse_xml(inner)


@pytest.mark.parametrize("mode", list(Mode))
def test_request_round_trip_in_each_mode(proto: Protocol, mode: Mode) -> None:
    query, body = proto.build_request(INBOUND, mode, openid=OPENID)
    assert query["openid"] == OPENID
    outer = parse_xml(body)
    if mode is Mode.PLAIN:
        assert "encrypt_type" not in query and "Encrypt" not in outer
    elif mode is Mode.COMPATIBLE:
        assert query["encrypt_type"] == "aes"
        assert outer["Content"] == "你好 <b>&amp; ]]> 世界" and outer["Encrypt"]
    else:
        assert query["encrypt_type"] == "aes"
        assert set(outer) == {"ToUserName", "Encrypt"}
        assert "你好" not in body.decode("utf-8")
    assert _receive(proto, query, body) == parse_xml(INBOUND)


@pytest.mark.parametrize("mode", [Mode.COMPATIBLE, Mode.SAFE])
def test_tampered_ciphertext_fails_the_msg_signature(proto: Protocol, mode: Mode) -> None:
    query, body = proto.build_request(INBOUND, mode, openid=OPENID)
    encrypted = parse_xml(body)["Encrypt"]
    tampered = body.replace(encrypted.encode(), encrypted[::-1].encode())
    with pytest.raises(SignatureError):
        _receive(proto, query, tampered)


def test_encrypted_reply_round_trip(proto: Protocol) -> None:
    reply = "<xml><ToUserName><![CDATA[o1]]></ToUserName><Content><![CDATA[收到]]></Content></xml>"
    encrypted = proto.encrypt(reply, nonce="abc123", timestamp="1409304348")
    doc = parse_xml(encrypted)
    assert doc["Nonce"] == "abc123" and doc["TimeStamp"] == "1409304348"
    assert doc["MsgSignature"] == sign("testtoken", "1409304348", "abc123", doc["Encrypt"])
    opened = proto.open_reply(encrypted.encode(), {})
    assert opened == {"ToUserName": "o1", "Content": "收到"}


def test_encrypted_reply_with_a_forged_signature_is_refused(proto: Protocol) -> None:
    encrypted = proto.encrypt("<xml><Content>收到</Content></xml>")
    doc = parse_xml(encrypted)
    forged = encrypted.replace(doc["MsgSignature"], "0" * 40)
    with pytest.raises(SignatureError):
        proto.open_reply(forged.encode(), {})


@pytest.mark.parametrize("body", [b"success", b"", b"  success\n"])
def test_success_and_empty_replies_open_to_none(proto: Protocol, body: bytes) -> None:
    assert proto.open_reply(body, {}) is None
