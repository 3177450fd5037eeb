"""Fixtures of the billing tests: a fake Stripe with the plans' prices, settings that point
at it, and the application with its billing set up against the fake."""

from __future__ import annotations

import pytest
from fakes.stripe import FakeStripe
from fastapi import FastAPI
from pydantic import SecretStr

from docg_server.billing.gateway import install_billing
from docg_server.config import Settings

PRICES = {"starter": "price_starter_month", "pro": "price_pro_month", "team": "price_team_month"}
PUBLIC = "https://docg.example"


@pytest.fixture
def fake() -> FakeStripe:
    stripe = FakeStripe()
    for price in PRICES.values():
        stripe.add_price(price)
    return stripe


@pytest.fixture
def settings(settings: Settings, fake: FakeStripe) -> Settings:
    return settings.model_copy(
        update={
            "PUBLIC_URL": PUBLIC,
            "STRIPE_SECRET_KEY": SecretStr(fake.api_key),
            "STRIPE_WEBHOOK_SECRET": SecretStr(fake.webhook_secret),
            "STRIPE_PRICE_STARTER": PRICES["starter"],
            "STRIPE_PRICE_PRO": PRICES["pro"],
            "STRIPE_PRICE_TEAM": PRICES["team"],
        }
    )


@pytest.fixture
def app(app: FastAPI, settings: Settings, fake: FakeStripe) -> FastAPI:
    install_billing(app.state, settings, transport=fake.transport)
    return app
