"""Status writes of the workers in this process, for :meth:`TemporalRunner.wait` here.

A worker's activities write each execution's status to the store; when the runner that
waits for that execution shares the store (and so the process), they also tell it here, so
the wait reads the store at once instead of at its next poll or at the end of a long poll
on the Temporal server. Writes by other processes are still found by the wait's own reads.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
import weakref
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["StatusBoard", "status_board"]


class _Wake:
    """One wait's wake-up, set from any thread or event loop."""

    def __init__(self) -> None:
        self.loop = asyncio.get_running_loop()
        self.event = asyncio.Event()

    def set(self) -> None:
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self.loop:
            self.event.set()
            return
        with contextlib.suppress(RuntimeError):  # its loop is closed: nobody waits
            self.loop.call_soon_threadsafe(self.event.set)


class StatusBoard:
    """The waits of one store's executions in this process, and whether a worker here
    writes to that store."""

    def __init__(self) -> None:
        self._waits: dict[str, set[_Wake]] = {}
        self._lock = threading.Lock()
        self._workers: weakref.WeakSet[object] = weakref.WeakSet()

    def add_worker(self, activities: object) -> None:
        """``activities`` (kept weakly) write status changes here."""
        with self._lock:
            self._workers.add(activities)

    @property
    def has_worker(self) -> bool:
        """Whether a worker in this process writes to the store."""
        with self._lock:
            return len(self._workers) > 0

    @contextmanager
    def watch(self, execution_id: str) -> Iterator[asyncio.Event]:
        """An event set when a worker here writes the status of ``execution_id``; enter it
        before reading the store, so that no write in between goes unnoticed."""
        wake = _Wake()
        with self._lock:
            self._waits.setdefault(execution_id, set()).add(wake)
        try:
            yield wake.event
        finally:
            with self._lock:
                waits = self._waits.get(execution_id)
                if waits is not None:
                    waits.discard(wake)
                    if not waits:
                        del self._waits[execution_id]

    def changed(self, execution_id: str) -> None:
        """The status of ``execution_id`` was written to the store."""
        with self._lock:
            waits = list(self._waits.get(execution_id, ()))
        for wake in waits:
            wake.set()


_boards: weakref.WeakKeyDictionary[object, StatusBoard] = weakref.WeakKeyDictionary()
_boards_lock = threading.Lock()


def status_board(store: object) -> StatusBoard:
    """The board of ``store`` (an execution store) in this process."""
    with _boards_lock:
        try:
            board = _boards.get(store)
            if board is None:
                board = _boards[store] = StatusBoard()
        except TypeError:  # a store that cannot be weakly referenced shares nothing
            board = StatusBoard()
    return board
