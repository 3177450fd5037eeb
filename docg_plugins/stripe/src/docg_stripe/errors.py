"""What can go wrong talking to Stripe::

StripeBillingError
├── PaymentProviderError   Stripe refused a call or could not be reached
└── InvalidSignature       a webhook body not signed by Stripe with our secret (or stale)
"""

from __future__ import annotations

__all__ = ["InvalidSignature", "PaymentProviderError", "StripeBillingError"]


class StripeBillingError(Exception):
    """Base of this package's errors."""


class PaymentProviderError(StripeBillingError):
    """A Stripe call failed.

    :param message: what happened, without secrets (safe to log).
    :param code: Stripe's error ``code`` (``resource_missing``...) or None.
    :param http_status: Stripe's HTTP status; None when Stripe was not reached.
    :param kind: the ``stripe`` exception's class name (``InvalidRequestError``...).
    """

    def __init__(
        self, message: str, *, code: str | None, http_status: int | None, kind: str
    ) -> None:
        super().__init__(message)
        self.code = code
        self.http_status = http_status
        self.kind = kind


class InvalidSignature(StripeBillingError):
    """The ``Stripe-Signature`` header is missing, malformed, wrong or too old."""
