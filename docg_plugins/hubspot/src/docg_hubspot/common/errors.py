"""HubSpot error answers turned into step errors a person can act on.

HubSpot's error body is ``{"status": "error", "message", "category", "correlationId",
"errors": [{"message", "context"...}]}`` (every field optional). 4xx answers fail the step;
429 and 5xx are retried, honouring ``Retry-After``.
"""

from __future__ import annotations

from typing import Any

import httpx

from docg_core.errors import RetryableError, StepError
from docg_core.retry import parse_retry_after

__all__ = ["check_response", "error_body"]


def error_body(response: httpx.Response) -> dict[str, Any]:
    """The parsed error body, or ``{}`` when it is not a JSON object."""
    try:
        body = response.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


def _message(body: dict[str, Any], response: httpx.Response) -> str:
    message = body.get("message")
    if not isinstance(message, str) or not message:
        text = " ".join(response.text.split())
        message = text[:300] if text else response.reason_phrase
    details = [
        e["message"]
        for e in body.get("errors", []) or []
        if isinstance(e, dict) and isinstance(e.get("message"), str) and e["message"] != message
    ]
    if details:
        message += " (" + "; ".join(details[:5]) + ")"
    return message


def check_response(response: httpx.Response, what: str) -> None:
    """Return if ``response`` succeeded; otherwise raise the step error for ``what`` (the
    thing requested, e.g. ``"deals 123"``) — retryable for 429 and 5xx."""
    if response.is_success:
        return
    status = response.status_code
    body = error_body(response)
    message = _message(body, response)
    details: dict[str, object] = {"status": status}
    for key in ("category", "correlationId", "policyName"):
        if isinstance(body.get(key), str):
            details[key] = body[key]
    code = f"http_{status}"
    if status == 429:
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        raise RetryableError(
            f"HubSpot's rate limit was reached while requesting {what} ({message}); "
            "the step will be retried.",
            retry_after=retry_after,
            code=code,
            details=details,
        )
    if status >= 500:
        raise RetryableError(
            f"HubSpot answered {status} for {what} ({message}); the step will be retried.",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            code=code,
            details=details,
        )
    if status == 401:
        text = (
            f"HubSpot did not accept the connection's credentials ({message}). "
            "Reconnect the HubSpot connection."
        )
    elif status == 403:
        text = (
            f"HubSpot refused access to {what} ({message}). The connection may lack a "
            "scope: reconnect it and grant the scopes listed in the HubSpot app's docs."
        )
    elif status == 404:
        text = f"HubSpot has no {what} ({message}). Check the id and the object type."
    elif status == 409:
        text = f"HubSpot reported a conflict for {what}: {message}"
    else:
        text = f"HubSpot rejected the request for {what}: {message}"
    raise StepError(text, code=code, details=details)
