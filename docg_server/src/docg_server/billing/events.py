"""Applying a verified Stripe event to the organization it concerns, exactly once.

:func:`apply_event` runs one transaction: it inserts the event's id into
``processed_events`` (provider ``stripe``) first — a redelivery, concurrent or later, fails
on the unique constraint and changes nothing — then locks the organization's row, changes
it and commits both together. A failure rolls back both, so Stripe's retry applies it.

Events for no known organization (an unknown customer or ``client_reference_id``) change
nothing and are not recorded; they are logged.
"""

from __future__ import annotations

import logging
import uuid
from enum import StrEnum
from typing import TYPE_CHECKING

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..models import Organization, ProcessedEvent

if TYPE_CHECKING:
    from docg_stripe import BillingEvent

__all__ = ["PROVIDER", "Outcome", "apply_event"]

PROVIDER = "stripe"
logger = logging.getLogger("docg.server.billing")


class Outcome(StrEnum):
    APPLIED = "applied"
    """The organization was updated (or found already up to date) and the event recorded."""
    DUPLICATE = "duplicate"
    """The event was applied before; nothing changed."""
    IGNORED = "ignored"
    """No known organization, or nothing DocG acts on; nothing changed."""


def apply_event(factory: sessionmaker[Session], event_id: str, change: BillingEvent) -> Outcome:
    """Apply ``change`` (the meaning of event ``event_id``) once; blocking (call it from a
    worker thread)."""
    with factory() as session:
        session.add(ProcessedEvent(provider=PROVIDER, event_id=event_id[:255]))
        try:
            session.flush()
        except IntegrityError:
            session.rollback()
            return Outcome.DUPLICATE
        org = _organization(session, change)
        if org is None:
            session.rollback()
            logger.warning(
                "stripe event %s concerns no organization; ignored",
                event_id,
                extra={"stripe_event": event_id, "stripe_event_kind": type(change).__name__},
            )
            return Outcome.IGNORED
        if not _change(org, change, event_id):
            session.rollback()
            return Outcome.IGNORED
        try:
            session.commit()
        except IntegrityError:  # a customer or subscription id another organization holds
            session.rollback()
            logger.error(
                "stripe event %s names a customer or subscription of another organization",
                event_id,
                extra={"stripe_event": event_id, "organization_id": str(org.id)},
            )
            return Outcome.IGNORED
        logger.info(
            "stripe event %s applied to organization %s",
            event_id,
            org.id,
            extra={"stripe_event": event_id, "organization_id": str(org.id), "plan": org.plan},
        )
        return Outcome.APPLIED


def _organization(session: Session, change: BillingEvent) -> Organization | None:
    from docg_stripe import CheckoutCompleted

    query = sa.select(Organization).with_for_update()
    if isinstance(change, CheckoutCompleted):
        try:
            org_id = uuid.UUID(change.organization_id or "")
        except ValueError:
            return None
        return session.scalar(query.where(Organization.id == org_id))
    if change.customer_id is None:
        return None
    return session.scalar(query.where(Organization.stripe_customer_id == change.customer_id))


def _change(org: Organization, change: BillingEvent, event_id: str) -> bool:
    """Change ``org`` as ``change`` says; False when the event must not touch it."""
    from docg_stripe import (
        PAID_STATUSES,
        CheckoutCompleted,
        InvoicePaid,
        PaymentFailed,
        SubscriptionChanged,
    )

    if isinstance(change, CheckoutCompleted):
        if org.stripe_customer_id not in (None, change.customer_id):
            logger.warning(
                "stripe event %s: checkout by another customer than the organization's; ignored",
                event_id,
                extra={"stripe_event": event_id, "organization_id": str(org.id)},
            )
            return False
        org.stripe_customer_id = change.customer_id
        if change.subscription_id:
            org.stripe_subscription_id = change.subscription_id
        return True
    if isinstance(change, SubscriptionChanged):
        current = org.stripe_subscription_id
        if current not in (None, change.subscription_id):
            # Another subscription than the organization's: only a paying one replaces it.
            if change.deleted or change.status not in PAID_STATUSES:
                return False
        elif current == change.subscription_id and org.subscription_status == "canceled":
            return False  # canceled is final in Stripe; a late 'updated' must not revive it
        org.stripe_subscription_id = change.subscription_id
        org.subscription_status = change.status
        org.current_period_end = change.current_period_end
        plan = change.effective_plan
        if plan is None:
            logger.warning(
                "stripe event %s: price %s buys no plan (set STRIPE_PRICE_*); plan unchanged",
                event_id,
                change.price_id,
                extra={"stripe_event": event_id, "organization_id": str(org.id)},
            )
        else:
            org.apply_plan(plan)
        return True
    if isinstance(change, InvoicePaid):
        if change.period_start is not None and change.period_start > org.period_start:
            org.documents_used = 0
            org.period_start = change.period_start
        return True
    failed: PaymentFailed = change
    current = org.stripe_subscription_id
    if current is not None and failed.subscription_id not in (None, current):
        return False  # an invoice of a subscription the organization no longer has
    org.subscription_status = "past_due"
    return True
