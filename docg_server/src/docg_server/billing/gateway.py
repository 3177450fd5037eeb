"""The server's Stripe setup, built from the settings on first use and kept on ``app.state``.

Billing is configured when ``STRIPE_SECRET_KEY`` is set and ``docg-stripe`` is installed
(the server's ``billing`` extra); ``docg_stripe`` is imported only then, so the server runs
without it. :func:`install_billing` builds the setup explicitly (tests pass an ``httpx``
transport answering for Stripe).
"""

from __future__ import annotations

import importlib.util
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING

import httpx
from starlette.datastructures import State

from ..config import Settings
from .plans import Plan

if TYPE_CHECKING:
    from docg_stripe import PriceTable, StripeBilling

__all__ = ["BillingSetup", "billing_setup", "install_billing", "plan_prices", "stripe_installed"]

_STATE_KEY = "billing_setup"
_building = threading.Lock()  # one setup per application, even on concurrent first use


@dataclass(frozen=True)
class BillingSetup:
    """The Stripe client, the plan ↔ price table and the webhook's secret."""

    client: StripeBilling
    prices: PriceTable
    webhook_secret: str | None
    tolerance_seconds: int


def stripe_installed() -> bool:
    """Whether ``docg-stripe`` (and so the ``stripe`` library) can be imported."""
    return importlib.util.find_spec("docg_stripe") is not None


def plan_prices(settings: Settings) -> dict[str, str | None]:
    """The ``STRIPE_PRICE_*`` settings by plan name."""
    return {
        Plan.STARTER.value: settings.STRIPE_PRICE_STARTER,
        Plan.PRO.value: settings.STRIPE_PRICE_PRO,
        Plan.TEAM.value: settings.STRIPE_PRICE_TEAM,
        Plan.ENTERPRISE.value: settings.STRIPE_PRICE_ENTERPRISE,
    }


def _secret_key(settings: Settings) -> str | None:
    key = settings.STRIPE_SECRET_KEY
    value = key.get_secret_value().strip() if key is not None else ""
    return value or None


def install_billing(
    state: State, settings: Settings, *, transport: httpx.BaseTransport | None = None
) -> BillingSetup | None:
    """Build the setup from ``settings`` and keep it on ``state``; None when billing is off."""
    key = _secret_key(settings)
    setup: BillingSetup | None = None
    if key is not None and stripe_installed():
        from docg_stripe import PriceTable, StripeBilling

        secret = settings.STRIPE_WEBHOOK_SECRET
        setup = BillingSetup(
            client=StripeBilling(key, transport=transport),
            prices=PriceTable(plan_prices(settings)),
            webhook_secret=(secret.get_secret_value().strip() or None) if secret else None,
            tolerance_seconds=settings.STRIPE_WEBHOOK_TOLERANCE_SECONDS,
        )
    setattr(state, _STATE_KEY, setup)
    return setup


def billing_setup(state: State, settings: Settings) -> BillingSetup | None:
    """The application's setup (built on first use); None when billing is off."""
    with _building:
        if hasattr(state, _STATE_KEY):
            setup: BillingSetup | None = getattr(state, _STATE_KEY)
            return setup
        return install_billing(state, settings)
