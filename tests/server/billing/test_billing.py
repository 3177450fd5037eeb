"""Billing routes: the subscription summary, Checkout (one Stripe customer per organization,
even under concurrency), the customer portal, and billing switched off — over HTTP, against
the Stripe fake, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fakes.stripe import FakeStripe
from fastapi import FastAPI
from pydantic import SecretStr
from server.apikit import Api, assert_problem, bearer, make_settings
from server.billing.conftest import PRICES, PUBLIC
from server.test_invitations import join, set_users_limit

from docg_server.billing.gateway import install_billing
from docg_server.config import Settings, SettingsError
from docg_server.models import Organization

SUBSCRIPTION = "/api/v1/billing/subscription"
CHECKOUT = "/api/v1/checkout/create-session"
PORTAL = "/api/v1/billing/portal"


async def owner(api: Api) -> dict[str, str]:
    return bearer((await api.signed_in())["access_token"])


def organization(app: FastAPI) -> Organization:
    with app.state.session_factory() as session:
        org = session.scalars(sa.select(Organization)).one()
        session.expunge(org)
        return org


def update_organization(app: FastAPI, **values: Any) -> None:
    with app.state.session_factory() as session:
        session.execute(sa.update(Organization).values(**values))
        session.commit()


# -- the subscription summary ----------------------------------------------------------------


async def test_a_new_organization_is_on_the_free_plan_with_its_limits_and_no_usage(
    api: Api, client: httpx.AsyncClient
) -> None:
    response = await client.get(SUBSCRIPTION, headers=await owner(api))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["plan"] == "free"
    assert body["limits"] == {"users": 1, "documents_per_month": 10, "workflows": 5}
    usage = body["usage"]
    assert (usage["documents_used"], usage["users"], usage["workflows"]) == (0, 1, 0)
    assert usage["period_end"] > usage["period_start"]
    assert body["status"] is None
    assert body["current_period_end"] is None
    assert body["has_billing_account"] is False
    assert body["billing_configured"] is True
    assert body["purchasable_plans"] == ["starter", "pro", "team"]


async def test_the_subscription_needs_an_access_token(client: httpx.AsyncClient) -> None:
    assert_problem(await client.get(SUBSCRIPTION), 401, "unauthorized")


async def test_a_billing_period_that_has_passed_shows_as_reset(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    start = organization(app).period_start
    update_organization(app, documents_used=7, period_start=start.replace(year=start.year - 1))

    usage = (await client.get(SUBSCRIPTION, headers=headers)).json()["usage"]

    assert usage["documents_used"] == 0
    assert usage["period_start"] > start.replace(year=start.year - 1).isoformat()


# -- checkout ---------------------------------------------------------------------------------


async def test_checkout_creates_the_customer_and_a_subscription_session_for_the_plans_price(
    api: Api, app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    headers = await owner(api)

    response = await client.post(CHECKOUT, json={"plan": "pro"}, headers=headers)

    assert response.status_code == 200, response.text
    url = response.json()["url"]
    assert url.startswith("https://checkout.stripe.com/c/pay/cs_test_")
    org = organization(app)
    [customer_call] = fake.calls("POST", "/v1/customers")
    assert customer_call.headers["idempotency-key"] == f"docg-customer-{org.id}"
    assert customer_call.form["email"] == "ana@example.com"
    assert customer_call.form["metadata[organization_id]"] == str(org.id)
    assert org.stripe_customer_id in fake.customers
    [session_call] = fake.calls("POST", "/v1/checkout/sessions")
    form = session_call.form
    assert form["mode"] == "subscription"
    assert form["customer"] == org.stripe_customer_id
    assert form["line_items[0][price]"] == PRICES["pro"]
    assert form["line_items[0][quantity]"] == "1"
    assert form["client_reference_id"] == str(org.id)
    assert form["subscription_data[metadata][organization_id]"] == str(org.id)
    assert form["success_url"].startswith(f"{PUBLIC}/billing?checkout=success")
    assert "{CHECKOUT_SESSION_ID}" in form["success_url"]
    assert form["cancel_url"] == f"{PUBLIC}/billing?checkout=cancel"
    summary = (await client.get(SUBSCRIPTION, headers=headers)).json()
    assert summary["has_billing_account"] is True
    assert summary["plan"] == "free"  # nothing is paid until Stripe says so


async def test_a_second_checkout_reuses_the_organizations_customer(
    api: Api, app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    headers = await owner(api)
    await client.post(CHECKOUT, json={"plan": "starter"}, headers=headers)

    response = await client.post(CHECKOUT, json={"plan": "team"}, headers=headers)

    assert response.status_code == 200, response.text
    assert len(fake.calls("POST", "/v1/customers")) == 1
    sessions = fake.calls("POST", "/v1/checkout/sessions")
    assert [s.form["customer"] for s in sessions] == [organization(app).stripe_customer_id] * 2
    assert sessions[1].form["line_items[0][price]"] == PRICES["team"]


async def test_ten_concurrent_checkouts_create_one_customer(
    api: Api, app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    headers = await owner(api)
    fake.latency = 0.05  # every call to Stripe is slow: the window a race would need

    responses = await asyncio.gather(
        *(client.post(CHECKOUT, json={"plan": "pro"}, headers=headers) for _ in range(10))
    )

    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    assert len(fake.calls("POST", "/v1/customers")) == 1
    assert len(fake.customers) == 1
    customer = organization(app).stripe_customer_id
    assert {c.form["customer"] for c in fake.calls("POST", "/v1/checkout/sessions")} == {customer}


@pytest.mark.parametrize("role", ["admin", "member"])
async def test_only_an_owner_starts_a_checkout(
    api: Api, app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, role: str
) -> None:
    headers = await owner(api)
    set_users_limit(app, 3)
    other = await join(api, headers, "bruno@example.com", role)

    assert_problem(
        await client.post(CHECKOUT, json={"plan": "pro"}, headers=other), 403, "forbidden"
    )
    assert fake.requests == []


@pytest.mark.parametrize("plan", ["free", "enterprise"])
async def test_a_plan_without_a_price_cannot_be_bought(
    api: Api, client: httpx.AsyncClient, fake: FakeStripe, plan: str
) -> None:
    response = await client.post(CHECKOUT, json={"plan": plan}, headers=await owner(api))

    body = assert_problem(response, 422, "plan-not-purchasable")
    assert body["purchasable_plans"] == ["starter", "pro", "team"]
    assert fake.requests == []


@pytest.mark.parametrize("body", [{"plan": "platinum"}, {}, {"plan": "pro", "price": "price_x"}])
async def test_a_bad_checkout_body_is_a_422_problem(
    api: Api, client: httpx.AsyncClient, body: dict[str, Any]
) -> None:
    response = await client.post(CHECKOUT, json=body, headers=await owner(api))

    assert_problem(response, 422, "validation-error")


async def test_checkout_while_a_subscription_is_paid_is_a_409_pointing_to_the_portal(
    api: Api, app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    headers = await owner(api)
    update_organization(
        app,
        stripe_customer_id="cus_x",
        stripe_subscription_id="sub_x",
        subscription_status="active",
    )

    body = assert_problem(
        await client.post(CHECKOUT, json={"plan": "team"}, headers=headers),
        409,
        "subscription-exists",
    )
    assert "/api/v1/billing/portal" in body["detail"]
    assert fake.requests == []


async def test_a_stripe_failure_is_a_502_problem_and_stores_no_customer(
    api: Api, app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    headers = await owner(api)
    fake.fail_next(400, type_="invalid_request_error", code="customer_max_subscriptions")

    response = await client.post(CHECKOUT, json={"plan": "pro"}, headers=headers)

    body = assert_problem(response, 502, "payment-provider-error")
    assert fake.api_key not in response.text
    assert body["provider_code"] == "customer_max_subscriptions"
    assert organization(app).stripe_customer_id is None


async def test_a_rejected_secret_key_is_a_502_that_does_not_show_the_key(
    api: Api, app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, settings: Settings
) -> None:
    headers = await owner(api)
    wrong = settings.model_copy(update={"STRIPE_SECRET_KEY": SecretStr("sk_test_wrong_key_123")})
    install_billing(app.state, wrong, transport=fake.transport)

    response = await client.post(CHECKOUT, json={"plan": "pro"}, headers=headers)

    assert_problem(response, 502, "payment-provider-error")
    assert "sk_test" not in response.text


# -- the customer portal ----------------------------------------------------------------------


async def test_the_portal_needs_a_billing_account_first(
    api: Api, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    response = await client.post(PORTAL, headers=await owner(api))

    assert_problem(response, 409, "no-billing-account")
    assert fake.requests == []


async def test_the_portal_opens_for_the_organizations_customer(
    api: Api, app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    headers = await owner(api)
    await client.post(CHECKOUT, json={"plan": "pro"}, headers=headers)

    response = await client.post(PORTAL, headers=headers)

    assert response.status_code == 200, response.text
    assert response.json()["url"].startswith("https://billing.stripe.com/p/session/")
    [call] = fake.calls("POST", "/v1/billing_portal/sessions")
    assert call.form == {
        "customer": organization(app).stripe_customer_id,
        "return_url": f"{PUBLIC}/billing",
    }


async def test_admins_open_the_portal_and_members_do_not(
    api: Api, app: FastAPI, client: httpx.AsyncClient
) -> None:
    headers = await owner(api)
    await client.post(CHECKOUT, json={"plan": "pro"}, headers=headers)
    set_users_limit(app, 3)
    admin = await join(api, headers, "bruno@example.com", "admin")
    member = await join(api, headers, "carla@example.com", "member")

    assert (await client.post(PORTAL, headers=admin)).status_code == 200
    assert_problem(await client.post(PORTAL, headers=member), 403, "forbidden")


# -- billing switched off ---------------------------------------------------------------------


async def test_without_a_stripe_key_billing_answers_503_and_the_summary_says_so(
    api: Api, app: FastAPI, client: httpx.AsyncClient, settings: Settings
) -> None:
    install_billing(app.state, settings.model_copy(update={"STRIPE_SECRET_KEY": None}))
    headers = await owner(api)

    summary = (await client.get(SUBSCRIPTION, headers=headers)).json()
    assert (summary["billing_configured"], summary["purchasable_plans"]) == (False, [])
    checkout = await client.post(CHECKOUT, json={"plan": "pro"}, headers=headers)
    assert_problem(checkout, 503, "billing-not-configured")
    assert_problem(await client.post(PORTAL, headers=headers), 503, "billing-not-configured")
    webhook = await client.post("/api/v1/stripe/webhook", content=b"{}")
    assert_problem(webhook, 503, "billing-not-configured")


# -- settings ---------------------------------------------------------------------------------


def test_production_refuses_a_stripe_key_without_a_webhook_secret() -> None:
    with pytest.raises(SettingsError, match="STRIPE_WEBHOOK_SECRET is required") as raised:
        make_settings(
            "sqlite://",
            DOCG_ENV="production",
            STRIPE_SECRET_KEY="sk_live_secret_value_0123456789",
        )
    assert "sk_live_secret_value" not in str(raised.value)


def test_production_without_stripe_needs_no_webhook_secret() -> None:
    with pytest.raises(SettingsError) as raised:
        make_settings("sqlite://", DOCG_ENV="production")
    assert "STRIPE" not in str(raised.value)


def test_one_price_for_two_plans_is_refused() -> None:
    with pytest.raises(SettingsError, match="same price"):
        make_settings("sqlite://", STRIPE_PRICE_PRO="price_1", STRIPE_PRICE_TEAM="price_1")
