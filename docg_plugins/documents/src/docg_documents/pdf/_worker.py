"""One warm converter: a soffice.bin and the UNO server script that drives it.

Both are children of this process, in one process group of their own (led by the server), so
a kill reaches both and this process reaps both: nothing is left to an init process that might
never reap it. Each generation gets a fresh directory holding its LibreOffice user profile,
its working files and its log, removed when it stops.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import struct
import tempfile
from pathlib import Path
from typing import Any

from ._office import (
    RESTART_EXIT_CODE,
    SERVER_SCRIPT,
    office_args,
    office_env,
    remove_office_pipes,
    tail,
)

_LENGTH = struct.Struct("!I")
_MAX_HEADER = 1 << 20
_OFFICE_RESTARTS = 3
_REAP_TIMEOUT = 10.0

Reply = tuple[dict[str, Any], bytes]


class WorkerFailed(Exception):
    """The worker died, broke the protocol or did not start; it must be replaced."""


class WorkerHung(WorkerFailed):
    """The worker did not answer within the timeout."""


class OfficeWorker:
    """One generation of a worker slot. Not reused after :meth:`stop`."""

    def __init__(self, *, name: str, base_dir: Path, soffice_binary: str, python: str) -> None:
        self.name = name
        self.base_dir = base_dir
        self.soffice_binary = soffice_binary
        self.python = python
        self.server: asyncio.subprocess.Process | None = None
        self.office: asyncio.subprocess.Process | None = None
        self.dir: Path | None = None
        self.pipe = f"docg-pdf-{secrets.token_hex(8)}"
        self.jobs = 0
        self._log_tail = ""

    # -- lifecycle ----------------------------------------------------------------------

    @property
    def profile_url(self) -> str:
        assert self.dir is not None
        return (self.dir / "profile").as_uri()

    @property
    def log_path(self) -> Path:
        assert self.dir is not None
        return self.dir / "worker.log"

    @property
    def alive(self) -> bool:
        return all(p is not None and p.returncode is None for p in (self.server, self.office))

    @property
    def process_group(self) -> int | None:
        return self.server.pid if self.server is not None else None

    async def start(self, seconds: float) -> None:
        """Start both processes; return once the server is connected to the office."""
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=self.base_dir))
        for sub in ("work", "tmp"):
            (self.dir / sub).mkdir()
        try:
            async with asyncio.timeout(seconds):
                with self.log_path.open("ab") as log:
                    self.server = await asyncio.create_subprocess_exec(
                        self.python,
                        "-I",
                        str(SERVER_SCRIPT),
                        "--pipe",
                        self.pipe,
                        "--workdir",
                        str(self.dir / "work"),
                        "--connect-timeout",
                        str(seconds),
                        stdin=asyncio.subprocess.PIPE,
                        stdout=asyncio.subprocess.PIPE,
                        stderr=log,
                        process_group=0,
                        cwd=self.dir / "work",
                    )
                await self._spawn_office()
                header, _ = await self._until_ready()
            if not header.get("ok"):
                raise WorkerFailed(str(header.get("message", "the worker did not start")))
        except TimeoutError:
            await self.stop()
            raise WorkerHung(
                self._failure(f"LibreOffice did not start within {seconds:g} s")
            ) from None
        except WorkerFailed as e:
            await self.stop()
            raise WorkerFailed(self._failure(str(e))) from None
        except BaseException:
            await self.stop()
            raise

    async def _spawn_office(self) -> None:
        assert self.server is not None and self.dir is not None
        with self.log_path.open("ab") as log:
            self.office = await asyncio.create_subprocess_exec(
                self.soffice_binary,
                *office_args(self.profile_url, f"--accept=pipe,name={self.pipe};urp;"),
                stdin=asyncio.subprocess.DEVNULL,
                stdout=log,
                stderr=log,
                process_group=self.server.pid,
                cwd=self.dir / "work",
                env=office_env(self.dir / "tmp"),
            )

    async def _until_ready(self) -> Reply:
        """The server's first frame, starting the office again if it asks for a restart."""
        assert self.server is not None and self.server.stdout is not None
        ready = asyncio.ensure_future(_read_frame(self.server.stdout))
        try:
            for _ in range(_OFFICE_RESTARTS + 1):
                assert self.office is not None
                exited = asyncio.ensure_future(self.office.wait())
                await asyncio.wait((ready, exited), return_when=asyncio.FIRST_COMPLETED)
                exited.cancel()
                if ready.done():
                    try:
                        return ready.result()
                    except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                        raise WorkerFailed("the worker exited while starting") from None
                if self.office.returncode != RESTART_EXIT_CODE:
                    raise WorkerFailed(
                        f"LibreOffice exited with status {self.office.returncode} while starting"
                    )
                await self._spawn_office()
            raise WorkerFailed("LibreOffice kept asking to be restarted")
        finally:
            ready.cancel()

    async def stop(self) -> None:
        """Kill both processes (whole group), reap them, delete every file they used."""
        processes = [p for p in (self.server, self.office) if p is not None]
        if self.server is not None and any(p.returncode is None for p in processes):
            # The group outlives its leader while the office is in it, and its id cannot be
            # reused before then, so this never reaches anyone else's processes.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(self.server.pid, signal.SIGKILL)
        for process in processes:
            if process.returncode is None:
                with contextlib.suppress(ProcessLookupError):
                    process.kill()
        if self.server is not None and self.server.stdin is not None:
            self.server.stdin.close()
        for process in processes:
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(_REAP_TIMEOUT):
                    await process.wait()
        if self.dir is not None and self.dir.exists():
            self._log_tail = tail(self.log_path)
            remove_office_pipes(self.profile_url, self.pipe)
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- requests -----------------------------------------------------------------------

    async def request(self, header: dict[str, Any], payload: bytes, seconds: float) -> Reply:
        """Send one request and wait for its reply; WorkerFailed / WorkerHung if there is none."""
        server = self.server
        assert server is not None and server.stdin is not None and server.stdout is not None
        body = json.dumps({**header, "size": len(payload)}).encode()
        try:
            async with asyncio.timeout(seconds):
                server.stdin.write(_LENGTH.pack(len(body)) + body + payload)
                await server.stdin.drain()
                return await _read_frame(server.stdout)
        except TimeoutError:
            raise WorkerHung(f"no answer within {seconds:g} s") from None
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as e:
            raise WorkerFailed(f"the worker died ({type(e).__name__})") from None

    def describe(self) -> str:
        """Exit statuses and the end of the log, once the processes are stopped."""
        return self._failure("")

    def _failure(self, what: str) -> str:
        parts = [what] if what else []
        for label, process in (("server", self.server), ("soffice", self.office)):
            if process is not None and process.returncode is not None:
                parts.append(f"{label} exit status {process.returncode}")
        log = tail(self.log_path) if self.dir is not None and self.dir.exists() else self._log_tail
        if log:
            parts.append(f"log: {log}")
        return "; ".join(parts)


async def _read_frame(reader: asyncio.StreamReader) -> Reply:
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if length > _MAX_HEADER:
        raise ValueError("bad frame")
    header = json.loads(await reader.readexactly(length))
    if not isinstance(header, dict):
        raise ValueError("bad frame")
    size = int(header.get("size", 0))
    return header, await reader.readexactly(size) if size else b""
