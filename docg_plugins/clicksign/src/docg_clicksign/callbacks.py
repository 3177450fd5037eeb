"""ClickSign webhooks: which waiting step an event concerns, and whether it is authentic.

ClickSign POSTs ``{"event": {"name", "data", "occurred_at"}, "document": {...}}`` to the
account's webhook URL, with ``Content-Hmac: sha256=<hex>`` — the HMAC-SHA256 of the raw body
keyed with the webhook's secret. The envelope id is read from ``envelope.key`` / ``envelope.id``
or from the document's ``envelope_key`` / ``envelope``; the step resumed is the one waiting with
the resume token ``clicksign:{envelope_id}``.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from docg_core.callbacks import CallbackEvent, CallbackRejected, InboundRequest

SIGNATURE_HEADER = "Content-Hmac"

# The events that can change how a signature step ends; every other event is ignored.
RESUMING_EVENTS = frozenset(
    {"sign", "refusal", "close", "auto_close", "document_closed", "cancel", "deadline"}
)


def body_signature(body: bytes, secret: str) -> str:
    """The ``Content-Hmac`` value ClickSign sends for ``body``: ``sha256=<hex>``."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def verify(request: InboundRequest, credentials: Mapping[str, Any]) -> None:
    """Raise :class:`CallbackRejected` unless ``Content-Hmac`` matches the raw body."""
    secret = credentials.get("webhook_secret")
    if not isinstance(secret, str) or not secret:
        raise CallbackRejected(
            "the ClickSign connection has no webhook_secret: add the webhook's HMAC secret"
        )
    received = (request.header(SIGNATURE_HEADER) or "").strip()
    if not received:
        raise CallbackRejected(f"the ClickSign webhook has no {SIGNATURE_HEADER} header")
    expected = body_signature(request.body, secret)
    if not hmac.compare_digest(received.lower().encode(), expected.encode()):
        raise CallbackRejected(f"the ClickSign webhook's {SIGNATURE_HEADER} does not match")


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def envelope_id_of(body: Mapping[str, Any]) -> str | None:
    """The envelope a webhook body is about, wherever ClickSign put it."""
    envelope = body.get("envelope")
    if isinstance(envelope, Mapping):
        found = _text(envelope.get("key")) or _text(envelope.get("id"))
        if found:
            return found
    document = body.get("document")
    if isinstance(document, Mapping):
        found = _text(document.get("envelope_key")) or _text(document.get("envelope_id"))
        if found:
            return found
        nested = document.get("envelope")
        if isinstance(nested, Mapping):
            return _text(nested.get("key")) or _text(nested.get("id"))
    return None


def parse(request: InboundRequest) -> list[CallbackEvent]:
    """One event for the waiting step of the envelope, or none for events that don't matter."""
    body = request.json()
    if not isinstance(body, Mapping):
        return []
    event = body.get("event")
    if not isinstance(event, Mapping):
        return []
    name = event.get("name")
    envelope_id = envelope_id_of(body)
    if name not in RESUMING_EVENTS or envelope_id is None:
        return []
    payload: dict[str, Any] = {
        "event": name,
        "envelope_id": envelope_id,
        "occurred_at": event.get("occurred_at"),
    }
    data = event.get("data")
    signer = data.get("signer") if isinstance(data, Mapping) else None
    if isinstance(signer, Mapping):
        payload["signer"] = {k: signer.get(k) for k in ("key", "email", "name")}
    # ClickSign sends no delivery id; a redelivery carries the same body, hence the same id.
    event_id = hashlib.sha256(request.body).hexdigest()
    return [CallbackEvent(f"clicksign:{envelope_id}", payload, event_id)]
