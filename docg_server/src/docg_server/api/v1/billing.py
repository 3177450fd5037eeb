"""Billing with Stripe: the organization's subscription, Checkout, the customer portal and
Stripe's webhook.

- ``GET /billing/subscription`` (any member) — plan, limits, usage in the current period,
  the subscription's status and paid-period end, and whether billing is configured.
- ``POST /checkout/create-session`` ``{plan}`` (owners) — a Stripe Checkout page for the
  plan's price; answers ``{url}``. The organization's Stripe customer is created on the
  first call, under the organization's row lock and with an idempotency key derived from
  the organization id, so concurrent calls create one customer.
- ``POST /billing/portal`` (owners and admins) — a customer-portal page ``{url}``; 409
  ``no-billing-account`` before the organization has a Stripe customer.
- ``POST /stripe/webhook`` (no bearer token: Stripe signs it) — verified with
  ``STRIPE_WEBHOOK_SECRET``; a missing, wrong or stale signature answers 400
  ``invalid-signature`` and changes nothing. Each event is applied once
  (:mod:`docg_server.billing.events`).

Billing off (no ``STRIPE_SECRET_KEY``, or ``docg-stripe`` not installed): checkout, portal
and webhook answer 503 ``billing-not-configured``. A failed Stripe call answers 502
``payment-provider-error`` (Stripe's error code in ``provider_code``; never its body).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.concurrency import run_in_threadpool

from ...billing.events import Outcome, apply_event
from ...billing.gateway import BillingSetup, billing_setup
from ...billing.plans import Plan
from ...config import Settings
from ...errors import HTTPProblem, problem_responses
from ...inbound.body import read_body
from ...models import Organization, Role, User, Workflow
from ...usage import add_months, current_period_start
from ..deps import AppSettings, CurrentOrg, SessionDep, public_base_url, require_role

if TYPE_CHECKING:
    from docg_stripe import PaymentProviderError

__all__ = ["router"]

logger = logging.getLogger("docg.server.billing")

router = APIRouter(tags=["billing"])

Owner = Annotated[User, Depends(require_role(Role.OWNER))]
BillingAdmin = Annotated[User, Depends(require_role(Role.OWNER, Role.ADMIN))]

_KEEPS_PAID_PLAN = frozenset({"active", "trialing", "past_due"})


class PlanLimitsOut(BaseModel):
    """The organization's limits; ``null`` is unlimited."""

    users: int | None
    documents_per_month: int | None
    workflows: int | None


class UsageOut(BaseModel):
    """What the organization uses now; documents count from ``period_start``."""

    documents_used: int
    period_start: datetime
    period_end: datetime
    users: int
    workflows: int


class SubscriptionOut(BaseModel):
    """The organization's plan and its Stripe subscription."""

    plan: str
    limits: PlanLimitsOut
    usage: UsageOut
    status: str | None = Field(
        description="Stripe's subscription status (active, past_due, canceled...); "
        "null without a subscription."
    )
    current_period_end: datetime | None = Field(description="When the paid period ends.")
    has_billing_account: bool = Field(description="Whether a Stripe customer exists.")
    billing_configured: bool = Field(description="Whether this server takes payments.")
    purchasable_plans: list[str] = Field(description="Plans Checkout can sell.")


class CheckoutIn(BaseModel):
    """The plan to buy."""

    model_config = ConfigDict(extra="forbid")

    plan: Plan


class RedirectOut(BaseModel):
    """A Stripe-hosted page to send the user to."""

    url: str


class WebhookResult(BaseModel):
    """What the delivery did: ``applied``, ``duplicate`` (applied before) or ``ignored``."""

    received: bool = True
    outcome: Outcome


# -- helpers -------------------------------------------------------------------------------


def _setup(request: Request, settings: Settings) -> BillingSetup | None:
    return billing_setup(request.app.state, settings)


def _require_setup(request: Request, settings: Settings) -> BillingSetup:
    setup = _setup(request, settings)
    if setup is None:
        raise HTTPProblem(
            503,
            "this server does not take payments: set STRIPE_SECRET_KEY and install "
            "docg-server[billing]",
            slug="billing-not-configured",
            title="Billing is not configured",
        )
    return setup


def _provider_problem(exc: PaymentProviderError, doing: str) -> HTTPProblem:
    # Stripe's message is logged for operators (it never holds the key: the library masks
    # it) except for authentication errors; the client gets Stripe's code only.
    logger.warning(
        "stripe refused to %s: %s",
        doing,
        exc if exc.kind != "AuthenticationError" else "authentication failed",
        extra={"stripe_error": exc.kind, "stripe_code": exc.code, "stripe_status": exc.http_status},
    )
    return HTTPProblem(
        502,
        f"the payment provider could not {doing}; try again later",
        slug="payment-provider-error",
        title="Payment provider error",
        extensions={"provider_code": exc.code},
    )


def _lock_organization(session: Session, org: Organization) -> None:
    """Serialise billing changes of ``org`` and re-read it (the same no-op UPDATE as
    workflow creation: a row lock on PostgreSQL, the write lock on SQLite)."""
    session.execute(
        sa.update(Organization)
        .where(Organization.id == org.id)
        .values(updated_at=Organization.updated_at)
        .execution_options(synchronize_session=False)
    )
    session.refresh(org)


def _ensure_customer(session: Session, org: Organization, owner: User, setup: BillingSetup) -> str:
    """The organization's Stripe customer id, created (once) if it has none."""
    from docg_stripe import PaymentProviderError

    _lock_organization(session, org)
    if org.stripe_customer_id:
        session.rollback()  # nothing to write: release the lock
        return org.stripe_customer_id
    try:
        customer_id = setup.client.create_customer(
            organization_id=str(org.id),
            name=org.name,
            email=owner.email,
            idempotency_key=f"docg-customer-{org.id}",
        )
    except PaymentProviderError as exc:
        session.rollback()
        raise _provider_problem(exc, "create the billing account") from None
    org.stripe_customer_id = customer_id
    session.commit()
    return customer_id


def _count(session: Session, model: type[User] | type[Workflow], org: Organization) -> int:
    query = sa.select(sa.func.count()).select_from(model).where(model.organization_id == org.id)
    if model is User:
        query = query.where(User.is_active.is_(True))
    return int(session.scalar(query) or 0)


# -- routes --------------------------------------------------------------------------------


@router.get(
    "/billing/subscription", response_model=SubscriptionOut, responses=problem_responses(401)
)
def get_subscription(
    request: Request, session: SessionDep, org: CurrentOrg, settings: AppSettings
) -> SubscriptionOut:
    """The organization's plan, limits, usage and subscription (any member)."""
    setup = _setup(request, settings)
    now = datetime.now(UTC)
    start = current_period_start(org.period_start, now)
    # A period that has passed is reset lazily by the next document; show it as reset.
    used = org.documents_used if start == org.period_start else 0
    return SubscriptionOut(
        plan=org.plan,
        limits=PlanLimitsOut(
            users=org.users_limit,
            documents_per_month=org.documents_limit,
            workflows=org.workflows_limit,
        ),
        usage=UsageOut(
            documents_used=used,
            period_start=start,
            period_end=add_months(start, 1),
            users=_count(session, User, org),
            workflows=_count(session, Workflow, org),
        ),
        status=org.subscription_status,
        current_period_end=org.current_period_end,
        has_billing_account=org.stripe_customer_id is not None,
        billing_configured=setup is not None,
        purchasable_plans=setup.prices.plans if setup is not None else [],
    )


@router.post(
    "/checkout/create-session",
    response_model=RedirectOut,
    responses=problem_responses(401, 403, 409, 422, 502, 503),
)
def create_checkout_session(
    body: CheckoutIn,
    request: Request,
    session: SessionDep,
    org: CurrentOrg,
    owner: Owner,
    settings: AppSettings,
) -> RedirectOut:
    """A Stripe Checkout page subscribing the organization to ``plan`` (owners only).

    422 ``plan-not-purchasable`` for a plan with no Stripe price; 409
    ``subscription-exists`` while a subscription is paid (change plans in the portal).
    """
    from docg_stripe import PaymentProviderError

    setup = _require_setup(request, settings)
    price = setup.prices.price_for(body.plan.value)
    if price is None:
        raise HTTPProblem(
            422,
            f"the {body.plan.value} plan cannot be bought here"
            + ("" if body.plan is Plan.FREE else "; contact sales or choose another plan"),
            slug="plan-not-purchasable",
            title="This plan cannot be bought",
            extensions={"purchasable_plans": setup.prices.plans},
        )
    if org.stripe_subscription_id and org.subscription_status in _KEEPS_PAID_PLAN:
        raise HTTPProblem.conflict(
            f"the organization already has a {org.subscription_status} subscription to the "
            f"{org.plan} plan; change it in the billing portal (POST /api/v1/billing/portal)",
            slug="subscription-exists",
        )
    customer_id = _ensure_customer(session, org, owner, setup)
    base = public_base_url(request)
    try:
        checkout = setup.client.create_checkout_session(
            customer_id=customer_id,
            price_id=price,
            organization_id=str(org.id),
            success_url=settings.STRIPE_SUCCESS_URL
            or f"{base}/billing?checkout=success&session_id={{CHECKOUT_SESSION_ID}}",
            cancel_url=settings.STRIPE_CANCEL_URL or f"{base}/billing?checkout=cancel",
        )
    except PaymentProviderError as exc:
        raise _provider_problem(exc, "start the checkout") from None
    return RedirectOut(url=checkout.url)


@router.post(
    "/billing/portal",
    response_model=RedirectOut,
    responses=problem_responses(401, 403, 409, 502, 503),
)
def create_portal_session(
    request: Request, org: CurrentOrg, _admin: BillingAdmin, settings: AppSettings
) -> RedirectOut:
    """A Stripe customer-portal page: invoices, card, plan changes, cancelling (owners and
    admins). 409 ``no-billing-account`` before the first checkout."""
    from docg_stripe import PaymentProviderError

    setup = _require_setup(request, settings)
    if not org.stripe_customer_id:
        raise HTTPProblem.conflict(
            "the organization has no billing account yet; subscribe to a plan first "
            "(POST /api/v1/checkout/create-session)",
            slug="no-billing-account",
        )
    return_url = settings.STRIPE_PORTAL_RETURN_URL or f"{public_base_url(request)}/billing"
    try:
        url = setup.client.create_portal_session(
            customer_id=org.stripe_customer_id, return_url=return_url
        )
    except PaymentProviderError as exc:
        raise _provider_problem(exc, "open the billing portal") from None
    return RedirectOut(url=url)


@router.post(
    "/stripe/webhook",
    response_model=WebhookResult,
    responses=problem_responses(400, 413, 503),
)
async def receive_stripe_event(request: Request, settings: AppSettings) -> WebhookResult:
    """An event from Stripe, signed with the endpoint's secret (no bearer token).

    400 ``invalid-signature`` for a missing, wrong or stale ``Stripe-Signature``; events
    DocG does not act on, and events for no known organization, answer 200 ``ignored``.
    """
    from docg_stripe import InvalidSignature, construct_event, interpret

    setup = _setup(request, settings)
    if setup is None or not setup.webhook_secret:
        raise HTTPProblem(
            503,
            "this server does not take Stripe events: set STRIPE_SECRET_KEY and "
            "STRIPE_WEBHOOK_SECRET",
            slug="billing-not-configured",
            title="Billing is not configured",
        )
    body = await read_body(request, settings.WEBHOOK_MAX_BODY_BYTES)
    try:
        event: dict[str, Any] = construct_event(
            body,
            request.headers.get("stripe-signature"),
            setup.webhook_secret,
            tolerance=setup.tolerance_seconds,
        )
    except InvalidSignature as exc:
        raise HTTPProblem(
            400,
            f"the Stripe-Signature header does not verify: {exc}",
            slug="invalid-signature",
            title="Invalid signature",
        ) from None
    change = interpret(event, setup.prices)
    if change is None:
        return WebhookResult(outcome=Outcome.IGNORED)
    factory = request.app.state.session_factory
    outcome = await run_in_threadpool(apply_event, factory, event["id"], change)
    return WebhookResult(outcome=outcome)
