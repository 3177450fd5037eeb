"""ClickSign error answers turned into step errors.

ClickSign answers errors as JSON:API error objects (``{"errors": [{"code", "status",
"title", "detail", "source": {"pointer"}}]}``). 429 and 5xx are retryable (429 after
``Retry-After`` or ``X-Rate-Limit-Reset``); every other 4xx fails the step.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from docg_core.errors import RetryableError, StepError
from docg_core.retry import parse_retry_after

_MEANING = {
    400: "rejected the request as malformed",
    401: "rejected the access token: check the connection's api_token and environment",
    403: "refused access: the token's user is not allowed to do this",
    404: "has no such resource",
    409: "reported a conflict with the resource's current state",
    422: "could not process the request",
}


def error_details(response: httpx.Response) -> list[str]:
    """The ``detail`` (or ``title``) of each JSON:API error, with its source pointer."""
    try:
        body: Any = response.json()
    except ValueError:
        return []
    errors = body.get("errors") if isinstance(body, dict) else None
    if not isinstance(errors, list):
        return []
    found = []
    for error in errors:
        if isinstance(error, str):
            found.append(error)
            continue
        if not isinstance(error, dict):
            continue
        text = str(error.get("detail") or error.get("title") or error.get("code") or "")
        source = error.get("source")
        pointer = source.get("pointer") if isinstance(source, dict) else None
        if text:
            found.append(f"{text} ({pointer})" if pointer else text)
    return found


def retry_after(response: httpx.Response, *, now: float | None = None) -> float | None:
    """Seconds to wait from ``Retry-After``, else from ``X-Rate-Limit-Reset`` (Unix time)."""
    seconds = parse_retry_after(response.headers.get("Retry-After"), now=now)
    if seconds is not None:
        return seconds
    reset = response.headers.get("X-Rate-Limit-Reset")
    if reset:
        try:
            return max(0.0, float(reset) - (time.time() if now is None else now))
        except ValueError:
            return None
    return None


def raise_for_status(response: httpx.Response, doing: str) -> None:
    """Raise the step error a ClickSign error answer means; nothing for a success."""
    status = response.status_code
    if status < 400:
        return
    details = error_details(response)
    reason = "; ".join(details) if details else ""
    code = f"clicksign_{status}"
    if status == 429:
        raise RetryableError(
            f"ClickSign rate limit reached while {doing}; retrying later",
            retry_after=retry_after(response),
            code=code,
        )
    if status >= 500:
        raise RetryableError(
            f"ClickSign failed with HTTP {status} while {doing}"
            + (f": {reason}" if reason else ""),
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            code=code,
        )
    meaning = _MEANING.get(status, f"answered HTTP {status}")
    raise StepError(
        f"ClickSign {meaning} while {doing}" + (f": {reason}" if reason else ""),
        code=code,
        details={"status": status, "errors": details},
    )
