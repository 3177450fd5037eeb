"""What travels through Temporal history: small, JSON-safe dataclasses.

Documents and other large content never travel here; actions keep them in storage and pass
their keys. :func:`check_size` fails loudly when something would grow the history too much.

Annotations are real types here (no ``from __future__ import annotations``): Temporal's
converter resolves them for every payload, and strings would be evaluated each time.
"""

import json
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "DEFAULT_PAYLOAD_LIMIT",
    "ExecutionInput",
    "PayloadTooLarge",
    "RetrySpec",
    "StatusUpdate",
    "StepInput",
    "StepOutcome",
    "check_size",
]

DEFAULT_PAYLOAD_LIMIT = 256 * 1024
"""Bytes an activity result or a workflow input may take in Temporal history (JSON)."""


class PayloadTooLarge(ValueError):
    """A value too large to pass through Temporal history."""


def check_size(value: Any, limit: int, what: str) -> int:
    """The JSON size of ``value`` in bytes; raises :class:`PayloadTooLarge` past ``limit``."""
    size = len(json.dumps(value, separators=(",", ":"), default=str).encode())
    if size > limit:
        raise PayloadTooLarge(
            f"{what} is {size / 1024:.0f} KiB, over the {limit / 1024:.0f} KiB limit for data "
            "passed between steps on Temporal; keep large content (documents, big responses) "
            "in storage and pass its key, or raise the limit (payload_limit)"
        )
    return size


@dataclass
class RetrySpec:
    """An action's :class:`~docg_core.retry.RetryPolicy`, as fields."""

    attempts: int = 3
    backoff: float = 1.0
    multiplier: float = 2.0
    max_backoff: float = 60.0


@dataclass
class ExecutionInput:
    """The input of one execution's workflow. ``execution_id`` is also the workflow id.

    With ``scheduled`` set (by a Temporal Schedule), the workflow first prepares the
    execution itself: ``workflow`` then holds the flow and ``trigger_data`` the trigger input.
    ``local`` lists the nodes whose steps are cheap enough to run as local activities.
    """

    execution_id: str
    workflow: dict[str, Any]
    trigger_data: Any = None
    organization_id: str | None = None
    started_at: str = ""
    test_run: bool = False
    until_step: str | None = None
    mock_data: dict[str, Any] | None = None
    env: dict[str, str] = field(default_factory=dict)
    retry: dict[str, RetrySpec] = field(default_factory=dict)
    scheduled: bool = False
    local: list[str] = field(default_factory=list)
    activity_timeout: float = 3600.0
    heartbeat_timeout: float = 60.0


@dataclass
class StepInput:
    """One single node's run (or resume) as an activity's input; ``params`` are resolved.

    With ``final_status`` (set by workflow code that reads ``status_written``), the activity
    also writes the execution's final status when the step decides it: a failure without
    ``continue_on_error``, the success of the ``last`` step, or a stop (``ends_execution``)
    at the ``top_level``.
    """

    execution_id: str
    organization_id: str | None
    test_run: bool
    flow_id: str | None
    flow_name: str
    flow_version: int
    node_id: str
    key: str
    app: str
    action: str
    connection: str | None
    params: Any
    started_at: str
    max_attempts: int = 3
    mocked: bool = False
    mock_output: Any = None
    resume_payload: dict[str, Any] | None = None
    top_level: bool = False
    last: bool = False
    continue_on_error: bool = False
    final_status: bool = False


@dataclass
class StepOutcome:
    """What the workflow needs of a finished activity: status, the step's output and, when
    it waits, until when. ``invalid`` means a resume payload was rejected (still waiting);
    ``status_written``, that the activity wrote the execution's final status."""

    status: str
    data_out: dict[str, Any] | None = None
    error: str | None = None
    resume_at: str | None = None
    ends_execution: bool = False
    status_written: bool = False


@dataclass
class StatusUpdate:
    """An execution's new status, written to the store by the workflow."""

    execution_id: str
    status: str
    error: str | None = None
