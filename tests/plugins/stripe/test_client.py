"""StripeBilling against the Stripe fake: the requests it makes, as Stripe documents them;
construct_event: signatures checked by the official library."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from fakes.stripe import FakeStripe

from docg_stripe import InvalidSignature, PaymentProviderError, StripeBilling, construct_event


@pytest.fixture
def fake() -> FakeStripe:
    stripe = FakeStripe()
    stripe.add_price("price_pro")
    return stripe


@pytest.fixture
def billing(fake: FakeStripe) -> Iterator[StripeBilling]:
    client = StripeBilling(fake.api_key, transport=fake.transport, max_network_retries=0)
    yield client
    client.close()


def test_a_customer_is_created_once_per_idempotency_key(
    fake: FakeStripe, billing: StripeBilling
) -> None:
    first = billing.create_customer(
        organization_id="org-1", name="Acme", email="ana@example.com", idempotency_key="k-1"
    )
    again = billing.create_customer(
        organization_id="org-1", name="Acme", email="ana@example.com", idempotency_key="k-1"
    )

    assert first == again
    assert list(fake.customers) == [first]
    call = fake.calls("POST", "/v1/customers")[0]
    assert call.headers["authorization"] == f"Bearer {fake.api_key}"
    assert call.headers["content-type"] == "application/x-www-form-urlencoded"
    assert call.form == {
        "name": "Acme",
        "email": "ana@example.com",
        "metadata[organization_id]": "org-1",
    }


def test_a_checkout_session_subscribes_the_customer_to_the_price(
    fake: FakeStripe, billing: StripeBilling
) -> None:
    customer = billing.create_customer(
        organization_id="org-1", name="Acme", email=None, idempotency_key="k-1"
    )

    session = billing.create_checkout_session(
        customer_id=customer,
        price_id="price_pro",
        organization_id="org-1",
        success_url="https://docg.example/ok",
        cancel_url="https://docg.example/no",
    )

    assert session.url == fake.sessions[session.id]["url"]
    form = fake.calls("POST", "/v1/checkout/sessions")[0].form
    assert (form["mode"], form["line_items[0][price]"], form["client_reference_id"]) == (
        "subscription",
        "price_pro",
        "org-1",
    )


def test_a_stripe_error_becomes_a_payment_provider_error_with_its_code(
    billing: StripeBilling,
) -> None:
    with pytest.raises(PaymentProviderError) as raised:
        billing.create_portal_session(customer_id="cus_nobody", return_url="https://x")

    error = raised.value
    assert (error.code, error.http_status, error.kind) == (
        "resource_missing",
        400,
        "InvalidRequestError",
    )


def test_a_wrong_key_is_an_authentication_error(fake: FakeStripe) -> None:
    client = StripeBilling("sk_test_wrong", transport=fake.transport, max_network_retries=0)
    with pytest.raises(PaymentProviderError) as raised:
        client.create_portal_session(customer_id="cus_x", return_url="https://x")
    assert (raised.value.kind, raised.value.http_status) == ("AuthenticationError", 401)


def test_a_signed_event_is_constructed(fake: FakeStripe) -> None:
    event = fake.event("invoice.paid", {"id": "in_1", "object": "invoice"})
    body, headers = fake.signed(event)

    assert construct_event(body, headers["Stripe-Signature"], fake.webhook_secret) == json.loads(
        body
    )


@pytest.mark.parametrize(
    ("secret", "age"),
    [("whsec_other", 0), (None, 301)],
    ids=["forged", "stale"],
)
def test_a_forged_or_stale_event_is_refused(fake: FakeStripe, secret: str | None, age: int) -> None:
    event = fake.event("invoice.paid", {"id": "in_1", "object": "invoice"})
    body, headers = fake.signed(event, secret=secret, timestamp=int(time.time()) - age)

    with pytest.raises(InvalidSignature):
        construct_event(body, headers["Stripe-Signature"], fake.webhook_secret, tolerance=300)
