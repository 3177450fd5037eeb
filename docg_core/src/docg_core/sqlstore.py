"""The execution store in SQLite or PostgreSQL, so another process can resume a waiting run.

:class:`SQLStore` implements :class:`~docg_core.store.ExecutionStore` on SQLAlchemy Core.
Database work never runs on the event loop: each call is handed to a worker thread that
keeps its own connection. SQLite gets one worker (writers in this process never fight over
the file lock; other processes share the file through WAL mode and a busy timeout);
PostgreSQL gets :data:`POSTGRES_POOL_SIZE` workers.

Every call is one short transaction: a single statement in autocommit, or several inside an
explicit ``BEGIN`` (``BEGIN IMMEDIATE`` on SQLite). Claims are conditional UPDATEs whose row
count picks the winner, so exactly one of many concurrent callers, in any process, gets
True. JSON values are serialised by pydantic (datetimes, decimals and UUIDs become strings).
Datetimes are stored in UTC and come back timezone-aware; a naive one is taken to be UTC.
Reads see committed data statement by statement (read committed). With
``create_tables=True`` the tables are created, if missing, on first use.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
import time
from collections.abc import Callable, Mapping, Sequence
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
"""Worker threads, each with its own pooled connection, for a PostgreSQL store."""

IDLE_RECHECK_SECONDS = 30.0
"""A worker's connection unused this long is returned and a pinged one checked out."""

_SCHEMA_LOCK_ID = 0x646F6367  # "docg": the advisory lock taken while creating tables


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
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
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
    sa.Column("organization_id", sa.String(), nullable=True, index=True),
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
    # 0, 1, 2 … in first-saved order within the execution; an upsert keeps it. (Two steps
    # first saved at the same instant from two connections may tie; ``id`` breaks the tie.)
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

# Record fields and columns share names; a field added to a record without a column fails
# here, at import, rather than being silently dropped. ``id`` comes first in selected rows.
_EXECUTION_FIELDS = ("id", *(n for n in ExecutionRecord.model_fields if n not in ("id", "steps")))
_STEP_FIELDS = tuple(name for name in StepRecord.model_fields if name != "wait")
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

    def __init__(
        self, url: str | URL = "sqlite:///./docg.db", *, create_tables: bool = True
    ) -> None:
        self.url = _normalise_url(url)
        self._sqlite = self.url.get_backend_name() == "sqlite"
        # Connections run in driver autocommit: a single statement is its own transaction
        # (one round trip on PostgreSQL); several statements are wrapped in an explicit BEGIN.
        options: dict[str, Any] = {
            "isolation_level": "AUTOCOMMIT",
            "json_serializer": _json_dumps,
            "json_deserializer": _json_loads,
            # A connection is checked out when a worker thread first needs one, or after it
            # sat idle (see _connection): check that it is still alive then.
            "pool_pre_ping": True,
        }
        if self._sqlite:
            # Connections are closed by close() from another thread, after the worker is done.
            options["connect_args"] = {
                "timeout": SQLITE_BUSY_TIMEOUT_MS / 1000,
                "check_same_thread": False,
            }
            # Take the write lock up front: a deferred transaction that reads and then writes
            # fails with SQLITE_BUSY instead of waiting when another process wrote meanwhile.
            self._begin_write = "BEGIN IMMEDIATE"
        else:
            options.update(pool_size=POSTGRES_POOL_SIZE, max_overflow=0)
            self._begin_write = "BEGIN"
        self._engine: Engine = sa.create_engine(self.url, **options)
        if self._sqlite:
            sa.event.listen(self._engine, "connect", _sqlite_on_connect)
        # SQLite: one thread, so this process's writers never contend for the file lock with
        # each other (only with other processes, through the busy timeout). PostgreSQL: a
        # thread per pooled connection.
        workers = 1 if self._sqlite else POSTGRES_POOL_SIZE
        self._workers = _Workers(workers, name=f"docg-sqlstore-{id(self):x}")
        self._local = threading.local()  # each worker thread's own connection
        self._generation = 0  # bumped when a connection is lost: the others get re-checked
        self._connections: set[Connection] = set()
        self._connections_lock = threading.Lock()
        self._tables_pending = create_tables
        self._tables_lock = threading.Lock()
        self._closed = False
        self._build_statements()

    def _build_statements(self) -> None:
        # Built once: executing a prebuilt statement skips construction and hits the
        # compiled cache.
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
        """Run ``work(connection, *args)`` on a worker thread."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        return await self._workers.call(self._in_worker, work, args, False)

    async def _run_idempotent(self, work: Callable[..., _T], *args: Any) -> _T:
        """Like :meth:`_run`, retried once on a fresh connection if the connection was lost:
        for reads and for writes that leave the same state when repeated."""
        if self._closed:
            raise RuntimeError(f"{self!r} is closed")
        return await self._workers.call(self._in_worker, work, args, True)

    def _in_worker(self, work: Callable[..., _T], args: tuple[Any, ...], retry: bool) -> _T:
        while True:
            conn = self._connection()
            try:
                if self._tables_pending:
                    self._ensure_tables(conn)
                return work(conn, *args)
            except sa.exc.DBAPIError as exc:
                self._recover(conn)
                if not (retry and exc.connection_invalidated):
                    raise
                retry = False
            except BaseException:
                self._recover(conn)
                raise

    def _connection(self) -> Connection:
        """This worker thread's connection, kept between calls (a pool checkout per call
        costs as much as the statement); exchanged for a freshly checked one after idling."""
        local = self._local
        conn: Connection | None = getattr(local, "conn", None)
        now = time.monotonic()
        if conn is not None and (
            local.generation != self._generation or now - local.used > IDLE_RECHECK_SECONDS
        ):
            self._discard(conn)
            conn = None
        if conn is None:
            local.generation = self._generation
            conn = self._engine.connect()
            local.conn = conn
            with self._connections_lock:
                self._connections.add(conn)
        local.used = now
        return conn

    def _recover(self, conn: Connection) -> None:
        """After a failed call: end any open transaction; drop a broken connection and, as
        the server may have gone away for all of them, have the other threads check theirs."""
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            conn.rollback()
        if conn.invalidated or conn.closed:
            self._discard(conn)
            with self._connections_lock:
                self._generation += 1

    def _discard(self, conn: Connection) -> None:
        self._local.conn = None
        with self._connections_lock:
            self._connections.discard(conn)
        with contextlib.suppress(sa.exc.SQLAlchemyError):
            conn.close()

    def _ensure_tables(self, conn: Connection) -> None:
        with self._tables_lock:
            if not self._tables_pending:
                return
            conn.exec_driver_sql(self._begin_write)
            if not self._sqlite:
                # Serialise concurrent first starts; BEGIN IMMEDIATE does it on SQLite.
                conn.execute(sa.select(sa.func.pg_advisory_xact_lock(_SCHEMA_LOCK_ID)))
            metadata.create_all(conn)
            conn.commit()
            self._tables_pending = False

    # -- executions ----------------------------------------------------------------------

    async def create_execution(self, execution: ExecutionRecord) -> None:
        """Insert a new execution with any steps it already has; :class:`ExecutionError` if
        its id is taken."""
        row = _execution_row(execution)
        unique: dict[str, StepRecord] = {}
        for step in execution.steps:  # a repeated key keeps its first place and last value
            unique[step.key] = step
        step_rows = [
            {**_step_row(execution.id, step), "position": i}
            for i, step in enumerate(unique.values())
        ]
        await self._run(self._create_execution, row, step_rows)

    def _create_execution(
        self, conn: Connection, row: dict[str, Any], step_rows: list[dict[str, Any]]
    ) -> None:
        try:
            if not step_rows:
                conn.execute(self._insert_execution, row)
                return
            conn.exec_driver_sql(self._begin_write)
            conn.execute(self._insert_execution, row)
            conn.execute(self._insert_step, step_rows)
            conn.commit()
        except sa.exc.IntegrityError:
            raise ExecutionError(f"execution {row['id']!r} already exists") from None

    async def get_execution(self, execution_id: str) -> ExecutionRecord:
        """The execution with its steps in order; raises :class:`ExecutionNotFound`."""
        return await self._run_idempotent(self._get_execution, execution_id)

    def _get_execution(self, conn: Connection, execution_id: str) -> ExecutionRecord:
        params = {"execution_id": execution_id}
        row = conn.execute(self._select_execution, params).first()
        if row is None:
            raise ExecutionNotFound(f"no execution {execution_id!r}")
        step_rows = conn.execute(self._select_steps, params).all()
        return _execution_record(row, [_step_record(s) for s in step_rows])

    async def update_execution(self, execution: ExecutionRecord) -> None:
        """Write the execution's own fields (status, error, completed_at), not its steps."""
        row = _execution_row(execution)
        row["execution_id"] = row.pop("id")
        await self._run_idempotent(self._update_execution_row, row)

    def _update_execution_row(self, conn: Connection, row: dict[str, Any]) -> None:
        if conn.execute(self._update_execution, row).rowcount != 1:
            raise ExecutionNotFound(f"no execution {row['execution_id']!r}")

    async def save_step(self, execution_id: str, step: StepRecord) -> None:
        """Insert or replace the step with ``step.key``; steps keep their first-saved order.
        Raises :class:`ExecutionNotFound` for an unknown execution."""
        row = _step_row(execution_id, step)
        row["position_of"] = execution_id
        await self._run_idempotent(self._save_step_row, row)

    def _save_step_row(self, conn: Connection, row: dict[str, Any]) -> None:
        try:
            conn.execute(self._save_step, row)
        except sa.exc.IntegrityError:  # the foreign key: no such execution
            raise ExecutionNotFound(f"no execution {row['execution_id']!r}") from None

    async def list_executions(
        self, *, flow_id: str | None = None, status: str | None = None, limit: int = 50
    ) -> list[ExecutionRecord]:
        """Newest (most recently created) first, optionally filtered by flow and status."""
        if limit <= 0:
            return []
        return await self._run_idempotent(self._list_executions, flow_id, status, limit)

    def _list_executions(
        self, conn: Connection, flow_id: str | None, status: str | None, limit: int
    ) -> list[ExecutionRecord]:
        query = sa.select(*_EXECUTION_COLUMNS).order_by(executions.c.seq.desc()).limit(limit)
        if flow_id is not None:
            query = query.where(executions.c.flow_id == flow_id)
        if status is not None:
            query = query.where(executions.c.status == status)
        rows = conn.execute(query).all()
        if not rows:
            return []
        by_execution: dict[str, list[StepRecord]] = {row[0]: [] for row in rows}
        params = {"execution_ids": list(by_execution)}
        for step_row in conn.execute(self._select_steps_of_many, params):
            by_execution[step_row[0]].append(_step_record(step_row))
        return [_execution_record(row, by_execution[row[0]]) for row in rows]

    # -- waits, claims and dedupe -------------------------------------------------------

    async def claim_waiting_step(self, execution_id: str, step_key: str) -> bool:
        """Atomically move a waiting step to ``running`` (and its execution from ``waiting``
        to ``running``). True for exactly one caller, in any process; False otherwise."""
        return await self._run(self._claim_waiting_step, execution_id, step_key)

    def _claim_waiting_step(self, conn: Connection, execution_id: str, step_key: str) -> bool:
        params = {"claim_execution_id": execution_id, "claim_step_key": step_key}
        conn.exec_driver_sql(self._begin_write)
        # The execution row first: its row lock is where concurrent claims queue, and a
        # claim that finds it no longer waiting updates nothing.
        if conn.execute(self._claim_execution, params).rowcount != 1:
            conn.rollback()
            return False
        if conn.execute(self._claim_step, params).rowcount != 1:
            conn.rollback()
            return False
        conn.commit()
        return True

    async def due_waits(self, now: datetime) -> list[DueWait]:
        """Waiting steps of waiting executions whose ``resume_at`` is at or before ``now``."""
        return await self._run_idempotent(self._due_waits_at, now)

    def _due_waits_at(self, conn: Connection, now: datetime) -> list[DueWait]:
        return [(row[0], row[1]) for row in conn.execute(self._due_waits, {"now": now})]

    async def claim_dedupe_key(self, scope: str, key: str) -> bool:
        """Record ``key`` under ``scope``; True the first time only (polling dedupe)."""
        row = {"scope": scope, "key": key, "claimed_at": datetime.now(UTC)}
        return await self._run(self._claim_dedupe_key, row)

    def _claim_dedupe_key(self, conn: Connection, row: dict[str, Any]) -> bool:
        # ON CONFLICT DO NOTHING: the primary key decides, without an error per repeat.
        return conn.execute(self._claim_dedupe, row).rowcount == 1

    # -- datastore -----------------------------------------------------------------------

    async def datastore_get(self, scope: str, key: str) -> Any:
        """The value stored under ``key`` for ``scope`` (a flow), or None."""
        return await self._run_idempotent(
            self._execute_scalar, self._datastore_get, {"s": scope, "k": key}
        )

    async def datastore_set(self, scope: str, key: str, value: Any) -> None:
        """Store a JSON-serialisable value, replacing any previous one."""
        row = {"scope": scope, "key": key, "value": value, "updated_at": datetime.now(UTC)}
        await self._run_idempotent(self._execute_scalar, self._datastore_set, row)

    async def datastore_delete(self, scope: str, key: str) -> None:
        """Remove ``key`` (no error if absent)."""
        await self._run_idempotent(
            self._execute_scalar, self._datastore_delete, {"s": scope, "k": key}
        )

    @staticmethod
    def _execute_scalar(
        conn: Connection, statement: sa.Executable, params: Mapping[str, Any]
    ) -> Any:
        result = conn.execute(statement, params)
        return result.scalar() if result.returns_rows else None

    # -- lifecycle -----------------------------------------------------------------------

    async def close(self) -> None:
        """Finish the calls already queued, then close the connections and threads."""
        if self._closed:
            return
        self._closed = True
        await asyncio.to_thread(self._shutdown)

    def _shutdown(self) -> None:
        self._workers.stop()
        with self._connections_lock:
            connections, self._connections = self._connections, set()
        for conn in connections:
            with contextlib.suppress(sa.exc.SQLAlchemyError):
                conn.close()
        self._engine.dispose()

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
        super().__init__(URL.create("sqlite", database=str(self.path)), create_tables=create_tables)


class _Workers:
    """Threads that run calls in submission order and hand each result back to the caller's
    event loop: a leaner ThreadPoolExecutor (one queue, no concurrent.futures.Future)."""

    def __init__(self, count: int, *, name: str) -> None:
        self._queue: queue.SimpleQueue[_Job | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{i}", daemon=True)
            for i in range(count)
        ]
        for thread in self._threads:
            thread.start()

    def call(self, fn: Callable[..., _T], *args: Any) -> asyncio.Future[_T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[_T] = loop.create_future()
        self._queue.put((loop, future, fn, args))
        return future

    def stop(self) -> None:
        """Run what is queued, then end the threads (blocks until they have)."""
        for _ in self._threads:
            self._queue.put(None)
        for thread in self._threads:
            thread.join()

    def _serve(self) -> None:
        while (job := self._queue.get()) is not None:
            loop, future, fn, args = job
            try:
                result, error = fn(*args), None
            except BaseException as exc:  # handed to the caller, like concurrent.futures
                result, error = None, exc
            with contextlib.suppress(RuntimeError):  # the caller's loop has closed
                loop.call_soon_threadsafe(_settle, future, result, error)
            del job, future, result, error  # no reference cycle through a traceback


_Job = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Any]", Callable[..., Any], tuple[Any, ...]]


def _settle(future: asyncio.Future[Any], result: Any, error: BaseException | None) -> None:
    if future.cancelled():  # the caller stopped waiting; the work itself has finished
        return
    if error is None:
        future.set_result(result)
    else:
        future.set_exception(error)


def _sqlite_on_connect(dbapi_connection: Any, connection_record: object) -> None:
    cursor = dbapi_connection.cursor()
    try:
        for pragma in (
            "journal_mode=WAL",  # readers never block the writer, across processes
            "synchronous=NORMAL",  # no fsync per commit; WAL keeps the file consistent
            f"busy_timeout={SQLITE_BUSY_TIMEOUT_MS}",
            "foreign_keys=ON",
        ):
            cursor.execute(f"PRAGMA {pragma}")
    finally:
        cursor.close()
