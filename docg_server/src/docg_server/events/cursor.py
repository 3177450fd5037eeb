"""The event id: what a client has seen of a run, so a reconnect resumes exactly there.

The store keeps each step's latest state, not a log of its changes, so an event id is a
compact description of the state the client was sent::

    r5.3-9f2c01ab

- ``r`` — the run's status as last sent (``r`` running, ``w`` waiting, ``c`` completed,
  ``f`` failed, ``x`` cancelled);
- ``5`` — every step at a position below 5 (first-saved order) has been sent;
- ``.3-9f2c01ab`` — step 3 was still open (running or waiting) when last sent, and this is
  a hash of what was sent. Finished steps (success, failed, skipped) never change again, so
  only open steps need one; there are rarely more than a few (a loop and its running step).

On reconnect the server reads the steps at or after that position plus the open ones and
sends whatever differs: none lost, none repeated.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import get_args

from docg_core.records import ExecutionStatus

__all__ = ["CURSOR_PATTERN", "FINISHED", "STEP_FINAL", "Cursor"]

_STATUS_CODES: dict[str, str] = {
    "running": "r",
    "waiting": "w",
    "completed": "c",
    "failed": "f",
    "cancelled": "x",
}
assert set(_STATUS_CODES) == set(get_args(ExecutionStatus))
_CODE_STATUSES = {code: status for status, code in _STATUS_CODES.items()}

CURSOR_PATTERN = r"^[rwcfx]\d{1,9}(\.\d{1,9}-[0-9a-f]{8})*$"
"""What a valid ``Last-Event-ID`` looks like."""
_CURSOR = re.compile(CURSOR_PATTERN)

FINISHED = frozenset({"completed", "failed", "cancelled"})
"""Run statuses after which a stream ends."""
STEP_FINAL = frozenset({"success", "failed", "skipped"})
"""Step statuses the engine never changes again."""


@dataclass
class Cursor:
    """What a client has been sent; :meth:`format` is the event id."""

    status: str
    seen: int = 0
    open: dict[int, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, text: str) -> Cursor:
        """The cursor an event id stands for; ``ValueError`` if it is not one."""
        if not _CURSOR.match(text):
            raise ValueError(f"not a run event id: {text!r}")
        head, *steps = text.split(".")
        opened = {}
        for item in steps:
            position, digest = item.split("-")
            opened[int(position)] = digest
        return cls(status=_CODE_STATUSES[head[0]], seen=int(head[1:]), open=opened)

    def format(self) -> str:
        steps = "".join(f".{p}-{d}" for p, d in sorted(self.open.items()))
        return f"{_STATUS_CODES[self.status]}{self.seen}{steps}"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED
