from __future__ import annotations

import base64
import hashlib
import hmac
import re

import pytest

from domain.pii import TOKEN_PREFIX, PiiCipher, PiiError, normalize_for_index

KEY = "test-pii-key-0123456789abcdef0123456789"
ID_NUMBER = "11010519491231002X"
CONTEXT = "volunteer.id_number"


@pytest.fixture
def cipher() -> PiiCipher:
    return PiiCipher(KEY)


def _unpack(token: str) -> bytes:
    payload = token[len(TOKEN_PREFIX) :]
    return base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))


def _pack(raw: bytes) -> str:
    return TOKEN_PREFIX + base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


@pytest.mark.parametrize("plaintext", [ID_NUMBER, "13812345678", "阿卜杜拉·买买提", "", "x" * 500])
def test_round_trip(cipher: PiiCipher, plaintext: str) -> None:
    token = cipher.encrypt(plaintext, context=CONTEXT)
    assert cipher.decrypt(token, context=CONTEXT) == plaintext
    # A second instance with the same master key decrypts too.
    assert PiiCipher(KEY).decrypt(token, context=CONTEXT) == plaintext


def test_token_format(cipher: PiiCipher) -> None:
    token = cipher.encrypt(ID_NUMBER, context=CONTEXT)
    assert token.startswith("v1:")
    assert token.isascii()
    assert re.fullmatch(r"v1:[A-Za-z0-9_-]+", token)
    # 12-byte nonce + 18 bytes of ciphertext + 16-byte tag
    assert len(_unpack(token)) == 12 + len(ID_NUMBER) + 16


def test_ciphertext_never_contains_the_plaintext(cipher: PiiCipher) -> None:
    for _ in range(20):
        token = cipher.encrypt(ID_NUMBER, context=CONTEXT)
        assert ID_NUMBER not in token
        assert ID_NUMBER[:6] not in token
        assert ID_NUMBER.encode() not in _unpack(token)


def test_two_encryptions_differ(cipher: PiiCipher) -> None:
    tokens = {cipher.encrypt(ID_NUMBER, context=CONTEXT) for _ in range(50)}
    assert len(tokens) == 50
    nonces = {_unpack(t)[:12] for t in tokens}
    assert len(nonces) == 50


def test_wrong_context_fails(cipher: PiiCipher) -> None:
    token = cipher.encrypt(ID_NUMBER, context=CONTEXT)
    with pytest.raises(PiiError):
        cipher.decrypt(token, context="volunteer.mobile")


def test_different_key_fails(cipher: PiiCipher) -> None:
    token = cipher.encrypt(ID_NUMBER, context=CONTEXT)
    with pytest.raises(PiiError) as exc:
        PiiCipher(KEY + "!").decrypt(token, context=CONTEXT)
    assert ID_NUMBER not in str(exc.value)
    assert token not in str(exc.value)
    assert exc.value.__cause__ is None
    assert exc.value.__suppress_context__


def test_tampering_is_detected(cipher: PiiCipher) -> None:
    token = cipher.encrypt(ID_NUMBER, context=CONTEXT)
    raw = _unpack(token)
    for position in (0, 11, 12, len(raw) - 17, len(raw) - 1):
        flipped = bytearray(raw)
        flipped[position] ^= 0x01
        with pytest.raises(PiiError):
            cipher.decrypt(_pack(bytes(flipped)), context=CONTEXT)
    with pytest.raises(PiiError):
        cipher.decrypt(_pack(raw[:-1]), context=CONTEXT)  # truncated tag
    with pytest.raises(PiiError):
        cipher.decrypt(_pack(raw + b"\x00"), context=CONTEXT)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "v1:",
        "v2:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "v1:AAAA",  # shorter than nonce + tag
        "v1:" + "A" * 41,  # impossible base64 length
        "v1:AAAA AAAA AAAA AAAA AAAA AAAA AAAA AAAA AAAA",
        "v1:AAAAAAAAAAAAAAAAAAAAAAAA+/AAAAAAAAAAAAAAAAAA",  # not the urlsafe alphabet
        "v1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA==",
        ID_NUMBER,
    ],
)
def test_malformed_tokens(cipher: PiiCipher, token: str) -> None:
    with pytest.raises(PiiError) as exc:
        cipher.decrypt(token, context=CONTEXT)
    assert ID_NUMBER not in str(exc.value)


def test_blind_index_is_stable_and_hex(cipher: PiiCipher) -> None:
    first = cipher.blind_index(ID_NUMBER, context=CONTEXT)
    assert first == cipher.blind_index(ID_NUMBER, context=CONTEXT)
    assert first == PiiCipher(KEY).blind_index(ID_NUMBER, context=CONTEXT)
    assert re.fullmatch(r"[0-9a-f]{64}", first)
    assert ID_NUMBER not in first


@pytest.mark.parametrize(
    "variant",
    ["11010519491231002x", " 110105 19491231 002X ", "１１０１０５１９４９１２３１００２Ｘ"],
)
def test_blind_index_normalises(cipher: PiiCipher, variant: str) -> None:
    assert cipher.blind_index(variant, context=CONTEXT) == cipher.blind_index(
        ID_NUMBER, context=CONTEXT
    )
    assert normalize_for_index(variant) == ID_NUMBER


def test_blind_index_depends_on_key_context_and_value(cipher: PiiCipher) -> None:
    base = cipher.blind_index(ID_NUMBER, context=CONTEXT)
    assert (
        PiiCipher("another-master-key-0123456789").blind_index(ID_NUMBER, context=CONTEXT) != base
    )
    assert cipher.blind_index(ID_NUMBER, context="volunteer.mobile") != base
    assert cipher.blind_index("440524188001010014", context=CONTEXT) != base


def test_blind_index_uses_a_derived_key(cipher: PiiCipher) -> None:
    # Not a plain SHA-256, nor an HMAC under the raw master key.
    index = cipher.blind_index(ID_NUMBER, context=CONTEXT)
    assert index != hashlib.sha256(ID_NUMBER.encode()).hexdigest()
    assert index != hmac.new(KEY.encode(), ID_NUMBER.encode(), hashlib.sha256).hexdigest()


@pytest.mark.parametrize("key", ["", "   "])
def test_empty_master_key_is_refused(key: str) -> None:
    with pytest.raises(PiiError):
        PiiCipher(key)


@pytest.mark.parametrize("context", ["", "a\x00b"])
def test_bad_context_is_refused(cipher: PiiCipher, context: str) -> None:
    with pytest.raises(PiiError):
        cipher.encrypt(ID_NUMBER, context=context)
    with pytest.raises(PiiError):
        cipher.blind_index(ID_NUMBER, context=context)


def test_repr_hides_keys(cipher: PiiCipher) -> None:
    assert KEY not in repr(cipher)
    assert repr(cipher) == "PiiCipher(<keys hidden>)"
