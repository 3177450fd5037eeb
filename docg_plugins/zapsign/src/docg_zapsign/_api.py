"""Calls to the ZapSign REST API through ``ctx.http``, and its errors as step errors.

4xx answers fail the step with ZapSign's reason; 429 and 5xx are retryable (honouring
``Retry-After``); timeouts and network errors propagate and the engine retries them.
"""

from __future__ import annotations

import re
from typing import Any

import httpx

from docg_core.context import ExecutionContext
from docg_core.errors import RetryableError, StepError
from docg_core.retry import parse_retry_after

__all__ = [
    "check_response",
    "check_token",
    "create_document",
    "delete_document",
    "download_file",
    "error_detail",
    "get_document",
    "notify_signer",
    "refuse_document",
]

_TOKEN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9-]{0,99}$")
_DETAIL_LIMIT = 300


def check_token(value: Any, argument: str) -> str:
    """A ZapSign document or signer token, safe to put in a URL path."""
    if isinstance(value, str) and _TOKEN.match(value.strip()):
        return value.strip()
    raise StepError(
        f"{argument}: {value!r} is not a ZapSign token (letters, digits and hyphens)",
        code="invalid_token",
    )


def error_detail(response: httpx.Response) -> str:
    """ZapSign's reason for an error answer: ``detail``/``message``/``error``, or each field's
    messages for a validation error, else the start of the body."""
    try:
        body = response.json()
    except ValueError:
        text = " ".join(response.text.split())
        return text[:_DETAIL_LIMIT] or response.reason_phrase
    if isinstance(body, dict):
        for key in ("detail", "message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return str(body[key])[:_DETAIL_LIMIT]
        parts = []
        for field, problem in body.items():
            text = "; ".join(map(str, problem)) if isinstance(problem, list) else str(problem)
            parts.append(f"{field}: {text}")
        return ", ".join(parts)[:_DETAIL_LIMIT]
    return str(body)[:_DETAIL_LIMIT]


def check_response(response: httpx.Response, doing: str) -> None:
    """Raise the step error for an error answer; ``doing`` says what was attempted."""
    status = response.status_code
    if status < 400:
        return
    detail = error_detail(response)
    code = f"http_{status}"
    if status == 429:
        raise RetryableError(
            f"ZapSign rate limit reached while {doing}; retrying later ({detail})",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            code=code,
        )
    if status >= 500:
        raise RetryableError(
            f"ZapSign failed ({status}) while {doing}; retrying ({detail})",
            retry_after=parse_retry_after(response.headers.get("Retry-After")),
            code=code,
        )
    if status in (401, 403):
        message = (
            f"ZapSign refused the request ({status}) while {doing}: {detail}. Check the "
            "connection's API token and that its environment (production or sandbox) is "
            "the token's"
        )
    elif status == 402:
        message = f"ZapSign requires an API plan for this account while {doing}: {detail}"
    elif status == 404:
        message = f"ZapSign found nothing while {doing}: {detail}"
    else:
        message = f"ZapSign rejected the request ({status}) while {doing}: {detail}"
    raise StepError(message, code=code)


async def _json(response: httpx.Response, doing: str) -> Any:
    check_response(response, doing)
    try:
        return response.json()
    except ValueError:
        raise RetryableError(
            f"ZapSign answered {response.status_code} without JSON while {doing}",
            code="bad_response",
        ) from None


async def create_document(ctx: ExecutionContext, body: dict[str, Any]) -> dict[str, Any]:
    """``POST docs/``: create a document from ``base64_pdf`` with its signers."""
    response = await ctx.http.post("docs/", json=body)
    document: dict[str, Any] = await _json(response, "creating the document")
    if not isinstance(document.get("token"), str):
        raise RetryableError("ZapSign created a document without a token", code="bad_response")
    return document


async def get_document(ctx: ExecutionContext, doc_token: str) -> dict[str, Any]:
    """``GET docs/{token}/``: the document's status, signers and file URLs."""
    response = await ctx.http.get(f"docs/{doc_token}/")
    document: dict[str, Any] = await _json(response, f"reading document {doc_token}")
    return document


async def refuse_document(ctx: ExecutionContext, doc_token: str, reason: str) -> httpx.Response:
    """``POST refuse/``: cancel an in-progress document (its status becomes refused).

    Returns the raw answer: a 403 for an already refused document is the caller's to judge.
    """
    return await ctx.http.post("refuse/", json={"doc_token": doc_token, "rejected_reason": reason})


async def delete_document(ctx: ExecutionContext, doc_token: str) -> dict[str, Any]:
    """``DELETE docs/{token}/``: soft-delete the document (``deleted`` becomes true)."""
    response = await ctx.http.delete(f"docs/{doc_token}/")
    document: dict[str, Any] = await _json(response, f"deleting document {doc_token}")
    return document


async def notify_signer(ctx: ExecutionContext, signer_token: str, channel: str) -> dict[str, Any]:
    """``POST signers/{token}/`` with ``send_automatic_<channel>: true``: a reminder."""
    flag = "send_automatic_whatsapp" if channel == "whatsapp" else "send_automatic_email"
    response = await ctx.http.post(f"signers/{signer_token}/", json={flag: True})
    signer: dict[str, Any] = await _json(response, f"notifying signer {signer_token}")
    return signer


async def download_file(ctx: ExecutionContext, url: str, what: str) -> bytes:
    """GET a file URL ZapSign gave (a temporary storage link; no credentials are sent)."""
    response = await ctx.http.get(url)
    check_response(response, f"downloading the {what}")
    return response.content
