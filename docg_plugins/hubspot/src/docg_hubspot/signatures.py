"""HubSpot request signatures: v3 (webhooks) and v2 (custom workflow actions).

- v3, header ``X-HubSpot-Signature-v3``: base64 of HMAC-SHA256, keyed with the app's client
  secret, over ``method + URI + body + timestamp``; ``X-HubSpot-Request-Timestamp`` is in
  milliseconds and must be less than 5 minutes old. Some percent-encoded characters of the
  URI are decoded first, as HubSpot does when it signs.
- v2, header ``X-HubSpot-Signature`` with ``X-HubSpot-Signature-Version: v2``: hex SHA-256
  of ``client_secret + method + URI + body``. HubSpot signs custom workflow action requests
  this way.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
import time

from docg_core.callbacks import CallbackRejected, InboundRequest

__all__ = [
    "MAX_AGE_SECONDS",
    "signature_v2",
    "signature_v3",
    "verify_v2",
    "verify_v3",
]

MAX_AGE_SECONDS = 300

# The characters HubSpot decodes in the URI before signing (v3).
_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_ENCODED = re.compile("|".join(_DECODED), re.IGNORECASE)


def _signed_uri(uri: str) -> str:
    return _ENCODED.sub(lambda m: _DECODED[m.group(0).upper()], uri)


def signature_v3(client_secret: str, method: str, uri: str, body: bytes, timestamp: str) -> str:
    """The ``X-HubSpot-Signature-v3`` value HubSpot sends for this request."""
    message = method.upper().encode() + _signed_uri(uri).encode() + body + timestamp.encode()
    digest = hmac.new(client_secret.encode(), message, hashlib.sha256).digest()
    return base64.b64encode(digest).decode()


def signature_v2(client_secret: str, method: str, uri: str, body: bytes) -> str:
    """The v2 ``X-HubSpot-Signature`` value HubSpot sends for this request."""
    message = client_secret.encode() + method.upper().encode() + uri.encode() + body
    return hashlib.sha256(message).hexdigest()


def _secret(client_secret: str | None) -> str:
    if not client_secret:
        raise CallbackRejected(
            "cannot verify the HubSpot signature: the connection has no client_secret"
        )
    return client_secret


def verify_v3(
    request: InboundRequest, client_secret: str | None, *, now: float | None = None
) -> None:
    """Raise :class:`CallbackRejected` unless ``request`` carries a valid, fresh v3 signature."""
    secret = _secret(client_secret)
    signature = request.header("X-HubSpot-Signature-v3")
    timestamp = request.header("X-HubSpot-Request-Timestamp")
    if not signature or not timestamp:
        raise CallbackRejected(
            "the request has no X-HubSpot-Signature-v3 or X-HubSpot-Request-Timestamp header"
        )
    try:
        sent_ms = int(timestamp)
    except ValueError:
        raise CallbackRejected("X-HubSpot-Request-Timestamp is not a number") from None
    current = time.time() if now is None else now
    if abs(current - sent_ms / 1000) > MAX_AGE_SECONDS:
        raise CallbackRejected("the HubSpot request timestamp is more than 5 minutes old")
    expected = signature_v3(secret, request.method, request.url, request.body, timestamp)
    if not hmac.compare_digest(expected.encode(), signature.strip().encode()):
        raise CallbackRejected("the X-HubSpot-Signature-v3 signature does not match")


def verify_v2(request: InboundRequest, client_secret: str | None) -> None:
    """Raise :class:`CallbackRejected` unless ``request`` carries a valid v2 signature."""
    secret = _secret(client_secret)
    signature = request.header("X-HubSpot-Signature")
    version = (request.header("X-HubSpot-Signature-Version") or "v2").strip().lower()
    if not signature:
        raise CallbackRejected("the request has no X-HubSpot-Signature header")
    if version != "v2":
        raise CallbackRejected(f"expected a v2 HubSpot signature, got {version}")
    expected = signature_v2(secret, request.method, request.url, request.body)
    if not hmac.compare_digest(expected.encode(), signature.strip().lower().encode()):
        raise CallbackRejected("the X-HubSpot-Signature (v2) signature does not match")
