"""Runners decide where an execution's nodes run; the engine decides what they do.

:class:`Runner` is what a server talks to. Every method returns at once — the execution goes
on in the background — and :meth:`Runner.wait` waits for it to finish or pause:

- :class:`~docg_core.runners.inline.InlineRunner` runs executions as tasks of the current
  event loop, with state in the engine's store (the default; no extra services).
- ``docg_core.runners.temporal`` runs each execution as a Temporal workflow (durable, spread
  over workers); install ``docg-core[temporal]``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from ..records import ExecutionRecord
    from ..workflow import Workflow

__all__ = ["Runner"]


@runtime_checkable
class Runner(Protocol):
    """Starts, resumes, cancels and waits for executions."""

    async def start(
        self,
        workflow: Workflow,
        trigger_data: Mapping[str, Any] | None = None,
        *,
        execution_id: str | None = None,
        organization_id: str | None = None,
        until_step: str | None = None,
        mock_data: Mapping[str, Any] | None = None,
        test_run: bool | None = None,
    ) -> ExecutionRecord:
        """Start an execution and return its record as stored (status ``running``).

        Raises :class:`~docg_core.errors.ValidationError` before anything runs if the
        workflow or the arguments are invalid. Starting again with an ``execution_id`` that
        exists returns that execution and starts nothing.
        """
        ...

    async def resume(
        self, execution_id: str, node_id: str, payload: Mapping[str, Any] | None = None
    ) -> ExecutionRecord:
        """Resume the waiting step ``node_id`` with ``payload``; the execution goes on in the
        background. Exactly once: a second resume raises
        :class:`~docg_core.errors.ExecutionError`."""
        ...

    async def cancel(self, execution_id: str) -> ExecutionRecord:
        """Cancel a running or waiting execution; a finished one is returned unchanged."""
        ...

    async def wait(self, execution_id: str, timeout: float | None = None) -> ExecutionRecord:  # noqa: ASYNC109 - returns the state at the deadline, never raises
        """The execution once it has finished or is waiting, or as it is after ``timeout``
        seconds."""
        ...

    async def aclose(self) -> None:
        """Stop: let in-flight work finish (up to the runner's grace period) and release
        resources."""
        ...
