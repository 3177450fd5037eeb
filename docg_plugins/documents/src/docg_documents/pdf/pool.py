"""A pool of warm LibreOffice converters behind an async API.

Each worker is a ``soffice.bin`` plus a small UNO server script (:mod:`._uno_server`) run by a
Python that has LibreOffice's ``uno`` module (Debian's ``/usr/bin/python3``). The pool talks to
the script over its stdin/stdout; the script talks to the office over a private UNO pipe. No
TCP port is opened. Every worker has its own user profile, pipe and directory.

The pool runs on an event loop of its own, in a background thread, so that:

- no call ever blocks the caller's event loop (page counting with pypdf included);
- one converter serves every event loop of the process: ``asyncio.run`` per request,
  ``Engine.run_sync``, pytest's loop per test, and the server's loop alike.

Failures. A job runs on one worker; if that worker crashes (its process dies) or hangs (no
answer within ``timeout``), the worker is killed — its whole process group, LibreOffice
included — and reaped, its files are deleted, a fresh one is started and the job is retried
once on it. A second crash is :class:`PdfWorkerError`, a second timeout
:class:`PdfTimeoutError` (both retryable). A document LibreOffice cannot read is
:class:`PdfInputError` at once (not retried). After ``max_jobs_per_worker`` conversions a
worker is replaced (LibreOffice grows with use).

Back-pressure. At most ``queue_size`` jobs wait for a worker. When the queue is full,
:meth:`PdfConverter.convert` waits up to ``timeout`` seconds for room, then raises
:class:`PdfPoolBusyError` (retryable). The time a job spends queued is not limited; wrap the
call in ``asyncio.timeout`` to bound the total.
"""

from __future__ import annotations

import asyncio
import atexit
import concurrent.futures
import contextlib
import logging
import os
import shutil
import tempfile
import threading
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar

from ._errors import (
    PdfConversionError,
    PdfInputError,
    PdfPoolBusyError,
    PdfTimeoutError,
    PdfWorkerError,
)
from ._formats import InputFormat
from ._formats import input_format as lookup_format
from ._office import find_python, find_soffice, office_binary, require_soffice
from ._result import PdfResult, checked_pdf
from ._worker import OfficeWorker, WorkerFailed, WorkerHung

__all__ = [
    "PdfConverter",
    "PoolStats",
    "WorkerStatus",
    "default_workers",
    "get_converter",
    "shutdown_converter",
    "soffice_available",
]

logger = logging.getLogger("docg_documents.pdf")

T = TypeVar("T")

WORKERS_ENV = "DOCG_PDF_WORKERS"
_CLOSE_AT_EXIT_TIMEOUT = 30.0


def soffice_available(soffice: str | None = None) -> bool:
    """Whether LibreOffice can be found (``soffice`` on PATH, ``$DOCG_SOFFICE``, usual places)."""
    return find_soffice(soffice) is not None


def default_workers() -> int:
    """``$DOCG_PDF_WORKERS``, else the number of CPU cores this process may use."""
    raw = os.environ.get(WORKERS_ENV, "").strip()
    if raw:
        try:
            workers = int(raw)
        except ValueError:
            workers = 0
        if workers < 1:
            raise ValueError(f"{WORKERS_ENV} must be a positive integer, not {raw!r}")
        return workers
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


@dataclass(frozen=True)
class WorkerStatus:
    """A snapshot of one worker slot."""

    slot: int
    #: the worker's supervisor; also its process group id
    supervisor_pid: int | None
    #: the UNO server script
    server_pid: int | None
    #: soffice.bin
    office_pid: int | None
    #: conversions done by the current processes (reset when they are replaced)
    jobs: int
    #: how many times processes were started in this slot
    generation: int
    busy: bool

    @property
    def process_group(self) -> int | None:
        return self.supervisor_pid


@dataclass(frozen=True)
class PoolStats:
    """Counters since the converter started."""

    conversions: int
    retries: int
    #: workers killed after a crash or a hang
    replaced: int
    #: workers replaced after max_jobs_per_worker conversions
    recycled: int


@dataclass(eq=False)
class _Job:
    data: bytes
    format: InputFormat
    pdf_a: bool
    future: asyncio.Future[PdfResult]


@dataclass(eq=False)
class _Slot:
    index: int
    worker: OfficeWorker | None = None
    generation: int = 0
    job: _Job | None = None


@dataclass
class _Counters:
    conversions: int = 0
    retries: int = 0
    replaced: int = 0
    recycled: int = 0


@dataclass(frozen=True)
class _Settings:
    workers: int
    timeout: float
    startup_timeout: float
    max_jobs_per_worker: int
    queue_size: int
    soffice: str | None
    python: str | None


class PdfConverter:
    """A pool of warm LibreOffice processes converting documents to PDF.

    ::

        async with PdfConverter() as converter:
            result = await converter.convert(docx_bytes, input_format="docx")
            result.pdf, result.pages

    :param workers: LibreOffice processes; default ``$DOCG_PDF_WORKERS``, else one per core.
    :param timeout: seconds one conversion may take on one worker before the worker is
        killed and the job retried on a fresh one; also how long :meth:`convert` waits for
        room in a full queue.
    :param max_jobs_per_worker: conversions after which a worker is replaced.
    :param queue_size: jobs that may wait for a worker before :meth:`convert` waits.
    :param soffice: the LibreOffice launcher; default ``$DOCG_SOFFICE``, ``soffice`` on PATH.
    :param python: a Python that can ``import uno``; default ``$DOCG_PDF_PYTHON``,
        LibreOffice's own, ``/usr/bin/python3``, this interpreter — the first that works.
    :param startup_timeout: seconds a worker may take to start.

    Workers start on :meth:`start`, or on the first :meth:`convert`. :meth:`close` kills
    them; a closed converter cannot be used again.
    """

    def __init__(
        self,
        workers: int | None = None,
        *,
        timeout: float = 60.0,
        max_jobs_per_worker: int = 200,
        queue_size: int = 100,
        soffice: str | None = None,
        python: str | None = None,
        startup_timeout: float = 60.0,
    ) -> None:
        workers = default_workers() if workers is None else workers
        for name, value in (
            ("workers", workers),
            ("max_jobs_per_worker", max_jobs_per_worker),
            ("queue_size", queue_size),
        ):
            if value < 1:
                raise ValueError(f"{name} must be at least 1, not {value}")
        for name, seconds in (("timeout", timeout), ("startup_timeout", startup_timeout)):
            if not seconds > 0:
                raise ValueError(f"{name} must be a positive number of seconds, not {seconds}")
        self._settings = _Settings(
            workers, timeout, startup_timeout, max_jobs_per_worker, queue_size, soffice, python
        )
        self._lock = threading.Lock()
        self._runner: _LoopThread | None = None
        self._pool: _Pool | None = None
        self._closed = False

    @property
    def workers(self) -> int:
        return self._settings.workers

    @property
    def timeout(self) -> float:
        return self._settings.timeout

    @property
    def closed(self) -> bool:
        return self._closed

    async def start(self) -> None:
        """Start every worker; return once all of them are ready.

        :raises PdfConversionError: LibreOffice, or a Python with ``uno``, is missing.
        :raises PdfWorkerError: LibreOffice was found but did not start.
        """
        runner, pool = self._ensure_runner()
        await runner.call(pool.start())

    async def convert(self, data: bytes, *, input_format: str, pdf_a: bool = False) -> PdfResult:
        """Convert one document to PDF.

        :param data: the source document.
        :param input_format: its extension: ``docx``, ``pptx``, ``odt``, ``html``, ``xlsx`` …
        :param pdf_a: write PDF/A-2b (archival) instead of plain PDF.
        :return: the PDF and its page count (at least 1).
        :raises PdfInputError: unknown format, empty or unreadable document (not retryable).
        :raises PdfWorkerError: a worker crashed twice, or could not start (retryable);
            :class:`PdfTimeoutError` when both attempts timed out;
            :class:`PdfPoolBusyError` when the queue stayed full for ``timeout`` seconds.
        :raises PdfConversionError: any other failure, e.g. the converter is closed.
        """
        fmt = lookup_format(input_format)
        if not data:
            raise PdfInputError(
                f"the .{fmt.extension} document is empty (0 bytes)", code="pdf_input_empty"
            )
        runner, pool = self._ensure_runner()
        return await runner.call(pool.convert(bytes(data), fmt, pdf_a))

    async def close(self) -> None:
        """Kill every worker and wait until they are reaped and their files deleted.

        Jobs still queued or running fail with PdfConversionError. Safe to call twice.
        """
        with self._lock:
            self._closed = True
            runner, pool = self._runner, self._pool
        if runner is None or pool is None:
            return
        try:
            await runner.call(pool.close())
        finally:
            await runner.stop()

    def status(self) -> list[WorkerStatus]:
        """A snapshot of the worker slots (empty before the converter starts)."""
        pool = self._pool
        return pool.status() if pool is not None else []

    def stats(self) -> PoolStats:
        pool = self._pool
        c = pool.counters if pool is not None else _Counters()
        return PoolStats(c.conversions, c.retries, c.replaced, c.recycled)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        state = "closed" if self._closed else "running" if self._pool else "not started"
        return f"<PdfConverter workers={self.workers} {state}>"

    def _ensure_runner(self) -> tuple[_LoopThread, _Pool]:
        with self._lock:
            if self._closed:
                raise PdfConversionError(
                    "this PDF converter is closed; create a new one", code="pdf_closed"
                )
            if self._runner is None or self._pool is None:
                self._pool = _Pool(self._settings)
                self._runner = _LoopThread(f"docg-pdf-{id(self):x}", self._pool.close)
            return self._runner, self._pool


class _LoopThread:
    """An event loop running in a daemon thread, and how to call into it from any loop."""

    def __init__(self, name: str, close: Callable[[], Coroutine[Any, Any, None]]) -> None:
        self.loop = asyncio.new_event_loop()
        self._close = close
        self._calls: set[concurrent.futures.Future[Any]] = set()
        self._calls_lock = threading.Lock()
        self._finished: concurrent.futures.Future[None] = concurrent.futures.Future()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._thread.start()
        atexit.register(self._stop_at_exit)

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        try:
            self.loop.run_forever()
        finally:
            try:
                self.loop.run_until_complete(self.loop.shutdown_asyncgens())
                self.loop.run_until_complete(self.loop.shutdown_default_executor())
            finally:
                with self._calls_lock:
                    self.loop.close()
                    # A call that raced with close() was queued but will never run.
                    for call in self._calls:
                        if not call.done():
                            call.set_exception(_closed_error())
                    self._calls.clear()
                self._finished.set_result(None)

    async def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        with self._calls_lock:
            if self.loop.is_closed():
                coroutine.close()
                raise _closed_error()
            future = asyncio.run_coroutine_threadsafe(coroutine, self.loop)
            self._calls.add(future)
        try:
            return await asyncio.wrap_future(future)
        finally:
            with self._calls_lock:
                self._calls.discard(future)

    async def stop(self) -> None:
        atexit.unregister(self._stop_at_exit)
        if not self._finished.done():
            self.loop.call_soon_threadsafe(self.loop.stop)
            await asyncio.wrap_future(self._finished)
        self._thread.join()

    def _stop_at_exit(self) -> None:
        # The interpreter is exiting without close(): kill the workers before it does (the
        # server script would notice on its own, but a hung one could not).
        if self._finished.done():
            return
        future = asyncio.run_coroutine_threadsafe(self._close(), self.loop)
        with contextlib.suppress(Exception):
            future.result(_CLOSE_AT_EXIT_TIMEOUT)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self._finished.result(_CLOSE_AT_EXIT_TIMEOUT)


def _closed_error() -> PdfConversionError:
    return PdfConversionError("this PDF converter is closed", code="pdf_closed")


class _Pool:
    """The pool proper. Every method runs on the runner's loop."""

    def __init__(self, settings: _Settings) -> None:
        self.settings = settings
        self.slots = [_Slot(i) for i in range(settings.workers)]
        self.counters = _Counters()
        self._queue: asyncio.Queue[_Job] | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._start_lock: asyncio.Lock | None = None
        self._started = False
        self._closed = False
        self._dir: Path | None = None
        self._soffice_binary = ""
        self._python = ""

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        if self._start_lock is None:
            self._start_lock = asyncio.Lock()
        async with self._start_lock:
            if self._closed:
                raise _closed_error()
            if self._started:
                return
            self._soffice_binary = office_binary(require_soffice(self.settings.soffice))
            self._python = await find_python(self._soffice_binary, self.settings.python)
            self._dir = Path(tempfile.mkdtemp(prefix="docg-pdf-"))
            outcomes = await asyncio.gather(
                *(self._start_worker(slot) for slot in self.slots), return_exceptions=True
            )
            failures = [o for o in outcomes if isinstance(o, BaseException)]
            if failures:
                await self._stop_all()
                shutil.rmtree(self._dir, ignore_errors=True)
                if not all(isinstance(f, WorkerFailed) for f in failures):
                    raise failures[0]
                raise PdfWorkerError(
                    f"LibreOffice did not start: {failures[0]}", code="pdf_worker_start"
                )
            self._queue = asyncio.Queue(self.settings.queue_size)
            self._tasks = [
                asyncio.create_task(self._serve(slot), name=f"docg-pdf-worker-{slot.index}")
                for slot in self.slots
            ]
            self._started = True

    async def close(self) -> None:
        self._closed = True
        if self._start_lock is None:
            return
        async with self._start_lock:  # let a start in progress finish first
            for task in self._tasks:
                task.cancel()
            await asyncio.gather(*self._tasks, return_exceptions=True)
            jobs = [slot.job for slot in self.slots]
            while self._queue is not None and not self._queue.empty():
                jobs.append(self._queue.get_nowait())
            for job in jobs:
                if job is not None and not job.future.done():
                    job.future.set_exception(
                        PdfConversionError(
                            "the PDF converter was closed before this document was converted",
                            code="pdf_closed",
                        )
                    )
                    job.future.exception()  # a closing caller may no longer be listening
            await self._stop_all()
            if self._dir is not None:
                shutil.rmtree(self._dir, ignore_errors=True)

    async def _stop_all(self) -> None:
        await asyncio.gather(*(self._stop_worker(slot) for slot in self.slots))

    async def _start_worker(self, slot: _Slot) -> None:
        assert self._dir is not None
        slot.generation += 1
        worker = OfficeWorker(
            name=f"w{slot.index}",
            base_dir=self._dir,
            soffice_binary=self._soffice_binary,
            python=self._python,
        )
        await worker.start(self.settings.startup_timeout)
        slot.worker = worker

    async def _stop_worker(self, slot: _Slot) -> None:
        if slot.worker is not None:
            await slot.worker.stop()  # if cancelled here, close() stops it again
            slot.worker = None

    async def _replace_worker(self, slot: _Slot, reason: str) -> None:
        """Kill the slot's worker and start another (a start failure is logged, not raised:
        the next job tries again)."""
        logger.warning("replacing PDF worker %s: %s", slot.index, reason)
        await self._stop_worker(slot)
        try:
            await self._start_worker(slot)
        except WorkerFailed as e:
            logger.error("PDF worker %s did not start: %s", slot.index, e)

    def status(self) -> list[WorkerStatus]:
        result = []
        for slot in self.slots:
            worker = slot.worker
            result.append(
                WorkerStatus(
                    slot=slot.index,
                    supervisor_pid=worker.process_group if worker else None,
                    server_pid=worker.server_pid if worker else None,
                    office_pid=worker.office_pid if worker else None,
                    jobs=worker.jobs if worker else 0,
                    generation=slot.generation,
                    busy=slot.job is not None,
                )
            )
        return result

    # -- jobs ---------------------------------------------------------------------------

    async def convert(self, data: bytes, fmt: InputFormat, pdf_a: bool) -> PdfResult:
        await self.start()
        assert self._queue is not None
        job = _Job(data, fmt, pdf_a, asyncio.get_running_loop().create_future())
        try:
            async with asyncio.timeout(self.settings.timeout):
                await self._queue.put(job)
        except TimeoutError:
            raise PdfPoolBusyError(
                f"the PDF converter is busy: {self.settings.queue_size} documents stayed "
                f"queued for {self.settings.timeout:g} s; try again later",
                code="pdf_busy",
            ) from None
        if self._closed:
            job.future.cancel()
            raise _closed_error()
        # Cancelling this call cancels the future; a worker then skips the job.
        return await job.future

    async def _serve(self, slot: _Slot) -> None:
        assert self._queue is not None
        while True:
            job = await self._queue.get()
            if job.future.done():  # the caller gave up while it was queued
                continue
            slot.job = job
            try:
                result = await self._run(slot, job)
            except PdfConversionError as e:
                if not job.future.done():
                    job.future.set_exception(e)
            except Exception as e:
                logger.exception("PDF worker %s failed unexpectedly", slot.index)
                if not job.future.done():
                    job.future.set_exception(
                        PdfWorkerError(f"the PDF converter failed: {e!r}", code="pdf_internal")
                    )
            else:
                self.counters.conversions += 1
                if not job.future.done():
                    job.future.set_result(result)
            finally:
                slot.job = None
            try:
                await self._maintain(slot)
            except Exception:  # never let the slot stop serving; the next job starts one
                logger.exception("PDF worker %s could not be replaced", slot.index)

    async def _maintain(self, slot: _Slot) -> None:
        """After a job: replace a worker that was killed, recycle one that did enough."""
        worker = slot.worker
        if worker is None:
            await self._replace_worker(slot, "its last job failed")
        elif worker.jobs >= self.settings.max_jobs_per_worker:
            self.counters.recycled += 1
            logger.info("recycling PDF worker %s after %s jobs", slot.index, worker.jobs)
            await self._stop_worker(slot)
            with contextlib.suppress(WorkerFailed):
                await self._start_worker(slot)

    async def _run(self, slot: _Slot, job: _Job) -> PdfResult:
        """Convert on the slot's worker; once more on a fresh worker if that one fails."""
        ext = job.format.extension
        request = {
            "op": "convert",
            "extension": ext,
            "filter": job.format.import_filter,
            "pdf_a": job.pdf_a,
        }
        failure = ""
        failure_kind = ""
        for attempt in (1, 2):
            if attempt == 2:
                self.counters.retries += 1
            worker = slot.worker
            if worker is None or not worker.alive:
                if worker is not None:
                    self.counters.replaced += 1
                    await self._stop_worker(slot)
                try:
                    await self._start_worker(slot)
                except WorkerFailed as e:
                    failure, failure_kind = f"LibreOffice did not start: {e}", "start"
                    continue
                worker = slot.worker
                assert worker is not None
            try:
                header, payload = await worker.request(request, job.data, self.settings.timeout)
            except WorkerFailed as e:
                self.counters.replaced += 1
                await self._stop_worker(slot)
                failure = f"{e}; {worker.describe()}"
                failure_kind = "hang" if isinstance(e, WorkerHung) else "crash"
                logger.warning(
                    "PDF worker %s killed (attempt %s): %s", slot.index, attempt, failure
                )
                continue
            worker.jobs += 1
            if header.get("ok"):
                return checked_pdf(payload, ext)
            message = str(header.get("message", "unknown error"))
            kind = header.get("kind")
            if kind == "input":
                raise PdfInputError(
                    f"cannot convert this .{ext} document to PDF: {message}; "
                    "check that it opens in Word, PowerPoint or LibreOffice and that "
                    "input_format matches its content",
                    code="pdf_input_invalid",
                )
            if kind == "unavailable":
                raise PdfConversionError(
                    f"cannot convert .{ext} documents: {message}; install LibreOffice "
                    f"{job.format.module}",
                    code="pdf_format_unavailable",
                )
            # LibreOffice raised during the conversion: try a fresh process once.
            failure, failure_kind = message, "failed"
            self.counters.replaced += 1
            await self._stop_worker(slot)
        if failure_kind == "hang":
            raise PdfTimeoutError(
                f"converting a .{ext} document to PDF took longer than "
                f"{self.settings.timeout:g} s on two workers; {failure}",
                code="pdf_timeout",
            )
        if failure_kind == "failed":
            raise PdfConversionError(
                f"LibreOffice failed to convert this .{ext} document twice: {failure}",
                code="pdf_failed",
            )
        raise PdfWorkerError(
            f"the PDF worker failed twice converting a .{ext} document: {failure}",
            code="pdf_worker_crashed" if failure_kind == "crash" else "pdf_worker_start",
        )


# -- the shared converter ---------------------------------------------------------------

_shared: PdfConverter | None = None
_shared_lock = threading.Lock()


def get_converter() -> PdfConverter:
    """The process-wide converter (``$DOCG_PDF_WORKERS`` workers), created on first call.

    It may be used from any event loop and starts its workers on first use. Release it with
    :func:`shutdown_converter`; it is also closed when the interpreter exits.
    """
    global _shared
    with _shared_lock:
        if _shared is None or _shared.closed:
            _shared = PdfConverter()
        return _shared


async def shutdown_converter() -> None:
    """Close the process-wide converter, if one was created. The next
    :func:`get_converter` creates a new one."""
    global _shared
    with _shared_lock:
        converter, _shared = _shared, None
    if converter is not None:
        await converter.close()
