"""ZapSign webhooks: which waiting step a delivery concerns, and whether it is authentic.

ZapSign does not sign its webhooks; it sends the custom headers configured on the webhook.
The connection's ``webhook_secret`` is configured there as ``Authorization: Bearer <secret>``
and compared in constant time with what each delivery carries.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from typing import Any

from docg_core.callbacks import CallbackEvent, CallbackRejected, InboundRequest

from ._documents import document_status

__all__ = ["RESUMING_EVENTS", "SECRET_HEADER", "parse_events", "verify_delivery"]

RESUMING_EVENTS = frozenset({"doc_signed", "doc_refused", "doc_deleted", "doc_expired"})
"""Events that may change a document's outcome; others (doc_viewed, ...) are ignored."""

SECRET_HEADER = "authorization"  # noqa: S105 (a header name, not a secret)


def parse_events(request: InboundRequest) -> list[CallbackEvent]:
    """One event for a delivery that may move a waiting document on, else none."""
    body = request.json()
    if not isinstance(body, Mapping):
        return []
    event_type = body.get("event_type")
    doc_token = body.get("token")
    if event_type not in RESUMING_EVENTS or not isinstance(doc_token, str) or not doc_token:
        return []
    # ZapSign gives no delivery id: a redelivery has the same body, hence the same id.
    digest = hashlib.sha256(request.body).hexdigest()[:32]
    payload: dict[str, Any] = {
        "event": event_type,
        "doc_token": doc_token,
        "status": document_status(body),
    }
    return [CallbackEvent(f"zapsign:{doc_token}", payload, f"{event_type}:{digest}")]


def verify_delivery(request: InboundRequest, credentials: Mapping[str, Any]) -> None:
    """Accept the delivery only if it carries the connection's webhook secret."""
    secret = credentials.get("webhook_secret")
    if not isinstance(secret, str) or not secret:
        raise CallbackRejected(
            "the ZapSign connection has no webhook_secret: set one and configure the ZapSign "
            "webhook to send it as the header 'Authorization: Bearer <secret>'"
        )
    received = request.header(SECRET_HEADER)
    if received is None:
        raise CallbackRejected("the ZapSign webhook delivery carries no Authorization header")
    expected = f"Bearer {secret}"
    if not hmac.compare_digest(received.encode(), expected.encode()):
        raise CallbackRejected("the ZapSign webhook delivery carries a wrong secret")
