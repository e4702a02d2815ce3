"""Field-level protection of sensitive personal information (个人信息保护法 第五十一条).

Two independent 32-byte keys are derived from one master key with HKDF-SHA256:

- AES-256-GCM encrypts a value; the token is "v1:" + urlsafe base64 (no padding) of
  nonce (12 random bytes) + ciphertext + tag. ``context`` (e.g. "volunteer.id_number") is bound
  as associated data, so a token copied into another column does not decrypt.
- HMAC-SHA256 gives a blind index: a deterministic keyed hash for uniqueness checks and look-ups
  without storing or comparing the plaintext.

Nothing here logs values, and no exception message contains a plaintext or a token.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from domain.text import normalize

__all__ = ["TOKEN_PREFIX", "PiiCipher", "PiiError", "normalize_for_index"]

TOKEN_PREFIX = "v1:"
_SALT = b"kjzy.pii.v1"
_INFO_ENCRYPTION = b"kjzy/pii/v1/aes-256-gcm"
_INFO_BLIND_INDEX = b"kjzy/pii/v1/hmac-sha256-blind-index"
_NONCE_BYTES = 12
_TAG_BYTES = 16
_B64URL = re.compile(r"[A-Za-z0-9_-]+")


class PiiError(Exception):
    """A token cannot be decrypted (tampered, wrong key or wrong context) or input is unusable."""


def _derive(master: bytes, info: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=_SALT, info=info).derive(master)


def _context_bytes(context: str) -> bytes:
    if not context or "\x00" in context:
        raise PiiError("context must be a non-empty string without NUL characters")
    return context.encode("utf-8")


def _aad(context: str) -> bytes:
    return TOKEN_PREFIX.encode("ascii") + _context_bytes(context)


def normalize_for_index(value: str) -> str:
    """The form that is hashed for the blind index: normalised, no whitespace, upper case.

    So "11010519491231002x", "1101 0519 4912 3100 2X" and full-width digits hash alike.
    """
    return re.sub(r"\s+", "", normalize(value)).upper()


class PiiCipher:
    """Encrypts and blind-indexes sensitive fields with keys derived from ``master_key``."""

    __slots__ = ("_aesgcm", "_index_key")

    def __init__(self, master_key: str) -> None:
        if not master_key or not master_key.strip():
            raise PiiError("the PII master key is empty")
        master = master_key.encode("utf-8")
        self._aesgcm = AESGCM(_derive(master, _INFO_ENCRYPTION))
        self._index_key = _derive(master, _INFO_BLIND_INDEX)

    def __repr__(self) -> str:
        return "PiiCipher(<keys hidden>)"

    def encrypt(self, plaintext: str, *, context: str) -> str:
        """A fresh token for ``plaintext``; two calls give different tokens (random nonce)."""
        nonce = os.urandom(_NONCE_BYTES)
        sealed = self._aesgcm.encrypt(nonce, plaintext.encode("utf-8"), _aad(context))
        payload = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return TOKEN_PREFIX + payload

    def decrypt(self, token: str, *, context: str) -> str:
        """The plaintext of a token from ``encrypt`` with the same key and ``context``."""
        aad = _aad(context)
        if not isinstance(token, str) or not token.startswith(TOKEN_PREFIX):
            raise PiiError("not a v1 PII token")
        payload = token[len(TOKEN_PREFIX) :]
        if not _B64URL.fullmatch(payload) or len(payload) % 4 == 1:
            raise PiiError("malformed PII token")
        try:
            raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
        except (binascii.Error, ValueError):
            raise PiiError("malformed PII token") from None
        if len(raw) < _NONCE_BYTES + _TAG_BYTES:
            raise PiiError("malformed PII token")
        try:
            plain = self._aesgcm.decrypt(raw[:_NONCE_BYTES], raw[_NONCE_BYTES:], aad)
        except InvalidTag:
            raise PiiError("PII token rejected: tampered, wrong key or wrong context") from None
        try:
            return plain.decode("utf-8")
        except UnicodeDecodeError:  # pragma: no cover - authenticated data is always ours
            raise PiiError("PII token does not hold text") from None

    def blind_index(self, value: str, *, context: str) -> str:
        """Hex HMAC-SHA256 of the normalised value (see normalize_for_index), bound to context.

        Deterministic for a key; different contexts and different keys give different hashes.
        """
        message = (
            TOKEN_PREFIX.encode("ascii")
            + _context_bytes(context)
            + b"\x00"
            + normalize_for_index(value).encode("utf-8")
        )
        return hmac.new(self._index_key, message, hashlib.sha256).hexdigest()
