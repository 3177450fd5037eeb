"""The root of one PDF worker's process tree: starts LibreOffice and reaps everything under it.

LibreOffice starts helpers of its own (gpgme runs ``gpgconf``, ``gpg`` and ``gpgsm`` through a
double fork, so that they are orphaned at once). An orphan goes to the nearest "child
subreaper" above it, else to PID 1 — and in a container PID 1 is often a process that never
reaps, so each conversion would leave zombies behind. This process declares itself a child
subreaper (Linux), starts the office and the UNO server (:mod:`._uno_server`) as its children,
and reaps whatever ends up under it.

It stops — killing every process of its group and every child it has, and reaping them all —
when it gets SIGTERM (the pool stopping the worker), when the UNO server exits, when the office
exits (other than asking for a restart), or when its parent (the pool) is gone; in that last
case it also deletes the worker's files, as the pool would have.

Its stdin and stdout are handed to the UNO server: the pool talks to the server directly.
One-shot mode (no server): it runs the office once and exits with the office's status.

Run with any Python 3.11+ (the pool uses its own, ``-I -S``); standard library only.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import shutil
import signal
import subprocess
import sys
import time
from typing import Any

# soffice.bin asks to be started again after it creates a user profile (its launcher,
# oosplash, normally does that for it).
RESTART_EXIT_CODE = 81
_MAX_RESTARTS = 3
_PR_SET_CHILD_SUBREAPER = 36
_TEARDOWN_SECONDS = 5.0
_POLL_SECONDS = 0.5


def become_subreaper() -> None:
    if sys.platform.startswith("linux"):
        with contextlib.suppress(OSError, AttributeError):
            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(_PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def my_children() -> set[int]:
    """Direct children (Linux /proc; empty elsewhere)."""
    children: set[int] = set()
    with contextlib.suppress(OSError):
        for task in os.listdir(f"/proc/{os.getpid()}/task"):
            with (
                contextlib.suppress(OSError),
                open(f"/proc/{os.getpid()}/task/{task}/children") as f,
            ):
                children.update(int(pid) for pid in f.read().split())
    return children


def my_group() -> set[int]:
    """Other processes of this process group (Linux /proc; empty elsewhere)."""
    group, me, members = os.getpgrp(), os.getpid(), set()
    with contextlib.suppress(OSError):
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == me:
                continue
            with (
                contextlib.suppress(OSError, ValueError, IndexError),
                open(f"/proc/{entry}/stat") as f,
            ):
                if int(f.read().rsplit(")", 1)[1].split()[2]) == group:
                    members.add(int(entry))
    return members


class Supervisor:
    def __init__(self, spec: dict[str, Any]) -> None:
        self.office_argv: list[str] = spec["office"]
        self.server_argv: list[str] | None = spec.get("server")
        self.pids_file: str | None = spec.get("pids_file")
        self.orphan_cleanup: dict[str, Any] = spec.get("orphan_cleanup") or {}
        self.orphaned = False
        self.parent = os.getppid()
        self.office: subprocess.Popen[bytes] | None = None
        self.server: subprocess.Popen[bytes] | None = None
        self.restarts = 0
        self.stopping = False
        self.office_status: int | None = None
        self.known: set[int] = set()

    def run(self) -> int:
        become_subreaper()
        wake_r, wake_w = os.pipe()
        os.set_blocking(wake_w, False)
        signal.set_wakeup_fd(wake_w)
        for signum in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
            signal.signal(signum, self._on_stop)
        signal.signal(signal.SIGCHLD, lambda *_: None)  # only to wake the loop

        if self.server_argv is not None:
            # The server inherits our stdin/stdout (the pool's pipes); then we let go of them,
            # so that the pool sees end-of-file as soon as the server is gone.
            self.server = subprocess.Popen(self.server_argv)  # noqa: S603 - argv from the pool
            self.known.add(self.server.pid)
            devnull = os.open(os.devnull, os.O_RDWR)
            os.dup2(devnull, 0)
            os.dup2(devnull, 1)
            os.close(devnull)
        self._start_office()

        while not self.stopping:
            self._reap(block=False)
            if os.getppid() != self.parent:
                self.stopping = self.orphaned = True
            if not self.stopping:
                with contextlib.suppress(InterruptedError):
                    select.select([wake_r], [], [], _POLL_SECONDS)
                with contextlib.suppress(BlockingIOError):
                    os.read(wake_r, 4096)
        self._teardown()
        if self.orphaned:
            self._clean_up_for_the_pool()
        if self.server_argv is None:
            return self.office_status if self.office_status is not None else 1
        return 0

    def _on_stop(self, signum: int, frame: object) -> None:
        self.stopping = True

    def _start_office(self) -> None:
        self.office = subprocess.Popen(  # noqa: S603 - argv from the pool
            self.office_argv, stdin=subprocess.DEVNULL, stdout=sys.stderr.fileno()
        )
        self.known.add(self.office.pid)
        if self.pids_file:
            server = self.server.pid if self.server else None
            with open(self.pids_file + ".tmp", "w") as f:
                json.dump({"server": server, "office": self.office.pid}, f)
            os.replace(self.pids_file + ".tmp", self.pids_file)

    def _reap(self, *, block: bool) -> bool:
        """Reap every exited child; False once there are no children at all."""
        while True:
            try:
                pid, status = os.waitpid(-1, 0 if block else os.WNOHANG)
            except ChildProcessError:
                return False
            if pid == 0:
                return True
            code = os.waitstatus_to_exitcode(status)
            if self.office is not None and pid == self.office.pid:
                self.office.returncode = code
                if code == RESTART_EXIT_CODE and self.restarts < _MAX_RESTARTS:
                    if not self.stopping:
                        self.restarts += 1
                        self._start_office()
                else:
                    self.office_status = code
                    self.stopping = True
            elif self.server is not None and pid == self.server.pid:
                self.server.returncode = code
                self.stopping = True
            # Anything else is an orphan that was handed to us: reaped, nothing more to do.

    def _teardown(self) -> None:
        """Kill everything under us and reap it all."""
        deadline = time.monotonic() + _TEARDOWN_SECONDS
        while True:
            victims = my_children() | my_group()
            victims |= {
                p.pid for p in (self.server, self.office) if p is not None and p.returncode is None
            }
            for pid in victims:
                with contextlib.suppress(OSError):
                    os.kill(pid, signal.SIGKILL)
            if not self._reap(block=False) or time.monotonic() > deadline:
                return
            time.sleep(0.02)

    def _clean_up_for_the_pool(self) -> None:
        for path in self.orphan_cleanup.get("files", []):
            with contextlib.suppress(OSError):
                os.unlink(path)
        if tree := self.orphan_cleanup.get("tree"):
            shutil.rmtree(tree, ignore_errors=True)
        if empty_dir := self.orphan_cleanup.get("empty_dir"):
            with contextlib.suppress(OSError):  # another worker's files may still be there
                os.rmdir(empty_dir)


def main() -> int:
    spec = json.loads(sys.argv[1])
    return Supervisor(spec).run()


if __name__ == "__main__":
    sys.exit(main())
