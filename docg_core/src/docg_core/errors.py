"""Every exception DocG raises on purpose.

::

    DocgError
    ├── ValidationError         a workflow or step input is wrong; ``.problems`` lists each one
    ├── VariableError           a ``{{path}}`` could not be resolved in strict mode
    ├── PluginError             an unknown app, action or trigger; a broken plugin
    ├── ExecutionError          an execution cannot do what was asked (resume twice, not found)
    │   └── ExecutionNotFound
    └── StepError               an action failed; the step fails (not retried)
        └── RetryableError      a transient failure (timeout, 429, 5xx); retried per policy

Actions raise ``StepError`` or ``RetryableError``; the engine also maps httpx errors to them
(see :func:`docg_core.retry.classify_error`).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "DocgError",
    "ExecutionError",
    "ExecutionNotFound",
    "PluginError",
    "Problem",
    "RetryableError",
    "StepError",
    "ValidationError",
    "VariableError",
]


class DocgError(Exception):
    """Base class of every DocG error."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a workflow or a step's input, and where it is."""

    message: str
    node_id: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = []
        if self.node_id is not None:
            where.append(f"node {self.node_id!r}")
        if self.field is not None:
            where.append(f"{self.field!r}")
        return f"{': '.join(where)}: {self.message}" if where else self.message

    def to_dict(self) -> dict[str, str | None]:
        return {"node_id": self.node_id, "field": self.field, "message": self.message}


class ValidationError(DocgError):
    """Invalid input; ``problems`` lists every problem found, each naming where it is."""

    def __init__(self, problems: list[Problem] | Problem | str) -> None:
        if isinstance(problems, str):
            problems = [Problem(problems)]
        elif isinstance(problems, Problem):
            problems = [problems]
        self.problems: list[Problem] = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class VariableError(DocgError):
    """A variable path that does not resolve (raised only with ``strict=True``)."""

    def __init__(self, path: str, message: str | None = None) -> None:
        self.path = path
        super().__init__(message or f"variable {{{{{path}}}}} is missing")


class PluginError(DocgError):
    """An unknown app, action or trigger, or a plugin that failed to load."""


class ExecutionError(DocgError):
    """An execution cannot do what was asked (for example, resuming a step twice)."""


class ExecutionNotFound(ExecutionError):
    """No execution with that id in the store."""


class StepError(DocgError):
    """An action failed. Not retried; the step fails with this message.

    ``code`` is a stable machine-readable reason (``"http_404"``, ``"rejected"``);
    ``details`` is extra JSON-safe context recorded with the step's error.
    """

    retryable = False

    def __init__(
        self, message: str, *, code: str | None = None, details: dict[str, object] | None = None
    ) -> None:
        self.message = message
        self.code = code
        self.details = details or {}
        super().__init__(message)


class RetryableError(StepError):
    """A transient failure the engine retries per the action's policy.

    ``retry_after`` (seconds), when known from the vendor (``Retry-After``), overrides
    the policy's backoff for the next attempt.
    """

    retryable = True

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        code: str | None = None,
        details: dict[str, object] | None = None,
    ) -> None:
        super().__init__(message, code=code, details=details)
        self.retry_after = retry_after
