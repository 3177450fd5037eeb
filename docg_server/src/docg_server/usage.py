"""The monthly document quota: one atomic check-and-increment for every path that makes one.

:func:`consume_document` is a single conditional UPDATE::

    UPDATE organizations SET documents_used = documents_used + 1
    WHERE id = :org AND (documents_limit IS NULL OR documents_used < documents_limit)

and its row count is the answer, so concurrent callers — threads, processes, servers — can
never push ``documents_used`` past ``documents_limit`` (the database serialises the writes:
a row lock on PostgreSQL, the write lock on SQLite). No Python read-modify-write is involved.

The billing period is one calendar month from ``period_start``. When it has passed, the same
transaction first resets ``documents_used`` to 0 and moves ``period_start`` forward by whole
months, as a compare-and-swap on the ``period_start`` it read: of many concurrent callers
exactly one resets, and the increment that follows sees the reset (the increment's UPDATE
waits for the resetting transaction's row lock and re-reads the row).

:func:`release_document` gives one back (never below 0) when the generation it was reserved
for failed. The async :func:`reserve_document` / :func:`release_reserved_document` run the
same statements in a worker thread, for the engine's ``before_action`` hook and step observer.
"""

from __future__ import annotations

import asyncio
import calendar
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from .models import Organization

__all__ = [
    "DOCUMENT_ACTIONS",
    "add_months",
    "consume_document",
    "current_period_start",
    "release_document",
    "release_reserved_document",
    "reserve_document",
]

DOCUMENT_ACTIONS: frozenset[tuple[str, str]] = frozenset({("documents", "generate-document")})
"""The ``(app, action)`` pairs whose successful run counts as one document of the quota."""

SessionSource = Session | sessionmaker[Session]


def add_months(moment: datetime, months: int) -> datetime:
    """``moment`` plus whole calendar months; the day is clamped to the month's last day
    (31 January + 1 month = 28 or 29 February)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def current_period_start(period_start: datetime, now: datetime) -> datetime:
    """The start of the billing period holding ``now``: ``period_start`` moved forward by the
    fewest whole months such that ``now`` is less than one month after it."""
    start = period_start
    while add_months(start, 1) <= now:
        start = add_months(start, 1)
    return start


def _reset_if_period_passed(session: Session, org_id: uuid.UUID, now: datetime) -> None:
    """Start a new billing period when the current one has passed (compare-and-swap)."""
    started = session.scalar(sa.select(Organization.period_start).where(Organization.id == org_id))
    if started is None:
        return
    fresh = current_period_start(started, now)
    if fresh == started:
        return
    session.execute(
        sa.update(Organization)
        .where(Organization.id == org_id, Organization.period_start == started)
        .values(documents_used=0, period_start=fresh)
        .execution_options(synchronize_session=False)
    )


def _consume(session: Session, org_id: uuid.UUID, now: datetime) -> bool:
    _reset_if_period_passed(session, org_id, now)
    result = session.execute(
        sa.update(Organization)
        .where(
            Organization.id == org_id,
            sa.or_(
                Organization.documents_limit.is_(None),
                Organization.documents_used < Organization.documents_limit,
            ),
        )
        .values(documents_used=Organization.documents_used + 1)
        .execution_options(synchronize_session=False)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def _release(session: Session, org_id: uuid.UUID) -> None:
    session.execute(
        sa.update(Organization)
        .where(Organization.id == org_id, Organization.documents_used > 0)
        .values(documents_used=Organization.documents_used - 1)
        .execution_options(synchronize_session=False)
    )


def consume_document(
    source: SessionSource, organization_id: uuid.UUID | str, *, now: datetime | None = None
) -> bool:
    """Count one document against the organization's quota, if it has one left.

    :param source: a session factory — the statements run and commit in a session of their
        own — or a session, in whose transaction they run (the caller commits, and holds the
        organization's row until then).
    :param organization_id: the organization; an unknown one answers False.
    :param now: the current time (tests); defaults to the clock.
    :return: True if the document was counted, False if the quota is used up.
    """
    org_id = _as_uuid(organization_id)
    moment = now or datetime.now(UTC)
    if isinstance(source, Session):
        return _consume(source, org_id, moment)
    with source() as session:
        counted = _consume(session, org_id, moment)
        session.commit()
        return counted


def release_document(source: SessionSource, organization_id: uuid.UUID | str) -> None:
    """Give back one document counted by :func:`consume_document` whose generation failed.

    ``documents_used`` never goes below 0. Same ``source`` rules as :func:`consume_document`.
    """
    org_id = _as_uuid(organization_id)
    if isinstance(source, Session):
        _release(source, org_id)
        return
    with source() as session:
        _release(session, org_id)
        session.commit()


async def reserve_document(
    session_factory: sessionmaker[Session], organization_id: uuid.UUID | str
) -> bool:
    """:func:`consume_document` in a worker thread (never blocks the event loop).

    Call it before a document-producing step runs; False means the quota is used up.
    """
    return await asyncio.to_thread(consume_document, session_factory, organization_id)


async def release_reserved_document(
    session_factory: sessionmaker[Session], organization_id: uuid.UUID | str
) -> None:
    """:func:`release_document` in a worker thread: the reserved generation failed."""
    await asyncio.to_thread(release_document, session_factory, organization_id)


def _as_uuid(value: uuid.UUID | str) -> uuid.UUID:
    return value if isinstance(value, uuid.UUID) else uuid.UUID(str(value))
