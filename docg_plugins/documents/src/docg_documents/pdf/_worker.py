"""One warm converter: a supervisor process, and under it soffice.bin and the UNO server.

::

    this process ── supervisor (own process group, child subreaper; see ._supervisor)
                     ├── UNO server script  ◀── stdin/stdout: the pool's requests and replies
                     └── soffice.bin        ◀── UNO pipe from the server
                          └── helpers LibreOffice starts (gpg…), reaped by the supervisor

Stopping sends SIGTERM to the supervisor, which kills and reaps everything under it, then
exits; this process reaps the supervisor. If the supervisor does not exit in time, the whole
process group is killed. Each generation has a fresh directory — LibreOffice user profile,
working files, log — deleted when it stops.
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
import sys
import tempfile
from pathlib import Path
from typing import Any

from ._office import (
    SERVER_SCRIPT,
    SUPERVISOR_SCRIPT,
    office_args,
    office_env,
    office_pipe_paths,
    remove_office_pipes,
    tail,
)

_LENGTH = struct.Struct("!I")
_MAX_HEADER = 1 << 20
_STOP_GRACE = 6.0  # the supervisor's own teardown takes at most 5 s
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
        self.supervisor: asyncio.subprocess.Process | None = None
        self.server_pid: int | None = None
        self.office_pid: int | None = None
        self.dir: Path | None = None
        self.pipe = f"docg-pdf-{secrets.token_hex(8)}"
        self.jobs = 0
        self._log_tail = ""

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
        return self.supervisor is not None and self.supervisor.returncode is None

    @property
    def process_group(self) -> int | None:
        return self.supervisor.pid if self.supervisor is not None else None

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self, seconds: float) -> None:
        """Start the processes; return once the server is connected to the office."""
        self.dir = Path(tempfile.mkdtemp(prefix=f"{self.name}-", dir=self.base_dir))
        work, tmp = self.dir / "work", self.dir / "tmp"
        work.mkdir()
        tmp.mkdir()
        spec = {
            "office": [
                self.soffice_binary,
                *office_args(self.profile_url, f"--accept=pipe,name={self.pipe};urp;"),
            ],
            "server": [
                self.python,
                "-I",
                str(SERVER_SCRIPT),
                "--pipe",
                self.pipe,
                "--workdir",
                str(work),
                "--connect-timeout",
                str(seconds),
            ],
            "pids_file": str(self.dir / "pids.json"),
            # What the pool would delete, for the supervisor to delete if the pool dies.
            "orphan_cleanup": {
                "tree": str(self.dir),
                "empty_dir": str(self.base_dir),
                "files": office_pipe_paths(self.profile_url, self.pipe),
            },
        }
        try:
            async with asyncio.timeout(seconds):
                self.supervisor = await start_supervisor(
                    spec, log=self.log_path, cwd=work, tmp=tmp, pipes=True
                )
                assert self.supervisor.stdout is not None
                try:
                    header, _ = await _read_frame(self.supervisor.stdout)
                except (asyncio.IncompleteReadError, ConnectionError, ValueError):
                    raise WorkerFailed("the worker exited while starting") from None
            if not header.get("ok"):
                raise WorkerFailed(str(header.get("message", "the worker did not start")))
            pids = json.loads((self.dir / "pids.json").read_text())
            self.server_pid, self.office_pid = pids["server"], pids["office"]
        except TimeoutError:
            await self.stop()
            raise WorkerHung(
                self._failure(f"LibreOffice did not start within {seconds:g} s")
            ) from None
        except WorkerFailed as e:
            await self.stop()
            raise WorkerFailed(self._failure(str(e))) from None
        except OSError as e:  # could not run the supervisor, or it wrote no pids
            await self.stop()
            raise WorkerFailed(self._failure(f"the worker did not start: {e}")) from None
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop every process of the worker, reap them, delete every file they used."""
        if self.supervisor is not None:
            await stop_supervisor(self.supervisor)
        if self.dir is not None and self.dir.exists():
            self._log_tail = tail(self.log_path)
            remove_office_pipes(self.profile_url, self.pipe)
            shutil.rmtree(self.dir, ignore_errors=True)

    # -- requests -----------------------------------------------------------------------

    async def request(self, header: dict[str, Any], payload: bytes, seconds: float) -> Reply:
        """Send one request, wait for its reply; WorkerFailed / WorkerHung if none comes."""
        process = self.supervisor
        assert process is not None and process.stdin is not None and process.stdout is not None
        body = json.dumps({**header, "size": len(payload)}).encode()
        try:
            async with asyncio.timeout(seconds):
                process.stdin.write(_LENGTH.pack(len(body)) + body + payload)
                await process.stdin.drain()
                return await _read_frame(process.stdout)
        except TimeoutError:
            raise WorkerHung(f"no answer within {seconds:g} s") from None
        except (asyncio.IncompleteReadError, ConnectionError, ValueError) as e:
            raise WorkerFailed(f"the worker died ({type(e).__name__})") from None

    def describe(self) -> str:
        """Exit status and the end of the log, once the worker is stopped."""
        return self._failure("")

    def _failure(self, what: str) -> str:
        parts = [what] if what else []
        if self.supervisor is not None and self.supervisor.returncode is not None:
            parts.append(f"supervisor exit status {self.supervisor.returncode}")
        log = tail(self.log_path) if self.dir is not None and self.dir.exists() else self._log_tail
        if log:
            parts.append(f"log: {log}")
        return "; ".join(parts)


async def start_supervisor(
    spec: dict[str, Any], *, log: Path, cwd: Path, tmp: Path, pipes: bool
) -> asyncio.subprocess.Process:
    """Start a supervisor (in a new process group) for the processes ``spec`` describes."""
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-I",
            "-S",
            str(SUPERVISOR_SCRIPT),
            json.dumps(spec),
            stdin=asyncio.subprocess.PIPE if pipes else asyncio.subprocess.DEVNULL,
            stdout=asyncio.subprocess.PIPE if pipes else out,
            stderr=out,
            process_group=0,
            cwd=cwd,
            env=office_env(tmp),
        )


async def stop_supervisor(process: asyncio.subprocess.Process) -> None:
    """SIGTERM, so that it kills and reaps everything under it; then reap it.

    If it does not exit in time (stopped, hung) or was itself killed by a signal (so could not
    clean up), its whole process group is killed. The group id cannot be reused while any
    member lives, so that reaches only our processes.
    """
    if process.returncode is None:
        with contextlib.suppress(ProcessLookupError):
            process.send_signal(signal.SIGTERM)
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout(_STOP_GRACE):
                await process.wait()
    if process.returncode is None or process.returncode < 0:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signal.SIGKILL)
    if process.stdin is not None:
        process.stdin.close()
    with contextlib.suppress(TimeoutError):
        async with asyncio.timeout(_REAP_TIMEOUT):
            await process.wait()


async def _read_frame(reader: asyncio.StreamReader) -> Reply:
    (length,) = _LENGTH.unpack(await reader.readexactly(_LENGTH.size))
    if length > _MAX_HEADER:
        raise ValueError("bad frame")
    header = json.loads(await reader.readexactly(length))
    if not isinstance(header, dict):
        raise ValueError("bad frame")
    size = int(header.get("size", 0))
    return header, await reader.readexactly(size) if size else b""
