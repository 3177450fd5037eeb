"""The ExecutionStore contract, run against every store.

``store`` is an InMemoryStore, a SQLStore on a temporary SQLite file, and a SQLStore on
PostgreSQL (``DOCG_TEST_DATABASE_URL``; skipped locally without it, a failure in CI). Tests
that only make sense for a database shared between processes use ``sql_url`` instead.
"""

from __future__ import annotations

import asyncio
import os
import sys
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from support.requirements import missing

from docg_core.errors import ExecutionError, ExecutionNotFound
from docg_core.records import ExecutionRecord, StepRecord, WaitRecord
from docg_core.sqlstore import SQLiteStore, SQLStore, metadata
from docg_core.store import ExecutionStore, InMemoryStore

SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
ALL_BACKENDS = ["memory", *SQL_BACKENDS]

SUBPROCESS_TIMEOUT = 60

T0 = datetime(2026, 3, 1, 12, 0, 0, 123456, tzinfo=UTC)


def _database_url(backend: str, tmp_path: Path) -> str:
    """A fresh database for one test: a new SQLite file, or PostgreSQL without our tables."""
    if backend == "sqlite":
        return f"sqlite:///{tmp_path / 'docg.db'}"
    url = os.environ.get("DOCG_TEST_DATABASE_URL")
    if not url:  # the ``postgres`` marker normally skips (or fails, in CI) before this
        missing("DOCG_TEST_DATABASE_URL is not set")
    parsed = make_url(url)
    if parsed.drivername == "postgresql":
        parsed = parsed.set(drivername="postgresql+psycopg")
    engine = sa.create_engine(parsed)
    try:
        with engine.begin() as conn:
            metadata.drop_all(conn)
    finally:
        engine.dispose()
    return url


@pytest.fixture(params=ALL_BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None for the in-memory store, else a clean database URL."""
    backend: str = request.param
    return None if backend == "memory" else _database_url(backend, tmp_path)


@pytest.fixture(params=SQL_BACKENDS)
def sql_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return _database_url(request.param, tmp_path)


@pytest.fixture
async def store(backend_url: str | None) -> AsyncIterator[ExecutionStore]:
    created: ExecutionStore = InMemoryStore() if backend_url is None else SQLStore(backend_url)
    try:
        yield created
    finally:
        await created.close()


def make_execution(execution_id: str, **fields: Any) -> ExecutionRecord:
    fields.setdefault("flow_id", "flow-1")
    fields.setdefault("started_at", T0)
    return ExecutionRecord(id=execution_id, **fields)


def waiting_step(key: str, *, resume_at: datetime | None = None) -> StepRecord:
    wait = WaitRecord(reason="approval", resume_token=f"token-{key}", resume_at=resume_at)
    return StepRecord(key=key, node_id=key, status="waiting", wait=wait)


def waiting_execution(execution_id: str, step_key: str = "approve") -> ExecutionRecord:
    return make_execution(execution_id, status="waiting", steps=[waiting_step(step_key)])


async def run_python(code: str, *args: str) -> str:
    """Run ``code`` in a new interpreter (another process, as the CLI would be); its stdout."""
    proc = await asyncio.create_subprocess_exec(
        sys.executable,
        "-c",
        code,
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(proc.communicate(), SUBPROCESS_TIMEOUT)
    assert proc.returncode == 0, err.decode()
    return out.decode()


# -- executions -------------------------------------------------------------------------


async def test_created_execution_reads_back_equal(store: ExecutionStore) -> None:
    brasilia = timezone(timedelta(hours=-3))
    execution = make_execution(
        "exec-1",
        flow_name="Contrato de locação — São Paulo ✓",
        workflow={"nodes": [{"id": "gerar", "params": {"título": "Olá 📄", "n": [1, 2.5, None]}}]},
        status="waiting",
        trigger_data=[{"cliente": {"nome": "João", "tags": ["ação", True, 0]}}, 2**53 + 1],
        test_run=True,
        until_step="assinar",
        mock_data={"crm": {"deal": {"id": 42}}},
        error=None,
        completed_at=None,
        steps=[
            StepRecord(
                key="gerar",
                node_id="gerar",
                app="documents",
                action="generate",
                status="success",
                data_in={"template": "contrato.docx", "vars": {"nome": "Zoë", "itens": [1, 2]}},
                data_out={"url": "file:///tmp/contrato.pdf", "páginas": 3},
                attempt=2,
                started_at=datetime(2026, 3, 1, 9, 0, 0, 5, tzinfo=brasilia),
                completed_at=T0 + timedelta(seconds=1),
            ),
            StepRecord(
                key="loop[2]",
                node_id="loop",
                status="failed",
                error="HTTP 404 em /contatos",
                error_code="http_404",
            ),
            StepRecord(
                key="assinar",
                node_id="assinar",
                status="waiting",
                wait=WaitRecord(
                    reason="signature",
                    resume_token="tok-ção",
                    resume_at=T0 + timedelta(hours=1),
                    expires_at=T0 + timedelta(days=7),
                ),
            ),
        ],
    )

    await store.create_execution(execution)

    assert await store.get_execution("exec-1") == execution


async def test_get_unknown_execution_raises_not_found(store: ExecutionStore) -> None:
    with pytest.raises(ExecutionNotFound, match="nope"):
        await store.get_execution("nope")


async def test_update_execution_changes_its_fields_but_not_its_steps(
    store: ExecutionStore,
) -> None:
    steps = [StepRecord(key="a", node_id="a", status="success")]
    await store.create_execution(make_execution("exec-1", steps=steps))
    finished = make_execution(
        "exec-1", status="failed", error="boom", completed_at=T0 + timedelta(minutes=5)
    )

    await store.update_execution(finished)

    got = await store.get_execution("exec-1")
    assert (got.status, got.error, got.completed_at) == ("failed", "boom", finished.completed_at)
    assert got.steps == steps


async def test_update_unknown_execution_raises_not_found(store: ExecutionStore) -> None:
    with pytest.raises(ExecutionNotFound):
        await store.update_execution(make_execution("nope"))


async def test_save_step_upserts_and_keeps_first_saved_order(store: ExecutionStore) -> None:
    await store.create_execution(make_execution("exec-1"))
    for key in ("a", "b", "c"):
        await store.save_step("exec-1", StepRecord(key=key, node_id=key, status="running"))

    done = StepRecord(key="a", node_id="a", status="success", data_out={"ok": True})
    await store.save_step("exec-1", done)

    got = await store.get_execution("exec-1")
    assert [s.key for s in got.steps] == ["a", "b", "c"]
    assert got.steps[0] == done


async def test_saved_steps_follow_the_steps_created_with_the_execution(
    store: ExecutionStore,
) -> None:
    first = [StepRecord(key=k, node_id=k) for k in ("trigger", "x")]
    await store.create_execution(make_execution("exec-1", steps=first))

    await store.save_step("exec-1", StepRecord(key="y", node_id="y"))
    await store.save_step("exec-1", StepRecord(key="trigger", node_id="trigger", status="success"))

    got = await store.get_execution("exec-1")
    assert [(s.key, s.status) for s in got.steps] == [
        ("trigger", "success"),
        ("x", "pending"),
        ("y", "pending"),
    ]


async def test_list_executions_newest_first_with_their_steps(store: ExecutionStore) -> None:
    for i in range(3):
        steps = [StepRecord(key=f"s{i}", node_id=f"s{i}")]
        await store.create_execution(
            make_execution(f"exec-{i}", started_at=T0 + timedelta(seconds=i), steps=steps)
        )

    listed = await store.list_executions()

    assert [e.id for e in listed] == ["exec-2", "exec-1", "exec-0"]
    assert [[s.key for s in e.steps] for e in listed] == [["s2"], ["s1"], ["s0"]]


async def test_list_executions_filters_by_flow_and_status(store: ExecutionStore) -> None:
    for execution_id, flow_id, status in [
        ("a", "f1", "completed"),
        ("b", "f2", "completed"),
        ("c", "f1", "failed"),
        ("d", None, "completed"),
    ]:
        await store.create_execution(make_execution(execution_id, flow_id=flow_id, status=status))

    async def ids(**filters: Any) -> list[str]:
        return [e.id for e in await store.list_executions(**filters)]

    assert await ids(flow_id="f1") == ["c", "a"]
    assert await ids(status="completed") == ["d", "b", "a"]
    assert await ids(flow_id="f1", status="completed") == ["a"]
    assert await ids(flow_id="f3") == []


async def test_list_executions_returns_at_most_limit_newest(store: ExecutionStore) -> None:
    for i in range(5):
        await store.create_execution(make_execution(f"exec-{i}"))

    listed = await store.list_executions(limit=2)

    assert [e.id for e in listed] == ["exec-4", "exec-3"]


# -- claims -------------------------------------------------------------------------------


async def test_claim_waiting_step_succeeds_once(store: ExecutionStore) -> None:
    await store.create_execution(waiting_execution("exec-1"))

    assert await store.claim_waiting_step("exec-1", "approve") is True
    assert await store.claim_waiting_step("exec-1", "approve") is False

    got = await store.get_execution("exec-1")
    assert (got.status, got.steps[0].status) == ("running", "running")


async def test_claim_fails_when_step_is_not_waiting(store: ExecutionStore) -> None:
    steps = [StepRecord(key="approve", node_id="approve", status="success")]
    await store.create_execution(make_execution("exec-1", status="waiting", steps=steps))

    assert await store.claim_waiting_step("exec-1", "approve") is False
    assert (await store.get_execution("exec-1")).status == "waiting"


async def test_claim_fails_when_execution_is_not_waiting(store: ExecutionStore) -> None:
    execution = waiting_execution("exec-1").model_copy(update={"status": "cancelled"})
    await store.create_execution(execution)

    assert await store.claim_waiting_step("exec-1", "approve") is False
    assert (await store.get_execution("exec-1")).steps[0].status == "waiting"


async def test_claim_fails_for_unknown_execution_or_step(store: ExecutionStore) -> None:
    await store.create_execution(waiting_execution("exec-1"))

    assert await store.claim_waiting_step("nope", "approve") is False
    assert await store.claim_waiting_step("exec-1", "nope") is False
    assert (await store.get_execution("exec-1")).status == "waiting"


async def test_concurrent_claims_have_exactly_one_winner(store: ExecutionStore) -> None:
    await store.create_execution(waiting_execution("exec-1"))

    results = await asyncio.gather(
        *(store.claim_waiting_step("exec-1", "approve") for _ in range(20))
    )

    assert results.count(True) == 1


async def test_claims_through_several_stores_have_exactly_one_winner(sql_url: str) -> None:
    # Each SQLStore has its own threads and connections, so these claims really race.
    stores = [SQLStore(sql_url) for _ in range(5)]
    try:
        await stores[0].create_execution(waiting_execution("exec-1"))
        await asyncio.gather(*(s.list_executions(limit=1) for s in stores))  # connect first

        results = await asyncio.gather(
            *(stores[i % 5].claim_waiting_step("exec-1", "approve") for i in range(20))
        )
    finally:
        await asyncio.gather(*(s.close() for s in stores))

    assert results.count(True) == 1


CLAIM_IN_CHILD = """
import asyncio, sys
from docg_core.sqlstore import SQLStore

async def main():
    store = SQLStore(sys.argv[1])
    try:
        await store.get_execution("exec-1")  # connected and ready
        print("ready", flush=True)
        sys.stdin.readline()
        print(await store.claim_waiting_step("exec-1", "approve"), flush=True)
    finally:
        await store.close()

asyncio.run(main())
"""


async def test_claims_from_several_processes_have_exactly_one_winner(sql_url: str) -> None:
    async with SQLStore(sql_url) as store:
        await store.create_execution(waiting_execution("exec-1"))
    children = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            CLAIM_IN_CHILD,
            sql_url,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(4)
    ]
    outputs = []
    try:
        for child in children:  # all connected before any claims
            assert child.stdout is not None
            ready = await asyncio.wait_for(child.stdout.readline(), SUBPROCESS_TIMEOUT)
            assert ready == b"ready\n"
        for child in children:
            assert child.stdin is not None
            child.stdin.write(b"go\n")
        for child in children:
            out, err = await asyncio.wait_for(child.communicate(), SUBPROCESS_TIMEOUT)
            assert child.returncode == 0, err.decode()
            outputs.append(out.decode().strip())
    finally:
        for child in children:
            if child.returncode is None:
                child.kill()
                await child.wait()

    assert sorted(outputs) == ["False", "False", "False", "True"]


# -- due waits, dedupe ------------------------------------------------------------------


async def test_due_waits_lists_waiting_steps_of_waiting_executions_due_by_now(
    store: ExecutionStore,
) -> None:
    now = T0 + timedelta(hours=1)
    past, future = now - timedelta(minutes=1), now + timedelta(minutes=1)
    not_waiting = StepRecord(
        key="done",
        node_id="done",
        status="success",
        wait=WaitRecord(reason="delay", resume_at=past),
    )
    steps = [
        waiting_step("due", resume_at=past),
        waiting_step("due-now", resume_at=now),
        waiting_step("later", resume_at=future),
        waiting_step("no-time"),
        not_waiting,
    ]
    await store.create_execution(make_execution("waiting", status="waiting", steps=steps))
    running_steps = [waiting_step("due", resume_at=past)]
    await store.create_execution(make_execution("running", status="running", steps=running_steps))

    due = await store.due_waits(now)

    assert sorted(due) == [("waiting", "due"), ("waiting", "due-now")]


async def test_dedupe_key_is_claimed_only_once_per_scope(store: ExecutionStore) -> None:
    assert await store.claim_dedupe_key("flow-1", "item-9") is True
    assert await store.claim_dedupe_key("flow-1", "item-9") is False
    assert await store.claim_dedupe_key("flow-2", "item-9") is True


async def test_concurrent_dedupe_claims_have_exactly_one_winner(store: ExecutionStore) -> None:
    results = await asyncio.gather(*(store.claim_dedupe_key("flow-1", "k") for _ in range(20)))

    assert results.count(True) == 1


# -- datastore --------------------------------------------------------------------------


async def test_datastore_get_of_missing_key_is_none(store: ExecutionStore) -> None:
    assert await store.datastore_get("flow-1", "missing") is None


@pytest.mark.parametrize(
    "value",
    [
        {"cursor": "abc", "seen": [1, 2, 3], "nested": {"ação": None, "ok": True}},
        ["a", 1, 2.5, False, None],
        "São Paulo 📄",
        42,
        0.1,
        True,
    ],
    ids=["object", "array", "string", "int", "float", "bool"],
)
async def test_datastore_set_then_get_returns_the_json_value(
    store: ExecutionStore, value: Any
) -> None:
    await store.datastore_set("flow-1", "state", value)

    assert await store.datastore_get("flow-1", "state") == value


async def test_datastore_set_overwrites(store: ExecutionStore) -> None:
    await store.datastore_set("flow-1", "cursor", {"page": 1})
    await store.datastore_set("flow-1", "cursor", {"page": 2})

    assert await store.datastore_get("flow-1", "cursor") == {"page": 2}


async def test_datastore_delete_removes_the_key_and_ignores_missing(
    store: ExecutionStore,
) -> None:
    await store.datastore_set("flow-1", "cursor", 1)

    await store.datastore_delete("flow-1", "cursor")
    await store.datastore_delete("flow-1", "never-set")

    assert await store.datastore_get("flow-1", "cursor") is None


async def test_datastore_scopes_are_separate(store: ExecutionStore) -> None:
    await store.datastore_set("flow-1", "cursor", "one")
    await store.datastore_set("flow-2", "cursor", "two")
    await store.datastore_delete("flow-2", "cursor")

    assert await store.datastore_get("flow-1", "cursor") == "one"


# -- SQL stores only ----------------------------------------------------------------------

WRITE_IN_CHILD = """
import asyncio, sys
from docg_core.records import ExecutionRecord, StepRecord
from docg_core.sqlstore import SQLStore

async def main():
    async with SQLStore(sys.argv[1]) as store:
        steps = [StepRecord(key="gerar", node_id="gerar", status="success", data_out={"n": 1})]
        await store.create_execution(ExecutionRecord(id="from-child", status="completed", steps=steps))
        await store.datastore_set("flow-1", "cursor", {"página": 7})

asyncio.run(main())
"""


async def test_another_process_sees_what_a_store_wrote(sql_url: str) -> None:
    async with SQLStore(sql_url) as reader:
        assert await reader.list_executions() == []  # tables exist, connection open

        await run_python(WRITE_IN_CHILD, sql_url)

        execution = await reader.get_execution("from-child")
        assert execution.status == "completed"
        assert execution.steps[0].data_out == {"n": 1}
        assert await reader.datastore_get("flow-1", "cursor") == {"página": 7}


async def test_sqlite_store_takes_a_file_path(tmp_path: Path) -> None:
    path = tmp_path / "docg.db"
    async with SQLiteStore(path=path) as first:
        await first.create_execution(make_execution("exec-1"))
    async with SQLiteStore(path=str(path)) as second:
        assert (await second.get_execution("exec-1")).id == "exec-1"


async def test_create_execution_with_a_taken_id_raises(sql_url: str) -> None:
    async with SQLStore(sql_url) as store:
        await store.create_execution(make_execution("exec-1"))

        with pytest.raises(ExecutionError, match="exec-1"):
            await store.create_execution(make_execution("exec-1", status="failed"))

        assert (await store.get_execution("exec-1")).status == "running"


async def test_save_step_of_unknown_execution_raises_not_found(sql_url: str) -> None:
    async with SQLStore(sql_url) as store:
        with pytest.raises(ExecutionNotFound, match="nope"):
            await store.save_step("nope", StepRecord(key="a", node_id="a"))


async def test_naive_datetimes_are_read_back_as_utc(sql_url: str) -> None:
    async with SQLStore(sql_url) as store:
        naive = datetime(2026, 3, 1, 12, 0, 0)  # naive on purpose
        await store.create_execution(make_execution("exec-1", started_at=naive))

        started_at = (await store.get_execution("exec-1")).started_at

        assert started_at == naive.replace(tzinfo=UTC)
        assert started_at.tzinfo is UTC


def _terminate_backends(url: str, application_name: str) -> int:
    engine = sa.create_engine(make_url(url).set(drivername="postgresql+psycopg"))
    try:
        with engine.connect() as conn:
            killed = conn.execute(
                sa.text(
                    "select count(pg_terminate_backend(pid)) from pg_stat_activity"
                    " where application_name = :name"
                ),
                {"name": application_name},
            )
            return int(killed.scalar_one())
    finally:
        engine.dispose()


@pytest.mark.postgres
async def test_reads_and_upserts_survive_the_server_dropping_connections(tmp_path: Path) -> None:
    name = f"docg-test-{uuid.uuid4().hex}"  # so only this store's connections are dropped
    url = _database_url("postgres", tmp_path)
    async with SQLStore(make_url(url).update_query_dict({"application_name": name})) as store:
        await store.datastore_set("flow-1", "cursor", 1)
        await asyncio.gather(*(store.datastore_get("flow-1", "cursor") for _ in range(20)))
        assert await asyncio.to_thread(_terminate_backends, url, name)  # every worker's

        await store.datastore_set("flow-1", "cursor", 2)
        values = [await store.datastore_get("flow-1", "cursor") for _ in range(8)]

    assert values == [2] * 8
