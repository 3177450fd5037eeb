"""Credentials at rest: AES-256-GCM with key ids, so keys can rotate.

``ENCRYPTION_KEY`` holds one or more keys, ``kid:base64key`` separated by commas
(``2025b:...,2025a:...``). The first key encrypts; every key decrypts. A token is
``v1.<kid>.<base64url(nonce + ciphertext + tag)>``: the key id says which key opens it, so
rotating means putting a new key first, re-encrypting the rows whose :meth:`KeyRing.needs_rotation`
is true, then removing the old key.

Every ciphertext is bound to associated data — the row it belongs to (a connection's id) —
so a token copied into another row fails to decrypt instead of handing over its credentials.

Errors never contain key material: a malformed ``ENCRYPTION_KEY`` names the entry by position
and key id only; a failed decryption says why without echoing the token.
"""

from __future__ import annotations

import base64
import binascii
import json
import os
import re
from collections.abc import Iterable
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

__all__ = [
    "DecryptionError",
    "KeyConfigError",
    "KeyRing",
    "generate_key",
]

TOKEN_VERSION = "v1"  # noqa: S105 - a format tag, not a secret
KEY_BYTES = 32  # AES-256
NONCE_BYTES = 12  # the GCM standard nonce; random per encryption
_KID = re.compile(r"^[A-Za-z0-9_-]{1,32}$")


class KeyConfigError(ValueError):
    """``ENCRYPTION_KEY`` is empty or malformed (the message never contains a key)."""


class DecryptionError(Exception):
    """A token could not be decrypted: malformed, unknown key id, or authentication failed."""


def generate_key(kid: str | None = None) -> str:
    """A new random 256-bit key as base64 — or, given ``kid``, a ready ``kid:base64key`` entry."""
    key = base64.b64encode(AESGCM.generate_key(bit_length=256)).decode("ascii")
    if kid is None:
        return key
    _check_kid(kid, where="generate_key")
    return f"{kid}:{key}"


def _check_kid(kid: str, *, where: str) -> None:
    if not _KID.match(kid):
        raise KeyConfigError(
            f"{where}: key id {kid!r} is invalid; use 1-32 letters, digits, '-' or '_'"
        )


def _decode_key(text: str, *, where: str) -> bytes:
    text = text.strip()
    padded = text + "=" * (-len(text) % 4)
    try:
        if "-" in text or "_" in text:
            raw = base64.urlsafe_b64decode(padded.encode("ascii"))
        else:
            raw = base64.b64decode(padded.encode("ascii"), validate=True)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        raise KeyConfigError(f"{where}: the key is not valid base64") from None
    if len(raw) != KEY_BYTES:
        raise KeyConfigError(
            f"{where}: the key decodes to {len(raw)} bytes; AES-256 needs {KEY_BYTES} "
            "(generate one with docg_server.crypto.generate_key())"
        )
    return raw


def _aad_bytes(kid: str, aad: str | bytes) -> bytes:
    # The version and key id are authenticated too, so no part of the token can be swapped.
    data = aad.encode("utf-8") if isinstance(aad, str) else bytes(aad)
    return f"docg:{TOKEN_VERSION}:{kid}:".encode("ascii") + data


class KeyRing:
    """Encryption keys by id; the first one encrypts, every one decrypts."""

    def __init__(self, keys: Iterable[tuple[str, bytes]]) -> None:
        self._keys: dict[str, AESGCM] = {}
        order: list[str] = []
        for kid, key in keys:
            _check_kid(kid, where="ENCRYPTION_KEY")
            if kid in self._keys:
                raise KeyConfigError(f"ENCRYPTION_KEY: key id {kid!r} appears twice")
            if len(key) != KEY_BYTES:
                raise KeyConfigError(
                    f"ENCRYPTION_KEY: key {kid!r} has {len(key)} bytes; AES-256 needs {KEY_BYTES}"
                )
            self._keys[kid] = AESGCM(key)
            order.append(kid)
        if not order:
            raise KeyConfigError("ENCRYPTION_KEY holds no key; expected 'kid:base64key[,...]'")
        self._order = tuple(order)

    @classmethod
    def parse(cls, spec: str) -> KeyRing:
        """Parse ``kid1:base64key,kid2:base64key`` (whitespace around entries is ignored)."""
        entries = [entry.strip() for entry in spec.split(",")]
        if not any(entries):
            raise KeyConfigError("ENCRYPTION_KEY is empty; expected 'kid:base64key[,...]'")
        keys: list[tuple[str, bytes]] = []
        for position, entry in enumerate(entries, start=1):
            where = f"ENCRYPTION_KEY entry {position}"
            if not entry:
                raise KeyConfigError(f"{where} is empty (a stray comma?)")
            kid, sep, key_text = entry.partition(":")
            if not sep:
                raise KeyConfigError(
                    f"{where} has no key id; write it as 'kid:base64key', e.g. 'k1:<base64>'"
                )
            kid = kid.strip()
            _check_kid(kid, where=where)
            keys.append((kid, _decode_key(key_text, where=f"{where} ({kid!r})")))
        return cls(keys)

    @property
    def primary_kid(self) -> str:
        """The id of the key that encrypts."""
        return self._order[0]

    @property
    def kids(self) -> tuple[str, ...]:
        """Every key id, the encrypting one first."""
        return self._order

    def __repr__(self) -> str:  # never the keys themselves
        return f"KeyRing(kids={list(self._order)!r})"

    # -- bytes ---------------------------------------------------------------------------

    def encrypt(self, plaintext: bytes, aad: str | bytes) -> str:
        """Encrypt under the primary key, bound to ``aad``; returns a ``v1.<kid>.<data>`` token."""
        kid = self.primary_kid
        nonce = os.urandom(NONCE_BYTES)
        sealed = self._keys[kid].encrypt(nonce, plaintext, _aad_bytes(kid, aad))
        data = base64.urlsafe_b64encode(nonce + sealed).rstrip(b"=").decode("ascii")
        return f"{TOKEN_VERSION}.{kid}.{data}"

    def decrypt(self, token: str, aad: str | bytes) -> bytes:
        """Open a token made by :meth:`encrypt` with the same ``aad``."""
        kid, blob = self._split(token)
        key = self._keys.get(kid)
        if key is None:
            raise DecryptionError(
                f"the token was encrypted with key id {kid!r}, which ENCRYPTION_KEY does not "
                f"hold (it holds: {', '.join(self._order)}); add that key back to decrypt it"
            )
        try:
            return key.decrypt(blob[:NONCE_BYTES], blob[NONCE_BYTES:], _aad_bytes(kid, aad))
        except InvalidTag:
            raise DecryptionError(
                f"authentication failed for a token under key id {kid!r}: the ciphertext was "
                "altered, belongs to another row (associated data differs), or the key changed"
            ) from None

    def needs_rotation(self, token: str) -> bool:
        """True when ``token`` is not encrypted under the primary key."""
        kid, _ = self._split(token)
        return kid != self.primary_kid

    def reencrypt(self, token: str, aad: str | bytes) -> str:
        """The same plaintext under the primary key (``token`` itself if already there)."""
        if not self.needs_rotation(token):
            return token
        return self.encrypt(self.decrypt(token, aad), aad)

    # -- JSON ----------------------------------------------------------------------------

    def encrypt_json(self, obj: Any, aad: str | bytes) -> str:
        """Encrypt a JSON-serialisable value (credentials dict) bound to ``aad``."""
        text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
        return self.encrypt(text.encode("utf-8"), aad)

    def decrypt_json(self, token: str, aad: str | bytes) -> Any:
        """The value given to :meth:`encrypt_json`."""
        plaintext = self.decrypt(token, aad)
        try:
            return json.loads(plaintext.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            raise DecryptionError("the decrypted token is not JSON") from None

    # -- helpers -------------------------------------------------------------------------

    @staticmethod
    def _split(token: str) -> tuple[str, bytes]:
        if not isinstance(token, str):
            raise DecryptionError(f"expected a token string, got {type(token).__name__}")
        parts = token.split(".")
        if len(parts) != 3 or parts[0] != TOKEN_VERSION:
            raise DecryptionError(
                f"not a DocG encrypted token (expected '{TOKEN_VERSION}.<kid>.<data>')"
            )
        _, kid, data = parts
        try:
            blob = base64.urlsafe_b64decode((data + "=" * (-len(data) % 4)).encode("ascii"))
        except (binascii.Error, ValueError, UnicodeEncodeError):
            raise DecryptionError("the token's data is not valid base64url") from None
        if len(blob) < NONCE_BYTES + 16:
            raise DecryptionError("the token's data is too short to be AES-GCM output")
        return kid, blob
