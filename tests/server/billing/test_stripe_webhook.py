"""POST /api/v1/stripe/webhook: events signed exactly as Stripe signs them — good, forged,
stale — each applied once however often (and however concurrently) it is delivered, and
each event type's effect on the organization, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fakes.stripe import FakeStripe
from fastapi import FastAPI
from server.apikit import Api, assert_problem, bearer
from server.billing.conftest import PRICES

from docg_server.billing import events as billing_events
from docg_server.models import Organization, ProcessedEvent

WEBHOOK = "/api/v1/stripe/webhook"
CUSTOMER = "cus_acme0001"


@pytest.fixture
async def headers(api: Api, app: FastAPI) -> dict[str, str]:
    """An organization whose Stripe customer is CUSTOMER (as after a first checkout)."""
    tokens = await api.signed_in()
    update(app, stripe_customer_id=CUSTOMER)
    return bearer(tokens["access_token"])


def organization(app: FastAPI) -> Organization:
    with app.state.session_factory() as session:
        org = session.scalars(sa.select(Organization)).one()
        session.expunge(org)
        return org


def update(app: FastAPI, **values: Any) -> None:
    with app.state.session_factory() as session:
        session.execute(sa.update(Organization).values(**values))
        session.commit()


def processed(app: FastAPI) -> list[str]:
    with app.state.session_factory() as session:
        return list(
            session.scalars(
                sa.select(ProcessedEvent.event_id).where(ProcessedEvent.provider == "stripe")
            )
        )


async def deliver(
    client: httpx.AsyncClient, fake: FakeStripe, event: dict[str, Any], **signing: Any
) -> httpx.Response:
    body, headers = fake.signed(event, **signing)
    return await client.post(WEBHOOK, content=body, headers=headers)


def subscription_event(
    fake: FakeStripe, kind: str, plan: str, status: str = "active", **fields: Any
) -> dict[str, Any]:
    sub = fake.subscription(customer=CUSTOMER, price=PRICES[plan], status=status, **fields)
    return fake.event(f"customer.subscription.{kind}", sub)


# -- signatures -------------------------------------------------------------------------------


async def test_a_signed_subscription_event_sets_plan_status_period_end_and_limits(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    period_end = int(time.time()) + 30 * 86400
    event = subscription_event(fake, "created", "pro", period_end=period_end)

    response = await deliver(client, fake, event)

    assert response.status_code == 200, response.text
    assert response.json() == {"received": True, "outcome": "applied"}
    summary = (await client.get("/api/v1/billing/subscription", headers=headers)).json()
    assert summary["plan"] == "pro"
    assert summary["limits"] == {"users": 10, "documents_per_month": 200, "workflows": 20}
    assert summary["status"] == "active"
    assert datetime.fromisoformat(summary["current_period_end"]) == datetime.fromtimestamp(
        period_end, UTC
    )
    assert organization(app).stripe_subscription_id == event["data"]["object"]["id"]
    assert processed(app) == [event["id"]]


@pytest.mark.parametrize(
    "signing",
    [
        pytest.param({"secret": "whsec_someone_else"}, id="forged"),
        pytest.param({"timestamp": int(time.time()) - 301}, id="stale"),
    ],
)
async def test_a_forged_or_stale_signature_is_a_400_and_changes_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake: FakeStripe,
    headers: dict[str, str],
    signing: dict[str, Any],
) -> None:
    event = subscription_event(fake, "created", "team")

    response = await deliver(client, fake, event, **signing)

    assert_problem(response, 400, "invalid-signature")
    assert fake.webhook_secret not in response.text
    assert organization(app).plan == "free"
    assert processed(app) == []


async def test_a_body_changed_after_signing_is_a_400(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    body, signed_headers = fake.signed(subscription_event(fake, "created", "starter"))
    tampered = body.replace(PRICES["starter"].encode(), PRICES["team"].encode())

    response = await client.post(WEBHOOK, content=tampered, headers=signed_headers)

    assert_problem(response, 400, "invalid-signature")
    assert organization(app).plan == "free"


@pytest.mark.parametrize(
    "signature",
    [None, "", "t=abc,v1=00", "v1=" + "0" * 64, "t=1700000000", "garbage"],
)
async def test_a_missing_or_malformed_signature_header_is_a_400(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, signature: str | None
) -> None:
    body, _ = fake.signed(subscription_event(fake, "created", "pro"))
    extra = {} if signature is None else {"Stripe-Signature": signature}

    response = await client.post(
        WEBHOOK, content=body, headers={"Content-Type": "application/json", **extra}
    )

    assert_problem(response, 400, "invalid-signature")


async def test_a_signed_body_that_is_not_an_event_is_a_400(
    client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    body, headers = fake.signed(b"not json at all")

    assert_problem(
        await client.post(WEBHOOK, content=body, headers=headers), 400, "invalid-signature"
    )


async def test_the_webhook_needs_no_bearer_token_and_ignores_one(
    client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    body, signed = fake.signed(
        fake.event("customer.created", {"id": CUSTOMER, "object": "customer"})
    )

    response = await client.post(
        WEBHOOK, content=body, headers={**signed, "Authorization": "Bearer not-a-token"}
    )

    assert response.status_code == 200, response.text


# -- once, however often it arrives -----------------------------------------------------------


async def test_a_redelivered_event_is_applied_once_and_never_undoes_later_ones(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    sub = fake.subscription(customer=CUSTOMER, price=PRICES["pro"])
    to_pro = fake.event("customer.subscription.updated", sub)
    upgraded = {
        **sub,
        "items": {
            **sub["items"],
            "data": [
                {**sub["items"]["data"][0], "price": {"id": PRICES["team"], "object": "price"}}
            ],
        },
    }
    to_team = fake.event("customer.subscription.updated", upgraded)

    first = await deliver(client, fake, to_pro)
    await deliver(client, fake, to_team)
    again = await deliver(client, fake, to_pro)

    assert first.json()["outcome"] == "applied"
    assert again.status_code == 200
    assert again.json()["outcome"] == "duplicate"
    assert organization(app).plan == "team"
    assert sorted(processed(app)) == sorted([to_pro["id"], to_team["id"]])


async def test_ten_concurrent_deliveries_of_one_event_apply_it_once(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    event = subscription_event(fake, "created", "starter")
    body, signed = fake.signed(event)

    responses = await asyncio.gather(
        *(client.post(WEBHOOK, content=body, headers=signed) for _ in range(10))
    )

    assert [r.status_code for r in responses] == [200] * 10, [r.text for r in responses]
    outcomes = sorted(r.json()["outcome"] for r in responses)
    assert outcomes == ["applied"] + ["duplicate"] * 9
    assert processed(app) == [event["id"]]
    assert organization(app).plan == "starter"


async def test_a_failure_while_applying_leaves_neither_the_change_nor_the_event_record(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake: FakeStripe,
    headers: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    event = subscription_event(fake, "created", "pro")
    real_change = billing_events._change

    def change_then_fail(org: Organization, change: Any, event_id: str) -> bool:
        real_change(org, change, event_id)
        raise RuntimeError("the database went away mid-change")

    monkeypatch.setattr(billing_events, "_change", change_then_fail)
    failed = await deliver(client, fake, event)
    monkeypatch.undo()

    assert_problem(failed, 500, "internal-error")
    assert organization(app).plan == "free"
    assert processed(app) == []
    retried = await deliver(client, fake, event)  # Stripe retries a failed delivery
    assert retried.json()["outcome"] == "applied"
    assert organization(app).plan == "pro"


# -- what each event does ---------------------------------------------------------------------


async def test_checkout_completed_links_the_customer_and_subscription_to_the_organization(
    api: Api, app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe
) -> None:
    await api.signed_in()
    org_id = str(organization(app).id)
    session = fake.completed_checkout(
        organization_id=org_id, customer="cus_new0002", subscription="sub_new0002"
    )

    response = await deliver(client, fake, fake.event("checkout.session.completed", session))

    assert response.json()["outcome"] == "applied"
    org = organization(app)
    assert (org.stripe_customer_id, org.stripe_subscription_id) == ("cus_new0002", "sub_new0002")
    assert org.plan == "free"  # the subscription events set the plan


async def test_checkout_completed_for_an_unknown_organization_changes_nothing(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    session = fake.completed_checkout(
        organization_id="not-an-organization", customer="cus_x", subscription="sub_x"
    )

    response = await deliver(client, fake, fake.event("checkout.session.completed", session))

    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    assert organization(app).stripe_subscription_id is None
    assert processed(app) == []


async def test_subscription_updated_changes_the_plan_and_its_limits_apply(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    document = {"name": "flow", "nodes": []}
    for _ in range(5):  # the free plan's five workflows
        created = await client.post("/api/v1/workflows", json=document, headers=headers)
        assert created.status_code == 201, created.text
    assert_problem(
        await client.post("/api/v1/workflows", json=document, headers=headers),
        403,
        "plan-limit-reached",
    )

    await deliver(client, fake, subscription_event(fake, "updated", "pro"))

    assert (
        await client.post("/api/v1/workflows", json=document, headers=headers)
    ).status_code == 201
    me = (await client.get("/api/v1/organizations/me", headers=headers)).json()
    assert (me["plan"], me["workflows_limit"], me["documents_limit"]) == ("pro", 20, 200)


async def test_subscription_deleted_returns_the_organization_to_the_free_plan(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    sub = fake.subscription(customer=CUSTOMER, price=PRICES["team"])
    await deliver(client, fake, fake.event("customer.subscription.created", sub))
    assert organization(app).plan == "team"

    ended = {**sub, "status": "canceled", "ended_at": int(time.time())}
    response = await deliver(client, fake, fake.event("customer.subscription.deleted", ended))
    late_update = await deliver(client, fake, fake.event("customer.subscription.updated", sub))

    assert response.json()["outcome"] == "applied"
    assert late_update.json()["outcome"] == "ignored"  # canceled is final
    org = organization(app)
    assert (org.plan, org.subscription_status) == ("free", "canceled")
    assert (org.users_limit, org.documents_limit, org.workflows_limit) == (1, 10, 5)


async def test_an_unpaid_subscription_falls_back_to_the_free_limits(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    await deliver(client, fake, subscription_event(fake, "updated", "pro", status="unpaid"))

    org = organization(app)
    assert (org.plan, org.subscription_status, org.documents_limit) == ("free", "unpaid", 10)


async def test_a_price_no_plan_is_sold_for_records_the_status_but_keeps_the_plan(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    update(app)
    sub = fake.subscription(customer=CUSTOMER, price="price_legacy_plan", status="trialing")

    response = await deliver(client, fake, fake.event("customer.subscription.created", sub))

    assert response.json()["outcome"] == "applied"
    org = organization(app)
    assert (org.plan, org.subscription_status) == ("free", "trialing")


async def test_invoice_paid_starts_a_new_usage_period_at_the_paid_period_start(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    sub = fake.subscription(customer=CUSTOMER, price=PRICES["pro"])
    await deliver(client, fake, fake.event("customer.subscription.created", sub))
    update(app, documents_used=37)
    new_period = int(time.time()) + 60

    invoice = fake.invoice(
        customer=CUSTOMER, subscription=sub["id"], price=PRICES["pro"], period_start=new_period
    )
    response = await deliver(client, fake, fake.event("invoice.paid", invoice))

    assert response.json()["outcome"] == "applied"
    usage = (await client.get("/api/v1/billing/subscription", headers=headers)).json()["usage"]
    assert usage["documents_used"] == 0
    assert datetime.fromisoformat(usage["period_start"]) == datetime.fromtimestamp(new_period, UTC)


async def test_an_invoice_for_an_earlier_period_does_not_reset_usage(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    update(app, documents_used=4)
    earlier = int((datetime.now(UTC) - timedelta(days=40)).timestamp())
    invoice = fake.invoice(
        customer=CUSTOMER, subscription="sub_old", price=PRICES["pro"], period_start=earlier
    )

    await deliver(client, fake, fake.event("invoice.paid", invoice))

    assert organization(app).documents_used == 4


async def test_a_proration_invoice_does_not_start_a_period(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    update(app, documents_used=4)
    invoice = fake.invoice(
        customer=CUSTOMER,
        subscription="sub_x",
        price=PRICES["team"],
        period_start=int(time.time()) + 60,
        billing_reason="subscription_update",
    )

    await deliver(client, fake, fake.event("invoice.paid", invoice))

    assert organization(app).documents_used == 4


async def test_invoice_payment_failed_records_past_due_and_keeps_the_plan(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    sub = fake.subscription(customer=CUSTOMER, price=PRICES["pro"])
    await deliver(client, fake, fake.event("customer.subscription.created", sub))
    invoice = fake.invoice(
        customer=CUSTOMER,
        subscription=sub["id"],
        price=PRICES["pro"],
        period_start=int(time.time()),
        status="open",
    )

    response = await deliver(client, fake, fake.event("invoice.payment_failed", invoice))

    assert response.json()["outcome"] == "applied"
    summary = (await client.get("/api/v1/billing/subscription", headers=headers)).json()
    assert (summary["status"], summary["plan"]) == ("past_due", "pro")


async def test_an_event_type_docg_does_not_use_is_acknowledged_and_ignored(
    app: FastAPI, client: httpx.AsyncClient, fake: FakeStripe, headers: dict[str, str]
) -> None:
    event = fake.event("charge.refunded", {"id": "ch_1", "object": "charge", "customer": CUSTOMER})

    response = await deliver(client, fake, event)

    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    assert processed(app) == []


async def test_an_event_for_an_unknown_customer_is_acknowledged_and_changes_nothing(
    app: FastAPI,
    client: httpx.AsyncClient,
    fake: FakeStripe,
    headers: dict[str, str],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sub = fake.subscription(customer="cus_stranger", price=PRICES["team"])
    event = fake.event("customer.subscription.created", sub)

    response = await deliver(client, fake, event)

    assert response.status_code == 200
    assert response.json()["outcome"] == "ignored"
    org = organization(app)
    assert (org.plan, org.subscription_status) == ("free", None)
    assert processed(app) == []
    assert any(event["id"] in record.getMessage() for record in caplog.records)
