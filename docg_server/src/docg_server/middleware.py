"""Request ids, security headers, and a problem+json 500 for any unhandled exception.

One pure ASGI middleware (no ``BaseHTTPMiddleware``: it would buffer and re-wrap errors):

- ``X-Request-ID``: echoed when the client sends a sane one (letters, digits, ``._-``, at most
  128 characters — anything else could forge log lines), otherwise generated; available as
  ``request.state.request_id`` and in :data:`request_id_var` for logging.
- Security headers on every response; ``Strict-Transport-Security`` only in production
  (behind TLS); ``Cache-Control: no-store`` unless the route set its own, since API answers
  carry tokens and tenant data.
- An exception no handler took is logged with its traceback and answered as a 500 problem
  that says only the request id, never the exception. A client that disconnects before its
  body was read is no server error: one info line, status 499 in the access log, no answer.
- One access log line per request (logger ``docg.server.access``): method, path, status,
  duration_ms. The path never has its query string, and path parameters with sensitive names
  (``{token}``) are masked: both can carry secrets.
"""

from __future__ import annotations

import logging
import re
import time
import uuid
from collections.abc import Mapping
from typing import Any

from starlette.datastructures import MutableHeaders
from starlette.requests import ClientDisconnect, Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import problem_response
from .logging import MASK, is_sensitive_key, request_id_var

__all__ = ["REQUEST_ID_HEADER", "RequestContextMiddleware", "request_id_var"]

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")
CLIENT_CLOSED_REQUEST = 499
"""Access-log status of a request whose client went away before it was read (as nginx logs it)."""

logger = logging.getLogger("docg.server")
access_logger = logging.getLogger("docg.server.access")

SECURITY_HEADERS: dict[str, str] = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
API_CSP = "default-src 'none'; frame-ancestors 'none'"
HSTS = "max-age=63072000; includeSubDomains"


class RequestContextMiddleware:
    """See the module docstring. ``csp_exempt`` paths (the API docs page) get no CSP."""

    def __init__(
        self, app: ASGIApp, *, hsts: bool = False, csp_exempt: frozenset[str] = frozenset()
    ) -> None:
        self.app = app
        self.hsts = hsts
        self.csp_exempt = csp_exempt

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        scope.setdefault("state", {})["request_id"] = request_id
        token = request_id_var.set(request_id)
        started = False
        path = scope.get("path", "")
        status_code = 500
        began = time.perf_counter()

        async def send_with_headers(message: Message) -> None:
            nonlocal started, status_code
            if message["type"] == "http.response.start":
                started = True
                status_code = int(message["status"])
                headers = MutableHeaders(scope=message)
                headers[REQUEST_ID_HEADER] = request_id
                for name, value in SECURITY_HEADERS.items():
                    headers.setdefault(name, value)
                if path not in self.csp_exempt:
                    headers.setdefault("Content-Security-Policy", API_CSP)
                if self.hsts:
                    headers.setdefault("Strict-Transport-Security", HSTS)
                headers.setdefault("Cache-Control", "no-store")
            await send(message)

        try:
            await self.app(scope, receive, send_with_headers)
        except ClientDisconnect:
            status_code = CLIENT_CLOSED_REQUEST
            logger.info(
                "client disconnected during %s %s (request id %s)",
                scope.get("method"),
                path,
                request_id,
            )
        except Exception:
            logger.exception(
                "unhandled error in %s %s (request id %s)",
                scope.get("method"),
                path,
                request_id,
            )
            if started:  # the status line is out; all we can do is end the connection
                raise
            response = problem_response(
                request,
                500,
                slug="internal-error",
                detail=(
                    "the server failed to handle this request; it has been logged — "
                    f"quote request id {request_id} when reporting it"
                ),
            )
            await response(scope, receive, send_with_headers)
        finally:
            duration_ms = round((time.perf_counter() - began) * 1000, 1)
            method = scope.get("method", "")
            logged_path = _loggable_path(path, scope.get("path_params"))
            access_logger.info(
                "%s %s %d %.1fms",
                method,
                logged_path,
                status_code,
                duration_ms,
                extra={
                    "method": method,
                    "path": logged_path,
                    "status": status_code,
                    "duration_ms": duration_ms,
                },
            )
            request_id_var.reset(token)


def _loggable_path(path: str, path_params: Mapping[str, Any] | None) -> str:
    """``path`` with the values of sensitive path parameters (``{token}``) masked."""
    for name, value in (path_params or {}).items():
        if is_sensitive_key(name) and isinstance(value, str) and value:
            path = path.replace(value, MASK)
    return path
