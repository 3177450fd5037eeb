"""Request ids, security headers, and a problem+json 500 for any unhandled exception.

One pure ASGI middleware (no ``BaseHTTPMiddleware``: it would buffer and re-wrap errors):

- ``X-Request-ID``: echoed when the client sends a sane one (letters, digits, ``._-``, at most
  128 characters — anything else could forge log lines), otherwise generated; available as
  ``request.state.request_id`` and in :data:`request_id_var` for logging.
- Security headers on every response; ``Strict-Transport-Security`` only in production
  (behind TLS); ``Cache-Control: no-store`` unless the route set its own, since API answers
  carry tokens and tenant data.
- An exception no handler took is logged with its traceback and answered as a 500 problem
  that says only the request id, never the exception.
"""

from __future__ import annotations

import logging
import re
import uuid
from contextvars import ContextVar

from starlette.datastructures import MutableHeaders
from starlette.requests import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .errors import problem_response

__all__ = ["REQUEST_ID_HEADER", "RequestContextMiddleware", "request_id_var"]

REQUEST_ID_HEADER = "X-Request-ID"
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,128}$")

request_id_var: ContextVar[str | None] = ContextVar("docg_request_id", default=None)
"""The current request's id (``None`` outside a request)."""

logger = logging.getLogger("docg.server")

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

        async def send_with_headers(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
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
            request_id_var.reset(token)
