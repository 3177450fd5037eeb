"""The Stripe calls DocG makes, through the official ``stripe`` library (synchronous: call
them from a worker thread in async code).

- :meth:`StripeBilling.create_customer` — one customer per organization; pass a stable
  idempotency key so a retried or concurrent create returns the same customer.
- :meth:`StripeBilling.create_checkout_session` — a hosted Checkout page
  (``mode=subscription``) for one plan's price, tied to the organization by
  ``client_reference_id`` and metadata.
- :meth:`StripeBilling.create_portal_session` — the customer portal (change plan, card,
  cancel).
- :func:`construct_event` — a webhook body, verified with ``stripe.Webhook.construct_event``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx
import stripe

from ._http import HttpxStripeClient
from .errors import InvalidSignature, PaymentProviderError

__all__ = ["DEFAULT_TOLERANCE_SECONDS", "CheckoutSession", "StripeBilling", "construct_event"]

DEFAULT_TOLERANCE_SECONDS = 300
"""How old a webhook signature may be (Stripe's libraries use five minutes)."""


@dataclass(frozen=True, slots=True)
class CheckoutSession:
    """A created Checkout Session: send the customer to ``url``."""

    id: str
    url: str


class StripeBilling:
    """A Stripe API client for one secret key.

    :param api_key: ``sk_live_...`` / ``sk_test_...`` (or a restricted ``rk_...``).
    :param transport: an ``httpx`` transport (tests); default: the network.
    :param api_base: another API origin (``stripe-mock``, a proxy); default Stripe's.
    :param timeout: seconds per request.
    :param max_network_retries: retries on network errors, 409 and 5xx; the library sends
        an idempotency key with retried POSTs.
    """

    def __init__(
        self,
        api_key: str,
        *,
        transport: httpx.BaseTransport | None = None,
        api_base: str | None = None,
        timeout: float = 30.0,
        max_network_retries: int = 2,
    ) -> None:
        self._http = HttpxStripeClient(timeout=timeout, transport=transport)
        self._client = stripe.StripeClient(
            api_key,
            http_client=self._http,
            max_network_retries=max_network_retries,
            base_addresses={"api": api_base} if api_base else None,
        )

    def create_customer(
        self,
        *,
        organization_id: str,
        name: str,
        email: str | None,
        idempotency_key: str,
    ) -> str:
        """Create the organization's customer; its id (``cus_...``)."""
        params: dict[str, Any] = {"name": name, "metadata": {"organization_id": organization_id}}
        if email:
            params["email"] = email
        customer = _call(
            self._client.v1.customers.create,
            params,
            {"idempotency_key": idempotency_key},
        )
        return str(customer.id)

    def create_checkout_session(
        self,
        *,
        customer_id: str,
        price_id: str,
        organization_id: str,
        success_url: str,
        cancel_url: str,
        idempotency_key: str | None = None,
    ) -> CheckoutSession:
        """A subscription Checkout Session for one unit of ``price_id``."""
        metadata = {"organization_id": organization_id}
        params: dict[str, Any] = {
            "mode": "subscription",
            "customer": customer_id,
            "line_items": [{"price": price_id, "quantity": 1}],
            "success_url": success_url,
            "cancel_url": cancel_url,
            "client_reference_id": organization_id,
            "metadata": metadata,
            "subscription_data": {"metadata": metadata},
        }
        options: dict[str, Any] = {"idempotency_key": idempotency_key} if idempotency_key else {}
        session = _call(self._client.v1.checkout.sessions.create, params, options)
        return CheckoutSession(id=str(session.id), url=str(session.url))

    def create_portal_session(self, *, customer_id: str, return_url: str) -> str:
        """A customer portal session; its URL."""
        session = _call(
            self._client.v1.billing_portal.sessions.create,
            {"customer": customer_id, "return_url": return_url},
            {},
        )
        return str(session.url)

    def close(self) -> None:
        """Close the HTTP connection pool."""
        self._http.close()


def _call(method: Any, params: dict[str, Any], options: dict[str, Any]) -> Any:
    try:
        return method(params=params, options=options)
    except stripe.StripeError as exc:
        # The library's messages never hold the secret key (it masks it); the user message
        # is Stripe's own sentence for the failure.
        raise PaymentProviderError(
            exc.user_message or type(exc).__name__,
            code=exc.code,
            http_status=exc.http_status,
            kind=type(exc).__name__,
        ) from exc


def construct_event(
    payload: bytes,
    signature: str | None,
    secret: str,
    *,
    tolerance: int = DEFAULT_TOLERANCE_SECONDS,
) -> dict[str, Any]:
    """The event of a webhook body, as plain JSON data, after checking its signature.

    :raises InvalidSignature: no or a malformed ``Stripe-Signature`` header, no ``v1``
        signature matching HMAC-SHA256 of ``"{t}.{body}"`` with ``secret``, a timestamp
        older than ``tolerance`` seconds, or a body that is not a JSON event.
    """
    try:
        event = stripe.Webhook.construct_event(payload, signature, secret, tolerance)
    except stripe.SignatureVerificationError as exc:
        raise InvalidSignature(str(exc.user_message or "the signature does not verify")) from None
    except ValueError:  # signed, but not UTF-8 JSON, or not an event
        raise InvalidSignature("the body is not a Stripe event") from None
    data: dict[str, Any] = event.to_dict()
    if not isinstance(data.get("id"), str) or not isinstance(data.get("type"), str):
        raise InvalidSignature("the body is not a Stripe event")
    return data
