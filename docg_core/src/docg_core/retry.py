"""Retry policy and the mapping of exceptions to retryable / non-retryable step errors."""

from __future__ import annotations

import email.utils
import time
from dataclasses import dataclass

import httpx

from .errors import RetryableError, StepError

__all__ = ["RetryPolicy", "classify_error", "parse_retry_after"]

# A vendor asking us to come back later than this is treated as this: an inline step does
# not hold a worker for longer between attempts.
MAX_RETRY_AFTER = 300.0


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how patiently a step is retried after a :class:`RetryableError`.

    ``attempts`` counts every try, the first included (1 = never retry). The wait before
    retry *n* (1-based) is ``backoff * multiplier ** (n - 1)`` seconds, capped at
    ``max_backoff``, unless the error carries ``retry_after``.
    """

    attempts: int = 3
    backoff: float = 1.0
    multiplier: float = 2.0
    max_backoff: float = 60.0

    def delay(self, retry_number: int, retry_after: float | None = None) -> float:
        """Seconds to wait before retry number ``retry_number`` (1 = first retry)."""
        if retry_after is not None:
            return max(0.0, min(retry_after, MAX_RETRY_AFTER))
        return float(min(self.backoff * self.multiplier ** (retry_number - 1), self.max_backoff))


def parse_retry_after(value: str | None, *, now: float | None = None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or HTTP date); None if absent/bad."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def classify_error(exc: BaseException) -> StepError:
    """Turn any exception raised by an action into a :class:`StepError`.

    Timeouts, connection errors, HTTP 429 and 5xx are retryable (honouring the response's
    ``Retry-After``); other HTTP errors and unexpected exceptions are not.
    """
    if isinstance(exc, StepError):
        return exc
    if isinstance(exc, httpx.TimeoutException):
        return RetryableError(f"request timed out: {exc.request.url}", code="timeout")
    if isinstance(exc, httpx.HTTPStatusError):
        response = exc.response
        status = response.status_code
        message = f"HTTP {status} from {exc.request.method} {exc.request.url}"
        body = _short_body(response)
        if body:
            message += f": {body}"
        if status == 429 or status >= 500:
            retry_after = parse_retry_after(response.headers.get("Retry-After"))
            return RetryableError(message, retry_after=retry_after, code=f"http_{status}")
        return StepError(message, code=f"http_{status}")
    if isinstance(exc, httpx.TransportError):
        return RetryableError(f"network error: {exc}", code="network")
    return StepError(f"{type(exc).__name__}: {exc}", code="exception")


def _short_body(response: httpx.Response, limit: int = 500) -> str:
    try:
        text = response.text
    except (httpx.ResponseNotRead, UnicodeDecodeError):
        return ""
    text = " ".join(text.split())
    return text if len(text) <= limit else text[:limit] + "…"
