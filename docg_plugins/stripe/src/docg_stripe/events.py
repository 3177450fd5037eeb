"""Stripe events → what they mean for an organization (pure: no I/O, no database).

:func:`interpret` reads a verified event (plain JSON data) and answers one of:

- :class:`CheckoutCompleted` — ``checkout.session.completed`` (subscription mode): link the
  customer and subscription to the organization named by ``client_reference_id``.
- :class:`SubscriptionChanged` — ``customer.subscription.created|updated|deleted``: the
  plan its price buys, its status and the end of its paid period. :attr:`effective_plan`
  is the plan whose limits apply (the free plan once it has ended or stopped paying).
- :class:`InvoicePaid` — ``invoice.paid``: a subscription invoice that starts a billing
  period starts a new usage period.
- :class:`PaymentFailed` — ``invoice.payment_failed``: the subscription is past due.

Any other event, or one of these in a shape DocG does not act on, is None.

Payloads follow the API version of the webhook endpoint. Both the current shapes and the
ones before ``2025-03-31.basil`` are read: billing periods on subscription items (else on
the subscription), an invoice's subscription in ``parent.subscription_details`` (else at
the top level), and a line's price in ``pricing.price_details`` (else ``price``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from .prices import FREE_PLAN, PriceTable

__all__ = [
    "HANDLED_EVENTS",
    "PAID_STATUSES",
    "BillingEvent",
    "CheckoutCompleted",
    "InvoicePaid",
    "PaymentFailed",
    "SubscriptionChanged",
    "interpret",
]

HANDLED_EVENTS = (
    "checkout.session.completed",
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "invoice.paid",
    "invoice.payment_failed",
)
"""The event types to select for the webhook endpoint."""

PAID_STATUSES = frozenset({"active", "trialing", "past_due"})
"""Subscription statuses that keep the paid plan's limits (``past_due`` while Stripe retries
the payment). ``incomplete``, ``incomplete_expired``, ``unpaid``, ``paused`` and
``canceled`` fall back to the free plan."""

_PERIOD_STARTING_INVOICES = frozenset({"subscription_create", "subscription_cycle"})


@dataclass(frozen=True, slots=True)
class CheckoutCompleted:
    organization_id: str | None
    customer_id: str | None
    subscription_id: str | None


@dataclass(frozen=True, slots=True)
class SubscriptionChanged:
    customer_id: str | None
    subscription_id: str
    status: str
    price_id: str | None
    plan: str | None
    """The plan the price buys; None for a price the table does not know."""
    current_period_end: datetime | None
    deleted: bool = False

    @property
    def effective_plan(self) -> str | None:
        """The plan whose limits apply now; None: leave the plan as it is (unknown price)."""
        if self.deleted or self.status not in PAID_STATUSES:
            return FREE_PLAN
        return self.plan


@dataclass(frozen=True, slots=True)
class InvoicePaid:
    customer_id: str | None
    subscription_id: str | None
    period_start: datetime | None
    """Start of the service period the invoice pays for; None when it starts none."""


@dataclass(frozen=True, slots=True)
class PaymentFailed:
    customer_id: str | None
    subscription_id: str | None


BillingEvent = CheckoutCompleted | SubscriptionChanged | InvoicePaid | PaymentFailed


def interpret(event: Mapping[str, Any], prices: PriceTable) -> BillingEvent | None:
    """What ``event`` means for an organization; None for an event DocG ignores."""
    kind = event.get("type")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(obj, Mapping):
        return None
    if kind == "checkout.session.completed":
        if obj.get("mode") != "subscription":
            return None
        return CheckoutCompleted(
            organization_id=_str(obj.get("client_reference_id"))
            or _str(_get(obj, "metadata", "organization_id")),
            customer_id=_id(obj.get("customer")),
            subscription_id=_id(obj.get("subscription")),
        )
    if kind in (
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
    ):
        return _subscription(obj, prices, deleted=kind == "customer.subscription.deleted")
    if kind == "invoice.paid":
        return InvoicePaid(
            customer_id=_id(obj.get("customer")),
            subscription_id=_invoice_subscription(obj),
            period_start=_invoice_period_start(obj),
        )
    if kind == "invoice.payment_failed":
        return PaymentFailed(
            customer_id=_id(obj.get("customer")), subscription_id=_invoice_subscription(obj)
        )
    return None


def _subscription(
    obj: Mapping[str, Any], prices: PriceTable, *, deleted: bool
) -> SubscriptionChanged | None:
    subscription_id = _id(obj)
    status = _str(obj.get("status"))
    if subscription_id is None or status is None:
        return None
    items = _list(obj.get("items"))
    first = items[0] if items else {}
    price_id = _id(first.get("price")) or _id(_get(obj, "plan"))
    ends = [_time(item.get("current_period_end")) for item in items]
    known_ends = [end for end in ends if end is not None]
    period_end = max(known_ends) if known_ends else _time(obj.get("current_period_end"))
    return SubscriptionChanged(
        customer_id=_id(obj.get("customer")),
        subscription_id=subscription_id,
        status="canceled" if deleted and status != "incomplete_expired" else status,
        price_id=price_id,
        plan=prices.plan_for(price_id),
        current_period_end=period_end,
        deleted=deleted,
    )


def _invoice_subscription(obj: Mapping[str, Any]) -> str | None:
    return _id(_get(obj, "parent", "subscription_details", "subscription")) or _id(
        obj.get("subscription")
    )


def _invoice_period_start(obj: Mapping[str, Any]) -> datetime | None:
    """The start of the subscription period an invoice pays for.

    Not the invoice's own ``period_start``: for a subscription invoice that looks back one
    period (it frames usage added before the invoice). The subscription line's ``period``
    is the service period being paid for.
    """
    if obj.get("billing_reason") not in _PERIOD_STARTING_INVOICES:
        return None
    starts = []
    for line in _list(obj.get("lines")):
        is_subscription = (
            _get(line, "parent", "type") == "subscription_item_details"
            or line.get("type") == "subscription"
        )
        start = _time(_get(line, "period", "start"))
        if is_subscription and start is not None:
            starts.append(start)
    return min(starts) if starts else None


# -- reading JSON defensively ----------------------------------------------------------------


def _get(obj: Any, *path: str) -> Any:
    for key in path:
        if not isinstance(obj, Mapping):
            return None
        obj = obj.get(key)
    return obj


def _str(value: Any) -> str | None:
    return value if isinstance(value, str) and value else None


def _id(value: Any) -> str | None:
    """An id, or the id of an expanded object."""
    if isinstance(value, Mapping):
        value = value.get("id")
    return _str(value)


def _list(value: Any) -> list[Mapping[str, Any]]:
    data = value.get("data") if isinstance(value, Mapping) else value
    if not isinstance(data, list):
        return []
    return [item for item in data if isinstance(item, Mapping)]


def _time(value: Any) -> datetime | None:
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None
