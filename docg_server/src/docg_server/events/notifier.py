"""Wake-ups for run event streams in this process.

The store is the source of truth for run events; a :class:`RunNotifier` only tells the
streams of an execution that something was written, so they read the store at once instead
of at their next poll. Writers in other processes (another server, a Temporal worker) are
found by that poll. :meth:`RunNotifier.notify` is safe from any thread or event loop.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["RunNotifier", "Subscription"]


class Subscription:
    """One stream's wake-up for one execution (see :meth:`RunNotifier.subscribe`)."""

    def __init__(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._event = asyncio.Event()

    def set(self) -> None:
        """Wake the stream; from its own loop directly, from anywhere else thread-safely."""
        try:
            running = asyncio.get_running_loop()
        except RuntimeError:
            running = None
        if running is self._loop:
            self._event.set()
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: nobody is listening
            self._loop.call_soon_threadsafe(self._event.set)

    async def wait(self, timeout: float) -> bool:  # noqa: ASYNC109 - a poll interval, not a deadline
        """True if woken within ``timeout`` seconds; either way the next wait starts afresh."""
        try:
            async with asyncio.timeout(timeout):
                await self._event.wait()
            return True
        except TimeoutError:
            return False
        finally:
            self._event.clear()


class RunNotifier:
    """Execution id → the subscriptions of the streams reading it."""

    def __init__(self) -> None:
        self._subscriptions: dict[str, set[Subscription]] = {}
        self._lock = threading.Lock()

    @contextmanager
    def subscribe(self, execution_id: str) -> Iterator[Subscription]:
        """A subscription for the duration of the block; subscribe before the first read so
        that no write between the read and the wait goes unnoticed."""
        subscription = Subscription()
        with self._lock:
            self._subscriptions.setdefault(execution_id, set()).add(subscription)
        try:
            yield subscription
        finally:
            with self._lock:
                subscribers = self._subscriptions.get(execution_id)
                if subscribers is not None:
                    subscribers.discard(subscription)
                    if not subscribers:
                        del self._subscriptions[execution_id]

    def notify(self, execution_id: str) -> None:
        """Something about ``execution_id`` was written to the store."""
        with self._lock:
            subscribers = list(self._subscriptions.get(execution_id, ()))
        for subscription in subscribers:
            subscription.set()

    def subscribers(self, execution_id: str) -> int:
        """How many streams read ``execution_id`` (for tests and diagnostics)."""
        with self._lock:
            return len(self._subscriptions.get(execution_id, ()))
