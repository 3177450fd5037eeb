"""The execution store in SQLite or PostgreSQL, so another process can resume a waiting run.

:class:`SQLStore` implements :class:`~docg_core.store.ExecutionStore` on SQLAlchemy Core.
Every call is one short transaction run on a worker thread, never on the event loop:

- SQLite gets one dedicated thread and one connection, so writers in this process never
  wait on each other's file lock; other processes share the file through WAL mode and a
  busy timeout. Multi-statement writes start with ``BEGIN IMMEDIATE``.
- PostgreSQL gets a small thread pool with one pooled connection per thread. Single
  statements run in autocommit (one round trip); multi-statement work runs in a transaction.

Claims are conditional UPDATEs whose row count decides the winner, so exactly one of many
concurrent callers, in any process, gets True. Values in JSON columns are serialised with
pydantic (datetimes, decimals and UUIDs become strings). Datetimes are stored in UTC and come
back timezone-aware; a naive datetime is taken to be UTC. Tables are created on first use
(``create_tables=True``), off the event loop.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import pydantic_core
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import URL, Connection, Dialect, Engine, make_url

from .errors import ExecutionError, ExecutionNotFound
from .records import ExecutionRecord, StepRecord, WaitRecord
from .store import DueWait

__all__ = ["SQLStore", "SQLiteStore", "metadata"]

_T = TypeVar("_T")

SQLITE_BUSY_TIMEOUT_MS = 10_000
"""How long a SQLite writer waits for another process's lock before failing."""

POSTGRES_POOL_SIZE = 4
"""Worker threads, and pooled connections, for a PostgreSQL store."""


class _UTCDateTime(sa.TypeDecorator[datetime]):
    """A timezone-aware datetime stored in UTC (SQLite keeps it as naive UTC text)."""

    impl = sa.DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        value = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
        return value.replace(tzinfo=None) if dialect.name == "sqlite" else value

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _json() -> sa.types.TypeEngine[Any]:
    """A JSON column (JSONB on PostgreSQL); Python None is stored as SQL NULL."""
    return sa.JSON(none_as_null=True).with_variant(
        postgresql.JSONB(none_as_null=True), "postgresql"
    )


def _json_dumps(value: Any) -> str:
    # pydantic's serialiser: fast, and handles datetimes, decimals, UUIDs and models.
    return pydantic_core.to_json(value, inf_nan_mode="null").decode()


def _json_loads(text: str | bytes) -> Any:
    return pydantic_core.from_json(text)


_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")  # INTEGER PRIMARY KEY = rowid on SQLite

metadata = sa.MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)
"""The tables below; the server's Alembic migrations start from this."""

executions = sa.Table(
    "docg_executions",
    metadata,
    # ``seq`` orders executions by creation (newest first in listings).
    sa.Column("seq", _ID, primary_key=True, autoincrement=True),
    sa.Column("id", sa.String(), nullable=False, unique=True),
    sa.Column("flow_id", sa.String(), nullable=True, index=True),
    sa.Column("flow_name", sa.String(), nullable=False),
    sa.Column("workflow", _json(), nullable=False),
    sa.Column("status", sa.String(), nullable=False, index=True),
    sa.Column("trigger_data", _json(), nullable=True),
    sa.Column("test_run", sa.Boolean(), nullable=False),
    sa.Column("until_step", sa.String(), nullable=True),
    sa.Column("mock_data", _json(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("started_at", _UTCDateTime(), nullable=False),
    sa.Column("completed_at", _UTCDateTime(), nullable=True),
)

steps = sa.Table(
    "docg_steps",
    metadata,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column(
        "execution_id",
        sa.String(),
        sa.ForeignKey("docg_executions.id", ondelete="CASCADE"),
        nullable=False,
    ),
    sa.Column("key", sa.String(), nullable=False),
    # 0, 1, 2 … in first-saved order within the execution; an upsert keeps it.
    sa.Column("position", sa.Integer(), nullable=False),
    sa.Column("node_id", sa.String(), nullable=False),
    sa.Column("app", sa.String(), nullable=True),
    sa.Column("action", sa.String(), nullable=True),
    sa.Column("status", sa.String(), nullable=False),
    sa.Column("data_in", _json(), nullable=True),
    sa.Column("data_out", _json(), nullable=True),
    sa.Column("error", sa.Text(), nullable=True),
    sa.Column("error_code", sa.String(), nullable=True),
    sa.Column("attempt", sa.Integer(), nullable=False),
    sa.Column("started_at", _UTCDateTime(), nullable=True),
    sa.Column("completed_at", _UTCDateTime(), nullable=True),
    # The step's WaitRecord, flattened so due waits and resume tokens can be queried;
    # ``wait_reason`` is NULL when the step has no wait.
    sa.Column("wait_reason", sa.Text(), nullable=True),
    sa.Column("wait_resume_token", sa.String(), nullable=True, index=True),
    sa.Column("wait_resume_at", _UTCDateTime(), nullable=True, index=True),
    sa.Column("wait_expires_at", _UTCDateTime(), nullable=True),
    sa.UniqueConstraint("execution_id", "key"),
)

dedupe_keys = sa.Table(
    "docg_dedupe_keys",
    metadata,
    sa.Column("scope", sa.String(), primary_key=True),
    sa.Column("key", sa.String(), primary_key=True),
    sa.Column("claimed_at", _UTCDateTime(), nullable=False),
)

datastore = sa.Table(
    "docg_datastore",
    metadata,
    sa.Column("scope", sa.String(), primary_key=True),
    sa.Column("key", sa.String(), primary_key=True),
    sa.Column("value", _json(), nullable=True),
    sa.Column("updated_at", _UTCDateTime(), nullable=False),
)

_EXECUTION_FIELDS = tuple(c.name for c in executions.columns if c.name != "seq")
_STEP_FIELDS = ("key", "node_id", "app", "action", "status", "data_in", "data_out", "error")
_STEP_FIELDS += ("error_code", "attempt", "started_at", "completed_at")
_WAIT_COLUMNS = ("wait_reason", "wait_resume_token", "wait_resume_at", "wait_expires_at")
_STEP_COLUMNS = ("execution_id", *_STEP_FIELDS, *_WAIT_COLUMNS)
_EXECUTION_COLUMNS = [executions.c[name] for name in _EXECUTION_FIELDS]
_STEP_SELECT = [steps.c[name] for name in _STEP_COLUMNS]


def _execution_row(execution: ExecutionRecord) -> dict[str, Any]:
    return {name: getattr(execution, name) for name in _EXECUTION_FIELDS}


def _step_row(execution_id: str, step: StepRecord) -> dict[str, Any]:
    row = {name: getattr(step, name) for name in _STEP_FIELDS}
    row["execution_id"] = execution_id
    wait = step.wait
    row["wait_reason"] = None if wait is None else wait.reason
    row["wait_resume_token"] = None if wait is None else wait.resume_token
    row["wait_resume_at"] = None if wait is None else wait.resume_at
    row["wait_expires_at"] = None if wait is None else wait.expires_at
    return row


def _step_record(row: Sequence[Any]) -> StepRecord:
    # ``row`` follows _STEP_SELECT: execution_id, the step fields, then the wait columns.
    fields = dict(zip(_STEP_FIELDS, row[1:-4], strict=True))
    reason, token, resume_at, expires_at = row[-4:]
    if reason is not None:
        fields["wait"] = WaitRecord(
            reason=reason, resume_token=token, resume_at=resume_at, expires_at=expires_at
        )
    return StepRecord.model_validate(fields)


def _execution_record(row: Sequence[Any], step_records: list[StepRecord]) -> ExecutionRecord:
    fields = dict(zip(_EXECUTION_FIELDS, row, strict=True))
    fields["steps"] = step_records
    return ExecutionRecord.model_validate(fields)


def _normalise_url(url: str | URL) -> URL:
    """``postgresql://`` (and Heroku's ``postgres://``) mean psycopg 3, the driver we ship."""
    parsed = make_url(url)
    if parsed.drivername in ("postgresql", "postgres"):
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


class SQLStore:
    """:class:`~docg_core.store.ExecutionStore` in a SQL database (SQLite or PostgreSQL).

    ``url`` is a SQLAlchemy URL (``sqlite:///./docg.db``, ``postgresql://user@host/db``).
    With ``create_tables`` the ``docg_*`` tables are created, if missing, on first use.
    Call :meth:`close` (or use ``async with``) to release the connections and threads.
    """

    def __init__(self, url: str = "sqlite:///./docg.db", *, create_tables: bool = True) -> None:
        parsed = _normalise_url(url)
        self.url = parsed
        self._sqlite = parsed.get_backend_name() == "sqlite"
        options: dict[str, Any] = {
            "json_serializer": _json_dumps,
            "json_deserializer": _json_loads,
        }
        if self._sqlite:
            options["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            options.update(pool_size=POSTGRES_POOL_SIZE, max_overflow=0, pool_pre_ping=True)
        self._engine: Engine = sa.create_engine(parsed, **options)
        if self._sqlite:
            sa.event.listen(self._engine, "connect", _sqlite_on_connect)
            sa.event.listen(self._engine, "begin", _sqlite_on_begin)
            # A single statement commits by itself; reads see one snapshot; writes made of
            # several statements take the write lock up front (no lock-upgrade deadlock).
            self._single = self._engine.execution_options(docg_begin="")
            self._read = self._engine.execution_options(docg_begin="BEGIN")
            self._write = self._engine.execution_options(docg_begin="BEGIN IMMEDIATE")
        else:
            self._single = self._engine.execution_options(isolation_level="AUTOCOMMIT")
            self._read = self._write = self._engine
        # One SQLite connection (file locks are per connection: one writer thread never
        # contends with itself); a thread per pooled connection for PostgreSQL.
        workers = 1 if self._sqlite else POSTGRES_POOL_SIZE
        self._executor = ThreadPoolExecutor(workers, thread_name_prefix="docg-sqlstore")
        self._tables_pending = create_tables
        self._tables_lock = threading.Lock()
        self._closed = False
        self._build_statements()

    def _build_statements(self) -> None:
        insert = sqlite.insert if self._sqlite else postgresql.insert
        c = steps.c
        next_position = (
            sa.select(sa.func.coalesce(sa.func.max(c.position) + 1, 0))
            .where(c.execution_id == sa.bindparam("position_of"))
            .scalar_subquery()
        )
        upsert = insert(steps).values(position=next_position)
        self._save_step = upsert.on_conflict_do_update(
            index_elements=[c.execution_id, c.key],
            set_={name: upsert.excluded[name] for name in _STEP_COLUMNS[2:]},
        )
        self._insert_step = steps.insert()
        self._insert_execution = executions.insert()
        self._update_execution = (
            executions.update()
            .where(executions.c.id == sa.bindparam("execution_id"))
            .values({name: sa.bindparam(name) for name in _EXECUTION_FIELDS if name != "id"})
        )
        self._select_execution = sa.select(*_EXECUTION_COLUMNS).where(
            executions.c.id == sa.bindparam("execution_id")
        )
        self._select_steps = (
            sa.select(*_STEP_SELECT)
            .where(c.execution_id == sa.bindparam("execution_id"))
            .order_by(c.position, c.id)
        )
        self._select_steps_of_many = (
            sa.select(*_STEP_SELECT)
            .where(c.execution_id.in_(sa.bindparam("execution_ids", expanding=True)))
            .order_by(c.execution_id, c.position, c.id)
        )
        self._claim_execution = (
            executions.update()
            .where(executions.c.id == sa.bindparam("claim_execution_id"))
            .where(executions.c.status == "waiting")
            .values(status="running")
        )
        self._claim_step = (
            steps.update()
            .where(c.execution_id == sa.bindparam("claim_execution_id"))
            .where(c.key == sa.bindparam("claim_step_key"))
            .where(c.status == "waiting")
            .values(status="running")
        )
        self._due_waits = (
            sa.select(c.execution_id, c.key)
            .join(executions, executions.c.id == c.execution_id)
            .where(executions.c.status == "waiting")
            .where(c.status == "waiting")
            .where(c.wait_resume_at.is_not(None))
            .where(c.wait_resume_at <= sa.bindparam("now", type_=_UTCDateTime()))
            .order_by(executions.c.seq, c.position, c.id)
        )
        # rowcount of an INSERT is kept only when asked for (SQLAlchemy 2).
        self._claim_dedupe = (
            insert(dedupe_keys)
            .on_conflict_do_nothing(index_elements=[dedupe_keys.c.scope, dedupe_keys.c.key])
            .execution_options(preserve_rowcount=True)
        )
        set_value = insert(datastore)
        self._datastore_set = set_value.on_conflict_do_update(
            index_elements=[datastore.c.scope, datastore.c.key],
            set_={"value": set_value.excluded.value, "updated_at": set_value.excluded.updated_at},
        )
        where_key = (datastore.c.scope == sa.bindparam("s")) & (
            datastore.c.key == sa.bindparam("k")
        )
        self._datastore_get = sa.select(datastore.c.value).where(where_key)
        self._datastore_delete = datastore.delete().where(where_key)

    # -- running database work off the event loop ------------------------------------------

    async def _run(self, work: Callable[..., _T], *args: Any) -> _T:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._in_worker, work, args)

    def _in_worker(self, work: Callable[..., _T], args: tuple[Any, ...]) -> _T:
        if self._tables_pending:
            self._ensure_tables()
        return work(*args)

    def _ensure_tables(self) -> None:
        with self._tables_lock:
            if not self._tables_pending:
                return
            with self._write.begin() as conn:
                if not self._sqlite:
                    # Serialise concurrent first starts; BEGIN IMMEDIATE does it on SQLite.
                    conn.execute(sa.select(sa.func.pg_advisory_xact_lock(0x646F6367)))
                metadata.create_all(conn)
            self._tables_pending = False

    # -- executions ----------------------------------------------------------------------

    async def create_execution(self, execution: ExecutionRecord) -> None:
        """Insert a new execution (with any steps it already has); ExecutionError if the id
        is taken."""
        row = _execution_row(execution)
        first: dict[str, StepRecord] = {}
        for step in execution.steps:  # a repeated key keeps its first place, last value
            first[step.key] = step
        step_rows = [
            {**_step_row(execution.id, step), "position": i}
            for i, step in enumerate(first.values())
        ]
        await self._run(self._create_execution, row, step_rows)

    def _create_execution(self, row: dict[str, Any], step_rows: list[dict[str, Any]]) -> None:
        try:
            with self._write.begin() as conn:
                conn.execute(self._insert_execution, row)
                if step_rows:
                    conn.execute(self._insert_step, step_rows)
        except sa.exc.IntegrityError:
            raise ExecutionError(f"execution {row['id']!r} already exists") from None

    async def get_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution with its steps in order; raises :class:`ExecutionNotFound`."""
        return await self._run(self._get_execution, execution_id)

    def _get_execution(self, execution_id: str) -> ExecutionRecord:
        params = {"execution_id": execution_id}
        with self._read.begin() as conn:
            row = conn.execute(self._select_execution, params).first()
            if row is None:
                raise ExecutionNotFound(f"no execution {execution_id!r}")
            step_rows = conn.execute(self._select_steps, params).all()
        return _execution_record(row, [_step_record(s) for s in step_rows])

    async def update_execution(self, execution: ExecutionRecord) -> None:
        """Write the execution's own fields (status, error, completed_at), not its steps."""
        row = _execution_row(execution)
        row["execution_id"] = row.pop("id")
        await self._run(self._update_one, row)

    def _update_one(self, row: dict[str, Any]) -> None:
        with self._single.begin() as conn:
            updated = conn.execute(self._update_execution, row).rowcount
        if updated != 1:
            raise ExecutionNotFound(f"no execution {row['execution_id']!r}")

    async def save_step(self, execution_id: str, step: StepRecord) -> None:
        """Insert or replace the step with ``step.key``; steps keep their first-saved order.
        Raises :class:`ExecutionNotFound` for an unknown execution."""
        row = _step_row(execution_id, step)
        row["position_of"] = execution_id
        await self._run(self._save_step_row, row)

    def _save_step_row(self, row: dict[str, Any]) -> None:
        try:
            with self._single.begin() as conn:
                conn.execute(self._save_step, row)
        except sa.exc.IntegrityError:  # the foreign key: no such execution
            raise ExecutionNotFound(f"no execution {row['execution_id']!r}") from None

    async def list_executions(
        self, *, flow_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[ExecutionRecord]:
        """Newest (most recently created) first, optionally filtered by flow and status."""
        if limit <= 0:
            return []
        return await self._run(self._list_executions, flow_id, status, limit)

    def _list_executions(
        self, flow_id: str | None, status: str | None, limit: int
    ) -> list[ExecutionRecord]:
        query = sa.select(*_EXECUTION_COLUMNS).order_by(executions.c.seq.desc()).limit(limit)
        if flow_id is not None:
            query = query.where(executions.c.flow_id == flow_id)
        if status is not None:
            query = query.where(executions.c.status == status)
        with self._read.begin() as conn:
            rows = conn.execute(query).all()
            ids = [row[0] for row in rows]
            step_rows = (
                conn.execute(self._select_steps_of_many, {"execution_ids": ids}).all()
                if ids
                else []
            )
        by_execution: dict[str, list[StepRecord]] = {i: [] for i in ids}
        for step_row in step_rows:
            by_execution[step_row[0]].append(_step_record(step_row))
        return [_execution_record(row, by_execution[row[0]]) for row in rows]

    # -- waits, claims and dedupe -------------------------------------------------------

    async def claim_waiting_step(self, execution_id: str, step_key: str) -> bool:
        """Atomically move a waiting step to ``running`` (and its execution from ``waiting``
        to ``running``). True for exactly one caller, in any process; False otherwise."""
        return await self._run(self._claim_waiting_step, execution_id, step_key)

    def _claim_waiting_step(self, execution_id: str, step_key: str) -> bool:
        params = {"claim_execution_id": execution_id, "claim_step_key": step_key}
        with self._write.connect() as conn, conn.begin() as transaction:
            # The execution row first: it is the lock every claim on this execution queues on.
            if conn.execute(self._claim_execution, params).rowcount != 1:
                return False
            if conn.execute(self._claim_step, params).rowcount != 1:
                transaction.rollback()
                return False
        return True

    async def due_waits(self, now: datetime) -> list[DueWait]:
        """Waiting steps of waiting executions whose ``resume_at`` is at or before ``now``."""
        return await self._run(self._due_waits_at, now)

    def _due_waits_at(self, now: datetime) -> list[DueWait]:
        with self._single.connect() as conn:
            return [(row[0], row[1]) for row in conn.execute(self._due_waits, {"now": now})]

    async def claim_dedupe_key(self, scope: str, key: str) -> bool:
        """Record ``key`` under ``scope``; True the first time only (polling dedupe)."""
        row = {"scope": scope, "key": key, "claimed_at": datetime.now(UTC)}
        return await self._run(self._claim_dedupe_key, row)

    def _claim_dedupe_key(self, row: dict[str, Any]) -> bool:
        # ON CONFLICT DO NOTHING: the primary key decides, without an error per repeat.
        with self._single.begin() as conn:
            return conn.execute(self._claim_dedupe, row).rowcount == 1

    # -- datastore -----------------------------------------------------------------------

    async def datastore_get(self, scope: str, key: str) -> Any:
        """The value stored under ``key`` for ``scope`` (a flow), or None."""
        return await self._run(self._execute_scalar, self._datastore_get, {"s": scope, "k": key})

    async def datastore_set(self, scope: str, key: str, value: Any) -> None:
        """Store a JSON-serialisable value (replacing any previous one)."""
        row = {"scope": scope, "key": key, "value": value, "updated_at": datetime.now(UTC)}
        await self._run(self._execute_single, self._datastore_set, row)

    async def datastore_delete(self, scope: str, key: str) -> None:
        """Remove ``key`` (no error if absent)."""
        await self._run(self._execute_single, self._datastore_delete, {"s": scope, "k": key})

    def _execute_scalar(self, statement: sa.Executable, params: Mapping[str, Any]) -> Any:
        with self._single.connect() as conn:
            return conn.execute(statement, params).scalar()

    def _execute_single(self, statement: sa.Executable, params: Mapping[str, Any]) -> None:
        with self._single.begin() as conn:
            conn.execute(statement, params)

    # -- lifecycle -----------------------------------------------------------------------

    async def close(self) -> None:
        """Close the connections and stop the worker threads (after work already queued)."""
        if self._closed:
            return
        self._closed = True
        loop = asyncio.get_running_loop()
        try:
            await loop.run_in_executor(self._executor, self._engine.dispose)
        finally:
            self._executor.shutdown(wait=False)

    async def __aenter__(self) -> SQLStore:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.url.render_as_string(hide_password=True)!r})"


class SQLiteStore(SQLStore):
    """:class:`SQLStore` on a SQLite file: ``SQLiteStore(path="./docg.db")``."""

    def __init__(self, path: str | Path = "./docg.db", *, create_tables: bool = True) -> None:
        self.path = Path(path)
        url = URL.create("sqlite", database=str(self.path))
        super().__init__(url.render_as_string(), create_tables=create_tables)


def _sqlite_on_connect(dbapi_connection: Any, connection_record: object) -> None:
    # Take BEGIN away from the sqlite3 module (legacy transaction control) and emit our own.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        for pragma in (
            "journal_mode=WAL",  # readers and one writer at once, across processes
            "synchronous=NORMAL",  # durable at checkpoints; safe from corruption in WAL
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "foreign_keys=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    begin = conn.get_execution_options().get("docg_begin", "BEGIN")
    if begin:
        conn.exec_driver_sql(begin)
