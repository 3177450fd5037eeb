"""Turning vendor error answers into step errors with stable codes.

Codes: ``api-key-rejected``, ``rate-limited``, ``overloaded``, ``server-error``,
``context-length-exceeded``, ``content-policy``, ``quota-exceeded``, ``model-not-found``,
``bad-request``, ``unexpected-response`` (the last two carry the vendor's message).
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx

from docg_core.errors import RetryableError, StepError
from docg_core.retry import classify_error, parse_retry_after

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)s\s*$")


def error_body(response: httpx.Response) -> dict[str, Any]:
    """The ``error`` object of a JSON error answer (``{}`` when there is none)."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    if not isinstance(body, dict):
        return {}
    error = body.get("error")
    if isinstance(error, dict):
        return error
    if isinstance(error, str):
        return {"message": error}
    return {}


def vendor_message(response: httpx.Response) -> str:
    """The vendor's error message, or a short excerpt of the body."""
    message = error_body(response).get("message")
    if isinstance(message, str) and message:
        return message
    text = " ".join(response.text.split())
    return text[:300] or "no details given"


def retry_after(response: httpx.Response) -> float | None:
    """Seconds to wait from ``retry-after-ms``, ``Retry-After`` or a Google ``RetryInfo``."""
    millis = response.headers.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000.0)
        except ValueError:
            pass
    seconds = parse_retry_after(response.headers.get("retry-after"))
    if seconds is not None:
        return seconds
    for detail in error_body(response).get("details") or []:
        if isinstance(detail, dict) and str(detail.get("@type", "")).endswith("RetryInfo"):
            match = _DURATION.match(str(detail.get("retryDelay", "")))
            if match:
                return float(match.group(1))
    return None


def api_key_rejected(provider: str, response: httpx.Response) -> StepError:
    return StepError(
        f"{provider} rejected the API key (HTTP {response.status_code}: "
        f"{vendor_message(response)}); check the connection's API key.",
        code="api-key-rejected",
    )


def rate_limited(provider: str, response: httpx.Response) -> RetryableError:
    return RetryableError(
        f"{provider} is rate-limiting this API key: {vendor_message(response)}",
        retry_after=retry_after(response),
        code="rate-limited",
    )


def overloaded(provider: str, response: httpx.Response) -> RetryableError:
    return RetryableError(
        f"{provider} is temporarily overloaded (HTTP {response.status_code}): "
        f"{vendor_message(response)}",
        retry_after=retry_after(response),
        code="overloaded",
    )


def server_error(provider: str, response: httpx.Response) -> RetryableError:
    return RetryableError(
        f"{provider} failed with HTTP {response.status_code}: {vendor_message(response)}",
        retry_after=retry_after(response),
        code="server-error",
    )


def context_length(provider: str, detail: str) -> StepError:
    return StepError(
        f"The prompt is too long for the model's context window ({provider}: {detail}); "
        "shorten the prompt or the system prompt, lower max_tokens, or pick a model with a "
        "larger context.",
        code="context-length-exceeded",
    )


def content_policy(provider: str, detail: str) -> StepError:
    return StepError(
        f"{provider} declined to answer under its content policy ({detail}); rephrase the prompt.",
        code="content-policy",
    )


def quota_exceeded(provider: str, response: httpx.Response) -> StepError:
    return StepError(
        f"The {provider} account has no quota left: {vendor_message(response)}; "
        "check the plan and billing details.",
        code="quota-exceeded",
    )


def model_not_found(provider: str, model: str, response: httpx.Response) -> StepError:
    return StepError(
        f"{provider} has no model {model!r} for this API key: {vendor_message(response)}",
        code="model-not-found",
    )


def bad_request(provider: str, response: httpx.Response) -> StepError:
    return StepError(
        f"{provider} refused the request (HTTP {response.status_code}): {vendor_message(response)}",
        code="bad-request",
    )


def unexpected(provider: str, what: str) -> StepError:
    return StepError(
        f"{provider} answered in an unexpected shape: {what}", code="unexpected-response"
    )


def generic(provider: str, response: httpx.Response) -> StepError:
    """The default mapping: 429 rate limit, 5xx retryable, any other status not."""
    status = response.status_code
    if status == 401:
        return api_key_rejected(provider, response)
    if status == 429:
        return rate_limited(provider, response)
    if status >= 500:
        return server_error(provider, response)
    return bad_request(provider, response)


async def send(http: httpx.AsyncClient, method: str, url: str, **kwargs: Any) -> httpx.Response:
    """Send one request; transport failures and timeouts become retryable step errors here,
    so they keep their meaning when raised from concurrent tasks."""
    try:
        return await http.request(method, url, **kwargs)
    except httpx.TransportError as exc:
        raise classify_error(exc) from exc


def json_object(provider: str, response: httpx.Response) -> dict[str, Any]:
    """The JSON object of a successful answer."""
    try:
        body = response.json()
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise unexpected(provider, "the body is not JSON") from None
    if not isinstance(body, dict):
        raise unexpected(provider, "the body is not a JSON object")
    return body
