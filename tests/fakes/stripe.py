"""A stateful fake of the Stripe API (v1), usable as an ``httpx`` transport, and Stripe's
webhook events built and signed as Stripe builds and signs them.

It answers like the documented API at ``https://api.stripe.com``: requests are
form-encoded (``metadata[organization_id]=...``, ``line_items[0][price]=...``), answers are
JSON objects with ``id`` and ``object``, errors are
``{"error": {"type", "message", "code", "param"}}`` with Stripe's status codes.

Endpoints (``Authorization: Bearer <secret key>`` required; a wrong one answers 401
``invalid_request_error``, as Stripe does):

- ``POST /v1/customers`` — a ``customer``; an ``Idempotency-Key`` seen before replays the
  first answer (with ``Idempotent-Replayed: true``), or answers 400 ``idempotency_error``
  when the parameters differ, as Stripe's idempotency layer does.
- ``GET /v1/customers/{id}`` — the customer; 404 ``resource_missing``.
- ``POST /v1/checkout/sessions`` — a ``checkout.session`` (``mode=subscription`` needs
  ``line_items``; ``success_url`` is required; the customer and every price must exist:
  400 ``resource_missing`` naming the ``param`` otherwise).
- ``POST /v1/billing_portal/sessions`` — a ``billing_portal.session`` for an existing
  ``customer``.

Test controls:

- ``fake = FakeStripe(api_key=..., webhook_secret=...)``; ``fake.transport`` is an
  ``httpx.MockTransport``; ``fake.requests`` records every ``Call(method, path, headers,
  form)``; ``fake.calls("POST", "/v1/customers")`` filters them.
- ``fake.add_price(price_id)`` makes a recurring price known; ``fake.latency`` (seconds)
  delays every answer, to widen race windows; ``fake.fail_next(status, type_, code,
  message)`` answers the next request with a Stripe error.
- Objects as Stripe sends them in events: ``fake.subscription(...)``, ``fake.invoice(...)``,
  ``fake.completed_checkout(...)``; ``fake.event(type, obj)`` wraps one in an ``event``;
  ``fake.signed(event, secret=None, timestamp=None)`` gives the body and the
  ``Stripe-Signature`` header (``t=<unix time>,v1=<HMAC-SHA256 of "t.body">``).
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import httpx

__all__ = ["API_VERSION", "Call", "FakeStripe"]

API_VERSION = "2026-10-28.endive"
API_BASE = "https://api.stripe.com"
MONTH = 30 * 24 * 3600


@dataclass
class Call:
    """One request the fake received; ``form`` holds the decoded form fields."""

    method: str
    path: str
    headers: dict[str, str]
    form: dict[str, str]


def _error(
    status: int, message: str, *, type_: str = "invalid_request_error", **extra: Any
) -> httpx.Response:
    body = {"error": {"type": type_, "message": message, **extra}}
    return httpx.Response(status, json=body, headers={"Request-Id": _new_id("req")})


def _new_id(prefix: str) -> str:
    return f"{prefix}_{secrets.token_hex(12)}"


class FakeStripe:
    """The Stripe API for one account, in memory."""

    def __init__(
        self,
        api_key: str = "sk_test_docg_fake_key",
        webhook_secret: str = "whsec_docg_fake_webhook_secret",
    ) -> None:
        self.api_key = api_key
        self.webhook_secret = webhook_secret
        self.customers: dict[str, dict[str, Any]] = {}
        self.prices: dict[str, dict[str, Any]] = {}
        self.sessions: dict[str, dict[str, Any]] = {}
        self.requests: list[Call] = []
        self.latency = 0.0
        self._idempotent: dict[str, tuple[dict[str, str], httpx.Response]] = {}
        self._failures: list[httpx.Response] = []
        self._lock = threading.Lock()
        self._counter = itertools.count(1)
        self.transport = httpx.MockTransport(self._handle)

    # -- test controls ---------------------------------------------------------------------

    def add_price(self, price_id: str, *, amount: int = 4900) -> dict[str, Any]:
        """A monthly recurring price."""
        price = {
            "id": price_id,
            "object": "price",
            "active": True,
            "currency": "usd",
            "product": f"prod_{price_id}",
            "recurring": {"interval": "month", "interval_count": 1, "usage_type": "licensed"},
            "type": "recurring",
            "unit_amount": amount,
        }
        self.prices[price_id] = price
        return price

    def fail_next(
        self,
        status: int,
        *,
        type_: str = "api_error",
        code: str | None = None,
        message: str = "Something went wrong on Stripe's end.",
    ) -> None:
        """Answer the next request with this error."""
        extra = {"code": code} if code else {}
        self._failures.append(_error(status, message, type_=type_, **extra))

    def calls(self, method: str, path: str) -> list[Call]:
        """The recorded requests to ``method path``."""
        return [c for c in self.requests if c.method == method and c.path == path]

    # -- objects as Stripe sends them ----------------------------------------------------

    def subscription(
        self,
        *,
        customer: str,
        price: str,
        status: str = "active",
        subscription_id: str | None = None,
        period_start: int | None = None,
        period_end: int | None = None,
        metadata: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        """A ``subscription`` with one item; billing periods on the item (API 2025-03-31+)."""
        sub_id = subscription_id or _new_id("sub")
        start = period_start if period_start is not None else int(time.time())
        end = period_end if period_end is not None else start + MONTH
        price_obj = self.prices.get(price) or {"id": price, "object": "price"}
        return {
            "id": sub_id,
            "object": "subscription",
            "customer": customer,
            "status": status,
            "cancel_at_period_end": False,
            "canceled_at": None,
            "created": start,
            "start_date": start,
            "ended_at": None,
            "livemode": False,
            "metadata": metadata or {},
            "items": {
                "object": "list",
                "data": [
                    {
                        "id": _new_id("si"),
                        "object": "subscription_item",
                        "current_period_start": start,
                        "current_period_end": end,
                        "price": price_obj,
                        "quantity": 1,
                        "subscription": sub_id,
                    }
                ],
                "has_more": False,
                "url": f"/v1/subscription_items?subscription={sub_id}",
            },
        }

    def invoice(
        self,
        *,
        customer: str,
        subscription: str,
        price: str,
        period_start: int,
        period_end: int | None = None,
        billing_reason: str = "subscription_cycle",
        status: str = "paid",
    ) -> dict[str, Any]:
        """A subscription ``invoice``: its line's ``period`` is the service period paid
        for; the invoice's own ``period_start``/``period_end`` look back one period."""
        end = period_end if period_end is not None else period_start + MONTH
        return {
            "id": _new_id("in"),
            "object": "invoice",
            "customer": customer,
            "billing_reason": billing_reason,
            "status": status,
            "amount_due": 4900,
            "amount_paid": 4900 if status == "paid" else 0,
            "attempt_count": 1,
            "currency": "usd",
            "livemode": False,
            "period_start": period_start - MONTH,
            "period_end": period_start,
            "parent": {
                "type": "subscription_details",
                "quote_details": None,
                "subscription_details": {"subscription": subscription, "metadata": {}},
            },
            "lines": {
                "object": "list",
                "data": [
                    {
                        "id": _new_id("il"),
                        "object": "line_item",
                        "amount": 4900,
                        "period": {"start": period_start, "end": end},
                        "parent": {
                            "type": "subscription_item_details",
                            "subscription_item_details": {
                                "subscription": subscription,
                                "subscription_item": _new_id("si"),
                                "proration": False,
                            },
                        },
                        "pricing": {
                            "type": "price_details",
                            "price_details": {"price": price, "product": f"prod_{price}"},
                        },
                    }
                ],
                "has_more": False,
            },
        }

    def completed_checkout(
        self, *, organization_id: str, customer: str, subscription: str
    ) -> dict[str, Any]:
        """A ``checkout.session`` as ``checkout.session.completed`` carries it."""
        return {
            "id": _new_id("cs_test"),
            "object": "checkout.session",
            "mode": "subscription",
            "status": "complete",
            "payment_status": "paid",
            "client_reference_id": organization_id,
            "customer": customer,
            "subscription": subscription,
            "metadata": {"organization_id": organization_id},
            "livemode": False,
        }

    def event(
        self, type_: str, obj: dict[str, Any], *, event_id: str | None = None
    ) -> dict[str, Any]:
        """An ``event`` of ``type_`` about ``obj`` (a snapshot payload)."""
        return {
            "id": event_id or _new_id("evt"),
            "object": "event",
            "api_version": API_VERSION,
            "created": int(time.time()),
            "data": {"object": obj},
            "livemode": False,
            "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None},
            "type": type_,
        }

    def signed(
        self,
        event: dict[str, Any] | bytes,
        *,
        secret: str | None = None,
        timestamp: int | None = None,
    ) -> tuple[bytes, dict[str, str]]:
        """The body and headers of a delivery of ``event``, signed as Stripe signs:
        ``Stripe-Signature: t=<timestamp>,v1=<hex HMAC-SHA256 of "<timestamp>.<body>">``."""
        body = event if isinstance(event, bytes) else json.dumps(event, indent=2).encode()
        moment = int(time.time()) if timestamp is None else timestamp
        key = (self.webhook_secret if secret is None else secret).encode()
        digest = hmac.new(key, f"{moment}.".encode() + body, hashlib.sha256).hexdigest()
        headers = {
            "Content-Type": "application/json; charset=utf-8",
            "Stripe-Signature": f"t={moment},v1={digest}",
            "User-Agent": "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        }
        return body, headers

    # -- the API -------------------------------------------------------------------------

    def _handle(self, request: httpx.Request) -> httpx.Response:
        if self.latency:
            time.sleep(self.latency)
        form = dict(parse_qsl(request.content.decode(), keep_blank_values=True))
        with self._lock:
            self.requests.append(
                Call(request.method, request.url.path, dict(request.headers), form)
            )
            if request.headers.get("authorization") != f"Bearer {self.api_key}":
                return _error(401, "Invalid API Key provided: sk_test_****")
            if self._failures:
                return self._failures.pop(0)
            key = request.headers.get("idempotency-key")
            if request.method == "POST" and key:
                seen = self._idempotent.get(key)
                if seen is not None:
                    if seen[0] != form:
                        return _error(
                            400,
                            "Keys for idempotent requests can only be used with the same "
                            "parameters they were first used with.",
                            type_="idempotency_error",
                        )
                    replay = seen[1]
                    return httpx.Response(
                        replay.status_code,
                        content=replay.content,
                        headers={**replay.headers, "Idempotent-Replayed": "true"},
                    )
            response = self._route(request.method, request.url.path, form)
            if request.method == "POST" and key and response.status_code < 500:
                self._idempotent[key] = (form, response)
            return response

    def _route(self, method: str, path: str, form: dict[str, str]) -> httpx.Response:
        if method == "POST" and path == "/v1/customers":
            return self._create_customer(form)
        if method == "GET" and path.startswith("/v1/customers/"):
            customer = self.customers.get(path.rsplit("/", 1)[1])
            if customer is None:
                return _missing("customer", path.rsplit("/", 1)[1], "id")
            return _ok(customer)
        if method == "POST" and path == "/v1/checkout/sessions":
            return self._create_checkout_session(form)
        if method == "POST" and path == "/v1/billing_portal/sessions":
            return self._create_portal_session(form)
        return _error(404, f"Unrecognized request URL ({method}: {path}).")

    def _create_customer(self, form: dict[str, str]) -> httpx.Response:
        customer = {
            "id": f"cus_{next(self._counter):04d}{secrets.token_hex(5)}",
            "object": "customer",
            "created": int(time.time()),
            "email": form.get("email"),
            "name": form.get("name"),
            "livemode": False,
            "metadata": _nested(form, "metadata"),
        }
        self.customers[customer["id"]] = customer
        return _ok(customer)

    def _create_checkout_session(self, form: dict[str, str]) -> httpx.Response:
        mode = form.get("mode")
        if mode not in {"payment", "setup", "subscription"}:
            return _error(400, "Missing required param: mode.", code="parameter_missing")
        if not form.get("success_url"):
            return _error(
                400,
                "Missing required param: success_url.",
                code="parameter_missing",
                param="success_url",
            )
        customer = form.get("customer")
        if customer and customer not in self.customers:
            return _missing("customer", customer, "customer")
        prices = [
            v for k, v in form.items() if k.startswith("line_items[") and k.endswith("[price]")
        ]
        if mode == "subscription" and not prices:
            return _error(
                400,
                "You must provide at least one recurring price in `subscription` mode "
                "when using prices.",
                param="line_items",
            )
        for index, price in enumerate(prices):
            if price not in self.prices:
                return _missing("price", price, f"line_items[{index}][price]")
        session_id = _new_id("cs_test")
        session = {
            "id": session_id,
            "object": "checkout.session",
            "mode": mode,
            "status": "open",
            "payment_status": "unpaid",
            "customer": customer,
            "client_reference_id": form.get("client_reference_id"),
            "metadata": _nested(form, "metadata"),
            "success_url": form["success_url"],
            "cancel_url": form.get("cancel_url"),
            "subscription": None,
            "url": f"https://checkout.stripe.com/c/pay/{session_id}",
            "livemode": False,
        }
        self.sessions[session_id] = session
        return _ok(session)

    def _create_portal_session(self, form: dict[str, str]) -> httpx.Response:
        customer = form.get("customer")
        if not customer:
            return _error(
                400, "Missing required param: customer.", code="parameter_missing", param="customer"
            )
        if customer not in self.customers:
            return _missing("customer", customer, "customer")
        session_id = _new_id("bps")
        return _ok(
            {
                "id": session_id,
                "object": "billing_portal.session",
                "customer": customer,
                "return_url": form.get("return_url"),
                "url": f"https://billing.stripe.com/p/session/test_{session_id}",
                "livemode": False,
            }
        )


def _ok(body: dict[str, Any]) -> httpx.Response:
    return httpx.Response(200, json=body, headers={"Request-Id": _new_id("req")})


def _missing(kind: str, ident: str, param: str) -> httpx.Response:
    return _error(
        400 if param != "id" else 404,
        f"No such {kind}: '{ident}'",
        code="resource_missing",
        param=param,
    )


def _nested(form: dict[str, str], name: str) -> dict[str, str]:
    prefix = f"{name}["
    return {
        k[len(prefix) : -1]: v for k, v in form.items() if k.startswith(prefix) and k.endswith("]")
    }
