"""Reading an inbound request body with a size limit, and parsing it."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

from fastapi import Request

from docg_core.callbacks import InboundRequest

from ..errors import HTTPProblem

__all__ = ["inbound_request", "parse_body", "read_body"]


async def read_body(request: Request, limit: int) -> bytes:
    """The raw body; 413 ``payload-too-large`` past ``limit`` bytes (checked while reading,
    so a lying or missing Content-Length cannot make the server buffer more)."""
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise _too_large(limit)
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(limit: int) -> HTTPProblem:
    return HTTPProblem(413, f"the body is larger than the {limit} bytes this endpoint accepts")


def parse_body(body: bytes, content_type: str | None) -> Any:
    """JSON (any value), a form (a dict of its fields) or nothing (``{}``); 415 for other
    types, 422 ``invalid-body`` for a body that does not parse."""
    if not body.strip():
        return {}
    media = (content_type or "application/json").split(";")[0].strip().lower()
    if media == "application/json" or media.endswith("+json"):
        try:
            return json.loads(body)
        except (ValueError, UnicodeDecodeError) as exc:
            raise HTTPProblem(
                422, f"the body is not valid JSON: {exc}", slug="invalid-body"
            ) from None
    if media == "application/x-www-form-urlencoded":
        try:
            return dict(parse_qsl(body.decode(), keep_blank_values=True))
        except UnicodeDecodeError:
            raise HTTPProblem(422, "the form is not UTF-8", slug="invalid-body") from None
    raise HTTPProblem(415, f"send JSON or a form (application/x-www-form-urlencoded), not {media}")


def inbound_request(request: Request, body: bytes, public_base_url: str = "") -> InboundRequest:
    """The request as plugins see it. ``url`` is the one the sender called: on
    ``public_base_url`` (``PUBLIC_URL``, behind a proxy) when given — signatures cover it."""
    url = str(request.url)
    if public_base_url:
        query = f"?{request.url.query}" if request.url.query else ""
        url = f"{public_base_url.rstrip('/')}{request.url.path}{query}"
    return InboundRequest(
        method=request.method,
        url=url,
        headers={key.lower(): value for key, value in request.headers.items()},
        body=body,
        query=dict(request.query_params),
    )
