"""DocG billing with Stripe: which price buys which plan, the Stripe calls the server makes
(customers, Checkout and customer-portal sessions), and what each subscription event means
for an organization. The server applies those meanings to its database; this package has
no database and no server imports.
"""

from .client import DEFAULT_TOLERANCE_SECONDS, CheckoutSession, StripeBilling, construct_event
from .errors import InvalidSignature, PaymentProviderError, StripeBillingError
from .events import (
    HANDLED_EVENTS,
    PAID_STATUSES,
    BillingEvent,
    CheckoutCompleted,
    InvoicePaid,
    PaymentFailed,
    SubscriptionChanged,
    interpret,
)
from .prices import FREE_PLAN, PriceTable

__all__ = [
    "DEFAULT_TOLERANCE_SECONDS",
    "FREE_PLAN",
    "HANDLED_EVENTS",
    "PAID_STATUSES",
    "BillingEvent",
    "CheckoutCompleted",
    "CheckoutSession",
    "InvalidSignature",
    "InvoicePaid",
    "PaymentFailed",
    "PaymentProviderError",
    "PriceTable",
    "StripeBilling",
    "StripeBillingError",
    "SubscriptionChanged",
    "construct_event",
    "interpret",
]
