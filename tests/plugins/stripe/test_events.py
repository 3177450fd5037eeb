"""interpret(): what each Stripe event means for an organization, in the current payload
shapes and in those before API version 2025-03-31."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from fakes.stripe import FakeStripe

from docg_stripe import (
    CheckoutCompleted,
    InvoicePaid,
    PaymentFailed,
    PriceTable,
    SubscriptionChanged,
    interpret,
)

PRICES = PriceTable({"starter": "price_s", "pro": "price_p"})
FAKE = FakeStripe()


def at(seconds: int) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


def test_checkout_completed_names_the_organization_customer_and_subscription() -> None:
    session = FAKE.completed_checkout(
        organization_id="org-1", customer="cus_1", subscription="sub_1"
    )

    assert interpret(FAKE.event("checkout.session.completed", session), PRICES) == (
        CheckoutCompleted(organization_id="org-1", customer_id="cus_1", subscription_id="sub_1")
    )


def test_a_one_time_payment_checkout_is_ignored() -> None:
    session = {**FAKE.completed_checkout(organization_id="o", customer="c", subscription="s")}
    session["mode"] = "payment"

    assert interpret(FAKE.event("checkout.session.completed", session), PRICES) is None


@pytest.mark.parametrize("kind", ["created", "updated"])
def test_a_subscription_event_carries_plan_status_and_period_end(kind: str) -> None:
    sub = FAKE.subscription(
        customer="cus_1",
        price="price_p",
        subscription_id="sub_1",
        period_start=1_000,
        period_end=2_000,
    )

    change = interpret(FAKE.event(f"customer.subscription.{kind}", sub), PRICES)

    assert change == SubscriptionChanged(
        customer_id="cus_1",
        subscription_id="sub_1",
        status="active",
        price_id="price_p",
        plan="pro",
        current_period_end=at(2_000),
    )
    assert change.effective_plan == "pro"


def test_a_subscription_in_the_shape_before_2025_03_31_is_read_too() -> None:
    legacy: dict[str, Any] = {
        "id": "sub_1",
        "object": "subscription",
        "customer": {"id": "cus_1", "object": "customer"},
        "status": "past_due",
        "current_period_end": 3_000,
        "items": {"object": "list", "data": [{"id": "si_1", "price": {"id": "price_s"}}]},
    }

    change = interpret(FAKE.event("customer.subscription.updated", legacy), PRICES)

    assert isinstance(change, SubscriptionChanged)
    assert (change.customer_id, change.plan, change.current_period_end) == (
        "cus_1",
        "starter",
        at(3_000),
    )
    assert change.effective_plan == "starter"  # past_due keeps the plan while Stripe retries


@pytest.mark.parametrize("status", ["incomplete", "incomplete_expired", "unpaid", "paused"])
def test_a_subscription_that_does_not_pay_gets_the_free_plan(status: str) -> None:
    sub = FAKE.subscription(customer="cus_1", price="price_p", status=status)

    change = interpret(FAKE.event("customer.subscription.updated", sub), PRICES)

    assert isinstance(change, SubscriptionChanged)
    assert change.effective_plan == "free"


def test_a_deleted_subscription_is_canceled_and_free() -> None:
    sub = FAKE.subscription(customer="cus_1", price="price_p", status="canceled")

    change = interpret(FAKE.event("customer.subscription.deleted", sub), PRICES)

    assert isinstance(change, SubscriptionChanged)
    assert (change.deleted, change.status, change.effective_plan) == (True, "canceled", "free")


def test_an_unknown_price_leaves_the_plan_alone() -> None:
    sub = FAKE.subscription(customer="cus_1", price="price_elsewhere")

    change = interpret(FAKE.event("customer.subscription.created", sub), PRICES)

    assert isinstance(change, SubscriptionChanged)
    assert (change.plan, change.effective_plan) == (None, None)


def test_invoice_paid_starts_the_period_of_its_subscription_line_not_its_own() -> None:
    invoice = FAKE.invoice(
        customer="cus_1", subscription="sub_1", price="price_p", period_start=50_000
    )
    assert invoice["period_start"] != 50_000  # the invoice's own period looks back

    assert interpret(FAKE.event("invoice.paid", invoice), PRICES) == InvoicePaid(
        customer_id="cus_1", subscription_id="sub_1", period_start=at(50_000)
    )


def test_a_legacy_invoice_names_its_subscription_at_the_top_level() -> None:
    invoice: dict[str, Any] = {
        "id": "in_1",
        "object": "invoice",
        "customer": "cus_1",
        "subscription": "sub_1",
        "billing_reason": "subscription_cycle",
        "lines": {"data": [{"type": "subscription", "period": {"start": 7_000, "end": 9_000}}]},
    }

    assert interpret(FAKE.event("invoice.paid", invoice), PRICES) == InvoicePaid(
        customer_id="cus_1", subscription_id="sub_1", period_start=at(7_000)
    )


@pytest.mark.parametrize("reason", ["subscription_update", "manual", None])
def test_an_invoice_that_starts_no_period_resets_nothing(reason: str | None) -> None:
    invoice = FAKE.invoice(customer="cus_1", subscription="sub_1", price="price_p", period_start=1)
    invoice["billing_reason"] = reason

    change = interpret(FAKE.event("invoice.paid", invoice), PRICES)

    assert isinstance(change, InvoicePaid)
    assert change.period_start is None


def test_a_failed_payment_names_customer_and_subscription() -> None:
    invoice = FAKE.invoice(customer="cus_1", subscription="sub_1", price="price_p", period_start=1)

    assert interpret(FAKE.event("invoice.payment_failed", invoice), PRICES) == PaymentFailed(
        customer_id="cus_1", subscription_id="sub_1"
    )


@pytest.mark.parametrize(
    "event",
    [
        {"type": "charge.refunded", "data": {"object": {"id": "ch_1"}}},
        {"type": "customer.subscription.updated", "data": {"object": "not an object"}},
        {"type": "customer.subscription.updated", "data": {"object": {"id": "sub_1"}}},
        {"type": "invoice.paid"},
        {},
    ],
)
def test_other_or_malformed_events_mean_nothing(event: dict[str, Any]) -> None:
    assert interpret(event, PRICES) is None
