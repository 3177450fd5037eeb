"""An action's :class:`~docg_core.retry.RetryPolicy` as a Temporal retry policy."""

from __future__ import annotations

from datetime import timedelta

from temporalio.common import RetryPolicy as TemporalRetryPolicy

from ...retry import RetryPolicy
from ._messages import RetrySpec

__all__ = ["CRASH_ALLOWANCE", "NON_RETRYABLE", "RETRYABLE", "spec_of", "temporal_retry_policy"]

CRASH_ALLOWANCE = 3
"""Extra attempts Temporal may make beyond the action's own, for attempts lost to a crashed
worker (the activity itself stops retrying the action's errors after ``attempts``)."""

RETRYABLE = "RetryableError"
NON_RETRYABLE = ("StepError", "ValidationError")
"""Error types an activity reports that Temporal must not retry."""


def spec_of(policy: RetryPolicy) -> RetrySpec:
    """``policy`` as the dataclass that travels in a workflow's input."""
    return RetrySpec(policy.attempts, policy.backoff, policy.multiplier, policy.max_backoff)


def temporal_retry_policy(spec: RetrySpec) -> TemporalRetryPolicy:
    """Backoff as the action's policy; validation and 4xx errors (``StepError``) are never
    retried, ``RetryableError`` is, up to the action's attempts (plus a crash allowance)."""
    return TemporalRetryPolicy(
        initial_interval=timedelta(seconds=max(spec.backoff, 0.001)),
        backoff_coefficient=max(spec.multiplier, 1.0),
        maximum_interval=timedelta(seconds=max(spec.max_backoff, spec.backoff, 0.001)),
        maximum_attempts=max(spec.attempts, 1) + CRASH_ALLOWANCE,
        non_retryable_error_types=list(NON_RETRYABLE),
    )
