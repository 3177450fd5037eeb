"""`docg serve`'s HTTP protocol turns on TCP_NODELAY, even behind a listener bound like
uvicorn's ``--workers`` binds it (``proto`` 0, which asyncio does not take for TCP)."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from unittest import mock

import pytest
import sqlalchemy as sa
import uvicorn
from server.apikit import make_settings
from sqlalchemy.engine import URL
from starlette.types import Receive, Scope, Send
from uvicorn.server import ServerState

from docg_server import migrate
from docg_server.serving import (
    connection_budget_warning,
    http_protocol,
    reuse_port_supported,
    served_app,
)


async def _app(scope: Scope, receive: Receive, send: Send) -> None:
    raise AssertionError("no request is sent")


async def _server_side_no_delay(http: str) -> int:
    config = uvicorn.Config(app=_app, http=http, lifespan="off", log_level="warning")
    config.load()
    state = ServerState()
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)  # proto 0, as --workers
    listener.bind(("127.0.0.1", 0))
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: config.http_protocol_class(config=config, server_state=state, app_state={}),  # type: ignore[call-arg]
        sock=listener,
    )
    try:
        _, writer = await asyncio.open_connection(*listener.getsockname())
        for _ in range(200):
            if state.connections:
                break
            await asyncio.sleep(0.01)
        [protocol] = state.connections
        sock = protocol.transport.get_extra_info("socket")  # type: ignore[attr-defined]
        value: int = sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        writer.close()
        return value
    finally:
        server.close()
        await server.wait_closed()


async def test_connections_get_tcp_nodelay_from_a_listener_without_proto() -> None:
    assert await _server_side_no_delay(http_protocol()) != 0


async def test_uvicorns_own_protocol_leaves_it_off_there() -> None:
    """The condition the protocol exists for: if this starts failing, uvicorn fixed it."""
    assert await _server_side_no_delay("h11") == 0


# -- docg serve --workers: a listener per worker ---------------------------------------------

linux_only = pytest.mark.skipif(
    not (reuse_port_supported() and Path("/proc/net/tcp").exists()),
    reason="reads sockets from /proc and needs SO_REUSEPORT (Linux)",
)


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _tcp_sockets(port: int, state: str) -> set[str]:
    """Inodes of the TCP sockets on local ``port`` in ``state`` (01 established, 0A listen)."""
    found = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == state:
            found.add(fields[9])
    return found


def _owned(pid: int, inodes: set[str]) -> int:
    owned = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        with contextlib.suppress(OSError):
            owned += os.readlink(fd).removeprefix("socket:[").removesuffix("]") in inodes
    return owned


def _children(pid: int) -> list[int]:
    return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]


def _serve(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    url = f"sqlite:///{tmp_path / 'docg.db'}"
    migrate.upgrade(url)
    env = {
        **os.environ,
        "DATABASE_URL": url,
        "DOCG_PLUGINS": "server",
        "DOCG_STORAGE_DIR": str(tmp_path / "files"),
        "DOCG_LOG_FORMAT": "text",
    }
    docg = shutil.which("docg", path=str(Path(sys.executable).parent)) or "docg"
    command = [docg, "serve", "--port", str(port), "--workers", "2"]
    with (tmp_path / "serve.log").open("wb") as log:
        return subprocess.Popen(command, env=env, stderr=log)


@linux_only
def test_each_worker_listens_on_its_own_socket_and_takes_its_share(tmp_path: Path) -> None:
    port = _free_port()
    server = _serve(tmp_path, port)
    clients: list[socket.socket] = []
    try:
        deadline = time.monotonic() + 60
        while len(_tcp_sockets(port, "0A")) < 2:  # both workers listening
            assert server.poll() is None, (tmp_path / "serve.log").read_text()
            assert time.monotonic() < deadline, "the workers did not start listening"
            time.sleep(0.1)
        for _ in range(32):  # keep-alive clients, opened in one burst
            client = socket.create_connection(("127.0.0.1", port))
            client.sendall(b"GET /healthz HTTP/1.1\r\nHost: test\r\n\r\n")
            clients.append(client)
        for client in clients:
            assert client.recv(65536).startswith(b"HTTP/1.1 200")
        listening = _tcp_sockets(port, "0A")
        workers = [pid for pid in _children(server.pid) if _owned(pid, listening)]
        established = _tcp_sockets(port, "01")
        shares = [_owned(pid, established) for pid in workers]
        assert len(workers) == 2 and sum(shares) == 32
        assert min(shares) > 0, shares  # one shared listener lets one worker take them all
    finally:
        for client in clients:
            client.close()
        server.send_signal(signal.SIGTERM)
        assert server.wait(timeout=60) == 0


@linux_only
def test_a_port_that_is_taken_stops_serve_with_status_1(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = _serve(tmp_path, taken.getsockname()[1])
        assert server.wait(timeout=60) == 1
    assert "cannot listen on 127.0.0.1" in (tmp_path / "serve.log").read_text()


async def test_the_served_app_freezes_what_start_up_built(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'docg.db'}"
    migrate.upgrade(url)
    settings = make_settings(url)
    with mock.patch("docg_server.app.get_settings", return_value=settings):
        app = served_app()
    gc.unfreeze()
    try:
        async with app.router.lifespan_context(app):
            frozen = gc.get_freeze_count()
        assert frozen > 10_000
    finally:
        gc.unfreeze()  # a test process must not keep every app it builds


@linux_only
def test_workers_that_keep_exiting_at_start_stop_the_server(tmp_path: Path) -> None:
    options = {"app": "docg_server.no_such_module:app", "host": "127.0.0.1", "port": _free_port()}
    code = f"from docg_server.serving import run_workers; raise SystemExit(run_workers({options!r}, 2))"
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd=tmp_path
    )
    assert done.returncode == 1, done.stderr
    assert "could not start; stopping" in done.stderr


# -- the database connections every worker may open ------------------------------------------


def test_sqlite_has_no_connection_budget(sqlite_url: URL) -> None:
    assert connection_budget_warning(str(sqlite_url), per_worker=54, workers=64) is None


@pytest.mark.postgres
def test_workers_that_could_exhaust_postgres_connections_are_warned_about(
    postgres_url: URL,
) -> None:
    url = postgres_url.render_as_string(hide_password=False)
    engine = sa.create_engine(url, poolclass=sa.NullPool)
    with engine.connect() as connection:
        allowed = int(connection.exec_driver_sql("SHOW max_connections").scalar_one())
    engine.dispose()
    fits = (allowed - 3) // 2
    assert connection_budget_warning(url, per_worker=fits, workers=2) is None
    warning = connection_budget_warning(url, per_worker=fits + 1, workers=2)
    assert warning is not None
    assert f"up to {2 * (fits + 1)} database connections" in warning
    assert f"PostgreSQL accepts {allowed}" in warning


def test_an_unreachable_postgres_is_left_to_readyz() -> None:
    url = f"postgresql+psycopg://nobody@127.0.0.1:{_free_port()}/nothing?connect_timeout=2"
    assert connection_budget_warning(url, per_worker=54, workers=2) is None
