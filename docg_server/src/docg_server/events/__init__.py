"""Live run updates: a run's step and status changes as a stream of events.

The store (``docg_steps``, ``docg_executions``) is the source of truth, so a stream sees
runs written by any process — another server, a Temporal worker. Modules:

- :mod:`.cursor` — event ids: what a client has seen, so a reconnect resumes exactly there;
- :mod:`.source` — reads a run's changes since a cursor, off the event loop;
- :mod:`.stream` — the Server-Sent Events byte stream (snapshot, changes, heartbeats);
- :mod:`.notifier` and :mod:`.store` — wake streams early when this process writes a run.

The HTTP endpoint is ``docg_server.api.v1.run_events``; the shapes are in :mod:`.models`.
Only the light modules are imported here: the runtime needs them before the API exists.
"""

from __future__ import annotations

from .cursor import Cursor
from .notifier import RunNotifier
from .store import NotifyingStore

__all__ = ["Cursor", "NotifyingStore", "RunNotifier"]
