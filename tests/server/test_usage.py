"""The document quota (docg_server.usage): atomic under concurrency, billing-period reset,
unlimited plans, releasing a reservation — on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from docg_server.config import Settings
from docg_server.db import create_db_engine, session_factory
from docg_server.models import Organization
from docg_server.usage import (
    add_months,
    consume_document,
    current_period_start,
    release_document,
    release_reserved_document,
    reserve_document,
)


@pytest.fixture
def factory(settings: Settings) -> Iterator[sessionmaker[Session]]:
    engine = create_db_engine(settings.DATABASE_URL, pool_size=20, max_overflow=40)
    try:
        yield session_factory(engine)
    finally:
        engine.dispose()


def make_org(
    factory: sessionmaker[Session],
    *,
    limit: int | None,
    used: int = 0,
    period_start: datetime | None = None,
) -> uuid.UUID:
    with factory() as session:
        org = Organization(
            id=uuid.uuid4(),
            name="Acme",
            documents_limit=limit,
            documents_used=used,
            period_start=period_start or datetime.now(UTC),
        )
        session.add(org)
        session.flush()
        # An explicit None at INSERT takes the column default (the Free plan's limit).
        org.documents_limit = limit
        session.commit()
        return org.id


def usage(factory: sessionmaker[Session], org_id: uuid.UUID) -> tuple[int, datetime]:
    with factory() as session:
        row = session.execute(
            sa.select(Organization.documents_used, Organization.period_start).where(
                Organization.id == org_id
            )
        ).one()
        return row[0], row[1]


def test_fifty_concurrent_consumes_with_three_left_let_exactly_three_through(
    factory: sessionmaker[Session],
) -> None:
    org_id = make_org(factory, limit=10, used=7)
    start = threading.Barrier(50)
    results: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def consume() -> None:
        try:
            start.wait()
            counted = consume_document(factory, org_id)  # its own session and connection
            with lock:
                results.append(counted)
        except BaseException as exc:  # reported below: a thread's error must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=consume) for _ in range(50)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert results.count(True) == 3
    assert results.count(False) == 47
    assert usage(factory, org_id)[0] == 10


def test_a_used_up_quota_refuses_and_leaves_the_count_alone(
    factory: sessionmaker[Session],
) -> None:
    org_id = make_org(factory, limit=2, used=0)
    assert consume_document(factory, org_id) is True
    assert consume_document(factory, org_id) is True
    assert consume_document(factory, org_id) is False
    assert usage(factory, org_id)[0] == 2


def test_an_unlimited_plan_always_counts(factory: sessionmaker[Session]) -> None:
    org_id = make_org(factory, limit=None, used=1000)
    assert all(consume_document(factory, org_id) for _ in range(5))
    assert usage(factory, org_id)[0] == 1005


def test_an_unknown_organization_is_refused(factory: sessionmaker[Session]) -> None:
    assert consume_document(factory, uuid.uuid4()) is False


def test_a_passed_billing_period_restarts_usage_and_moves_the_period_forward(
    factory: sessionmaker[Session],
) -> None:
    org_id = make_org(
        factory, limit=10, used=10, period_start=datetime(2024, 1, 31, 12, tzinfo=UTC)
    )
    now = datetime(2024, 4, 15, 9, tzinfo=UTC)

    assert consume_document(factory, org_id, now=now) is True

    used, started = usage(factory, org_id)
    assert used == 1
    # 31 Jan → 29 Feb → 29 Mar: the last start not more than a month before 15 April.
    assert started == datetime(2024, 3, 29, 12, tzinfo=UTC)


def test_within_the_period_usage_is_kept(factory: sessionmaker[Session]) -> None:
    started = datetime(2024, 3, 1, tzinfo=UTC)
    org_id = make_org(factory, limit=10, used=10, period_start=started)
    assert consume_document(factory, org_id, now=datetime(2024, 3, 31, 23, tzinfo=UTC)) is False
    assert usage(factory, org_id) == (10, started)


def test_concurrent_consumes_across_a_period_boundary_reset_once(
    factory: sessionmaker[Session],
) -> None:
    org_id = make_org(factory, limit=5, used=5, period_start=datetime(2024, 1, 1, tzinfo=UTC))
    now = datetime(2024, 2, 10, tzinfo=UTC)
    start = threading.Barrier(20)
    results: list[bool] = []
    errors: list[BaseException] = []

    def consume() -> None:
        try:
            start.wait()
            results.append(consume_document(factory, org_id, now=now))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=consume) for _ in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert results.count(True) == 5
    assert usage(factory, org_id) == (5, datetime(2024, 2, 1, tzinfo=UTC))


def test_release_gives_one_back_and_never_goes_below_zero(
    factory: sessionmaker[Session],
) -> None:
    org_id = make_org(factory, limit=1, used=0)
    assert consume_document(factory, org_id) is True
    assert consume_document(factory, org_id) is False
    release_document(factory, org_id)
    assert usage(factory, org_id)[0] == 0
    release_document(factory, org_id)
    assert usage(factory, org_id)[0] == 0
    assert consume_document(factory, org_id) is True


def test_in_a_callers_session_nothing_is_committed_until_the_caller_commits(
    factory: sessionmaker[Session],
) -> None:
    org_id = make_org(factory, limit=3, used=0)
    with factory() as session:
        assert consume_document(session, org_id) is True
        session.rollback()
    assert usage(factory, org_id)[0] == 0
    with factory() as session:
        assert consume_document(session, org_id) is True
        release_document(session, org_id)
        assert consume_document(session, org_id) is True
        session.commit()
    assert usage(factory, org_id)[0] == 1


async def test_the_async_wrappers_reserve_and_release(factory: sessionmaker[Session]) -> None:
    org_id = make_org(factory, limit=1, used=0)
    assert await reserve_document(factory, str(org_id)) is True
    assert await reserve_document(factory, org_id) is False
    await release_reserved_document(factory, org_id)
    assert usage(factory, org_id)[0] == 0


@pytest.mark.parametrize(
    ("moment", "months", "expected"),
    [
        (datetime(2024, 1, 31, tzinfo=UTC), 1, datetime(2024, 2, 29, tzinfo=UTC)),
        (datetime(2023, 1, 31, tzinfo=UTC), 1, datetime(2023, 2, 28, tzinfo=UTC)),
        (datetime(2024, 11, 15, tzinfo=UTC), 3, datetime(2025, 2, 15, tzinfo=UTC)),
        (datetime(2024, 12, 1, tzinfo=UTC), 1, datetime(2025, 1, 1, tzinfo=UTC)),
    ],
)
def test_add_months_follows_the_calendar(moment: datetime, months: int, expected: datetime) -> None:
    assert add_months(moment, months) == expected


def test_the_current_period_starts_less_than_a_month_ago() -> None:
    start = datetime(2024, 1, 10, tzinfo=UTC)
    assert current_period_start(start, datetime(2024, 2, 9, tzinfo=UTC)) == start
    assert current_period_start(start, datetime(2024, 2, 10, tzinfo=UTC)) == datetime(
        2024, 2, 10, tzinfo=UTC
    )
    assert current_period_start(start, datetime(2025, 1, 9, tzinfo=UTC)) == datetime(
        2024, 12, 10, tzinfo=UTC
    )
