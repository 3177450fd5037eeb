"""A run's events as a Server-Sent Events byte stream.

The stream starts with a ``retry:`` hint, then either a ``snapshot`` event (a fresh stream)
or the events after the client's ``Last-Event-ID``; then every change as it is read from the
store. It reads again as soon as this process writes to the run (:class:`.RunNotifier`), and
at least every ``poll`` seconds for writers elsewhere. A comment line is sent after
``heartbeat`` seconds of silence so proxies keep the connection open. The stream ends after
the event that reports the run finished, when the client disconnects, or when the run is
deleted; while the run runs or waits it stays open.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass

from .cursor import Cursor
from .notifier import RunNotifier
from .source import RunEvent, RunGone, RunReader

__all__ = ["HEARTBEAT", "StreamTiming", "encode_event", "run_event_stream"]

HEARTBEAT = b": heartbeat\n\n"


@dataclass(frozen=True)
class StreamTiming:
    """How often a stream reads the store and sends heartbeats; the reconnect hint."""

    poll: float = 1.0
    heartbeat: float = 15.0
    retry_ms: int = 3000


def encode_event(event: RunEvent) -> bytes:
    """One event on the wire (its JSON data is a single line)."""
    return f"id: {event.id}\nevent: {event.event}\ndata: {event.data}\n\n".encode()


async def run_event_stream(
    reader: RunReader,
    cursor: Cursor | None,
    *,
    notifier: RunNotifier,
    disconnected: Callable[[], Awaitable[bool]],
    timing: StreamTiming,
) -> AsyncIterator[bytes]:
    """The stream for one client: from the beginning (``cursor`` None) or after ``cursor``."""
    with notifier.subscribe(reader.execution_id) as wake:
        yield f"retry: {timing.retry_ms}\n\n".encode()
        last_sent = time.monotonic()
        try:
            if cursor is None:
                cursor, snapshot = await reader.snapshot()
                events = [snapshot]
            else:
                events = await reader.changes(cursor)
            while True:
                for event in events:
                    yield encode_event(event)
                    last_sent = time.monotonic()
                if cursor.finished:
                    return
                silent = time.monotonic() - last_sent
                if silent >= timing.heartbeat:
                    yield HEARTBEAT
                    last_sent, silent = time.monotonic(), 0.0
                await wake.wait(min(timing.poll, timing.heartbeat - silent))
                if await disconnected():
                    return
                events = await reader.changes(cursor)
        except RunGone:
            return
