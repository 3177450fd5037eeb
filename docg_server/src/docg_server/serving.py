"""How ``docg serve`` runs uvicorn: ``TCP_NODELAY`` on every connection, and with several
workers, a listener per worker.

With ``--workers N`` uvicorn binds the listening socket itself and leaves its ``proto`` at 0;
accepted sockets inherit it, and asyncio only turns on ``TCP_NODELAY`` for sockets that say
``IPPROTO_TCP``. Nagle's algorithm then holds each response's last segment until the client's
delayed ACK: about 40 ms on every keep-alive request after the first, on Linux. These
protocols set the option when a connection is made, whatever the listener.

:func:`run_workers` supervises the worker processes, each listening on its own
``SO_REUSEPORT`` socket, so the kernel spreads connections evenly (see :func:`listener`).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import importlib.util
import logging
import multiprocessing
import os
import signal
import socket
import sys
import threading
import time
from collections.abc import AsyncIterator
from multiprocessing.process import BaseProcess
from typing import Any

import uvicorn
from fastapi import FastAPI
from uvicorn.protocols.http.h11_impl import H11Protocol

__all__ = [
    "NoDelayH11Protocol",
    "connection_budget_warning",
    "http_protocol",
    "listener",
    "reuse_port_supported",
    "run_workers",
    "served_app",
]

logger = logging.getLogger("docg.server")


def served_app() -> FastAPI:
    """The application as ``docg serve`` runs it: :func:`~docg_server.app.create_app`, and
    once it has started, every object it built is moved out of the garbage collector's sight
    (``gc.freeze()``). They live as long as the process; without this, each full collection
    walks them all again — about 90 ms, during which no request is answered."""
    from .app import create_app

    app = create_app()
    started = app.router.lifespan_context

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[Any]:
        async with started(app) as state:
            gc.collect()
            gc.freeze()
            yield state

    app.router.lifespan_context = lifespan
    return app


def _no_delay(transport: asyncio.BaseTransport) -> None:
    sock = transport.get_extra_info("socket")
    if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
        with contextlib.suppress(OSError):
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


class NoDelayH11Protocol(H11Protocol):
    """uvicorn's h11 protocol, with ``TCP_NODELAY`` set on the connection."""

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        _no_delay(transport)
        super().connection_made(transport)


if importlib.util.find_spec("httptools") is not None:
    from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

    class NoDelayHttpToolsProtocol(HttpToolsProtocol):
        """uvicorn's httptools protocol, with ``TCP_NODELAY`` set on the connection."""

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            _no_delay(transport)
            super().connection_made(transport)


def http_protocol() -> str:
    """The import string of the protocol for ``uvicorn.run(http=...)``: httptools when it is
    installed (as uvicorn's ``auto`` would pick), else h11."""
    if importlib.util.find_spec("httptools") is not None:
        return f"{__name__}:NoDelayHttpToolsProtocol"
    return f"{__name__}:NoDelayH11Protocol"


# -- several worker processes, each with its own listener ------------------------------------

STARTUP_FAILURE = 3
"""Exit status of a worker that could not start (uvicorn's own, for a failed lifespan)."""
RESTART_DELAY_SECONDS = 1.0
QUICK_EXIT_SECONDS = 10.0
QUICK_EXITS_ALLOWED = 3
"""A worker slot whose processes exit this many times in a row, each within
``QUICK_EXIT_SECONDS`` of starting, cannot start (say, the app does not import): the server
stops instead of restarting it forever."""
STOP_TIMEOUT_SECONDS = 60.0
"""How long the supervisor waits for its workers to finish in-flight work after SIGTERM."""


def reuse_port_supported() -> bool:
    """True where several listeners can share a port and the kernel spreads connections
    over them (``SO_REUSEPORT``: Linux, the BSDs, macOS)."""
    return hasattr(socket, "SO_REUSEPORT")


def listener(host: str, port: int) -> socket.socket:
    """A listening TCP socket on ``host:port`` that other processes may bind too
    (``SO_REUSEPORT``): each worker has its own, so the kernel balances new connections
    between workers. One shared listener lets whichever worker wakes first take a whole burst
    of connections — with keep-alive clients, every later request of theirs too."""
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind(address)
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock


def _worker(options: dict[str, Any]) -> None:
    """One worker process: uvicorn on its own listener."""
    config = uvicorn.Config(**options)
    try:
        sock = listener(config.host, config.port)
    except OSError as exc:
        logger.error("cannot listen on %s:%s: %s", config.host, config.port, exc)
        sys.exit(STARTUP_FAILURE)
    uvicorn.Server(config).run(sockets=[sock])


def run_workers(options: dict[str, Any], workers: int) -> int:
    """Run ``workers`` processes of ``uvicorn.Config(**options)``, each on its own
    ``SO_REUSEPORT`` listener; the exit status.

    A worker that dies is replaced; one that fails at start-up (the app, the settings or the
    port; or that keeps exiting right after it started) stops them all, status 1. SIGTERM or
    SIGINT stops every worker gracefully (each finishes its requests and hands back its
    runs), status 0.
    """
    uvicorn.Config(**options)  # checks the options and sets up logging in this process too
    context = multiprocessing.get_context("spawn")
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    signal.signal(signal.SIGINT, lambda *_: stopping.set())

    def start() -> tuple[BaseProcess, float]:
        process = context.Process(target=_worker, args=(options,), name="docg-serve-worker")
        process.start()
        return process, time.monotonic()

    processes = [start() for _ in range(workers)]
    quick_exits = [0] * workers
    logger.info(
        "serving on %s:%s with %d worker processes %s",
        options["host"],
        options["port"],
        workers,
        [p.pid for p, _ in processes],
    )
    status = 0
    while not stopping.wait(0.5):
        for index, (process, started) in enumerate(processes):
            if process.is_alive():
                continue
            quick = time.monotonic() - started < QUICK_EXIT_SECONDS
            quick_exits[index] = quick_exits[index] + 1 if quick else 0
            if process.exitcode == STARTUP_FAILURE or quick_exits[index] >= QUICK_EXITS_ALLOWED:
                logger.error("worker %s could not start; stopping", process.pid)
                status = 1
                stopping.set()
                break
            logger.warning("worker %s exited (%s); starting another", process.pid, process.exitcode)
            time.sleep(RESTART_DELAY_SECONDS)
            processes[index] = start()
    for process, _ in processes:
        if process.is_alive() and process.pid is not None:
            os.kill(process.pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_SECONDS
    for process, _ in processes:
        process.join(max(0.0, deadline - time.monotonic()))
        if process.is_alive():
            logger.warning("worker %s did not stop in time; killing it", process.pid)
            process.kill()
            process.join()
    return status


# -- database connections for every worker ---------------------------------------------------

RESERVED_CONNECTIONS = 3
"""PostgreSQL's ``superuser_reserved_connections`` default: slots ordinary clients never get."""


def connection_budget_warning(url: str, per_worker: int, workers: int) -> str | None:
    """A warning when ``workers`` processes, each opening up to ``per_worker`` connections,
    could need more than the PostgreSQL server at ``url`` accepts; None when they fit (or
    for SQLite, or when the server cannot be asked now — ``/readyz`` tells about that)."""
    import sqlalchemy as sa

    from .db import create_db_engine, normalise_url

    if normalise_url(url).get_backend_name() != "postgresql":
        return None
    engine = create_db_engine(url, poolclass=sa.NullPool)
    try:
        with engine.connect() as connection:
            allowed = int(connection.exec_driver_sql("SHOW max_connections").scalar_one())
    except sa.exc.SQLAlchemyError:
        return None
    finally:
        engine.dispose()
    needed = per_worker * workers
    if needed <= allowed - RESERVED_CONNECTIONS:
        return None
    return (
        f"{workers} worker(s) may open up to {needed} database connections "
        f"({per_worker} each: DATABASE_POOL_SIZE + DATABASE_MAX_OVERFLOW + 4 for the run "
        f"store) but PostgreSQL accepts {allowed} (max_connections, {RESERVED_CONNECTIONS} "
        "of them reserved); under load requests would answer 503. Raise max_connections or "
        "lower DATABASE_MAX_OVERFLOW"
    )
