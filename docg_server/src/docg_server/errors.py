"""HTTP errors as RFC 9457 problem details (``application/problem+json``), in one place.

Every error the API answers has a stable ``type`` URI under :data:`PROBLEM_BASE`; clients
branch on it, never on ``title`` or ``detail`` (which are for people)::

    HTTPProblem                     raise it from a route or a dependency
    ├── status 401 unauthorized / invalid-credentials   (with WWW-Authenticate: Bearer)
    ├── status 403 forbidden / plan-limit-reached       (``limit``, ``limit_value``, ``plan``)
    ├── status 404 not-found
    ├── status 409 conflict / invalid-status-transition
    ├── status 422 invalid-workflow                      (``problems``: node_id, field, message)
    ├── status 429 too-many-requests                     (with Retry-After)
    └── status 503 service-unavailable                  (every database connection busy, or
                                                         the database unavailable: Retry-After)
    request validation  → 422 validation-error, ``errors`` lists each bad field and its location
    any other exception → 500 internal-error, logged; the body never holds the traceback

:func:`install_exception_handlers` maps FastAPI's and Starlette's own errors (unknown route,
method not allowed, request validation) to the same shape.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException

__all__ = [
    "PROBLEM_BASE",
    "PROBLEM_CONTENT_TYPE",
    "FieldError",
    "HTTPProblem",
    "Problem",
    "ProblemResponse",
    "install_exception_handlers",
    "problem_response",
    "problem_responses",
    "problem_type",
]

logger = logging.getLogger("docg.server")

PROBLEM_BASE = "https://docg.dev/problems/"
"""Every problem ``type`` is this base followed by a slug (``validation-error``)."""
PROBLEM_CONTENT_TYPE = "application/problem+json"

# The type slug of an HTTP status when nothing more specific is known.
_STATUS_SLUGS: Mapping[int, str] = {
    400: "bad-request",
    401: "unauthorized",
    403: "forbidden",
    404: "not-found",
    405: "method-not-allowed",
    409: "conflict",
    413: "payload-too-large",
    415: "unsupported-media-type",
    422: "validation-error",
    429: "too-many-requests",
    500: "internal-error",
    503: "service-unavailable",
}


def problem_type(slug: str) -> str:
    """The full ``type`` URI of a problem slug."""
    return PROBLEM_BASE + slug


def _slug_for(status: int) -> str:
    return _STATUS_SLUGS.get(status, "client-error" if status < 500 else "server-error")


def _title_for(status: int) -> str:
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


class FieldError(BaseModel):
    """One bad field of a request: where it is, what is wrong (its value is never echoed)."""

    location: str = Field(description="'body', 'query', 'path', 'header' or 'cookie'.")
    field: str = Field(description="Dotted path inside the location, e.g. 'email' or 'items.0'.")
    message: str
    code: str = Field(description="A machine-readable reason, e.g. 'string_too_short'.")


class Problem(BaseModel):
    """An RFC 9457 problem document; extension members may follow."""

    model_config = ConfigDict(extra="allow")

    type: str = Field(examples=[problem_type("not-found")])
    title: str
    status: int
    detail: str | None = None
    instance: str | None = None
    request_id: str | None = None
    errors: list[FieldError] | None = None


class ProblemResponse(JSONResponse):
    media_type = PROBLEM_CONTENT_TYPE


class HTTPProblem(Exception):
    """Answer the request with a problem document.

    :param status: the HTTP status.
    :param slug: the ``type`` slug; defaults to the status's (``not-found`` for 404).
    :param detail: a sentence for people: what was wrong and what to do.
    :param headers: extra response headers (``WWW-Authenticate``, ``Retry-After``).
    :param extensions: extra members of the problem document.
    """

    def __init__(
        self,
        status: int,
        detail: str | None = None,
        *,
        slug: str | None = None,
        title: str | None = None,
        headers: Mapping[str, str] | None = None,
        extensions: Mapping[str, Any] | None = None,
    ) -> None:
        self.status = status
        self.slug = slug or _slug_for(status)
        self.title = title or _title_for(status)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = dict(extensions or {})
        super().__init__(f"{status} {self.slug}: {detail or self.title}")

    @classmethod
    def unauthorized(cls, detail: str, *, slug: str = "unauthorized") -> HTTPProblem:
        """401 with ``WWW-Authenticate: Bearer`` (RFC 6750)."""
        return cls(401, detail, slug=slug, headers={"WWW-Authenticate": "Bearer"})

    @classmethod
    def forbidden(cls, detail: str) -> HTTPProblem:
        return cls(403, detail)

    @classmethod
    def not_found(cls, detail: str) -> HTTPProblem:
        return cls(404, detail)

    @classmethod
    def conflict(cls, detail: str, *, slug: str = "conflict") -> HTTPProblem:
        return cls(409, detail, slug=slug)

    @classmethod
    def too_many_requests(cls, detail: str, *, retry_after: int) -> HTTPProblem:
        seconds = max(1, retry_after)
        return cls(
            429,
            detail,
            headers={"Retry-After": str(seconds)},
            extensions={"retry_after": seconds},
        )


def problem_response(
    request: Request | None,
    status: int,
    *,
    slug: str | None = None,
    title: str | None = None,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
) -> ProblemResponse:
    """A problem+json response; ``instance`` is the request path, plus its request id."""
    body: dict[str, Any] = {
        "type": problem_type(slug or _slug_for(status)),
        "title": title or _title_for(status),
        "status": status,
    }
    if detail is not None:
        body["detail"] = detail
    if request is not None:
        body["instance"] = request.url.path
        request_id = getattr(request.state, "request_id", None)
        if request_id:
            body["request_id"] = request_id
    body.update(extensions or {})
    return ProblemResponse(body, status_code=status, headers=dict(headers or {}))


def problem_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """OpenAPI ``responses`` documenting problem answers for ``statuses``."""
    return {
        status: {
            "description": f"{_title_for(status)} ({problem_type(_slug_for(status))})",
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
        }
        for status in statuses
    }


def _field_errors(errors: Sequence[Any]) -> list[dict[str, str]]:
    result = []
    for error in errors:
        loc = [str(part) for part in error.get("loc", ())]
        location, path = (loc[0], loc[1:]) if loc else ("body", [])
        result.append(
            {
                "location": location,
                "field": ".".join(path),
                "message": str(error.get("msg", "invalid")),
                "code": str(error.get("type", "invalid")),
            }
        )
    return result


async def _handle_problem(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, HTTPProblem)
    return problem_response(
        request,
        exc.status,
        slug=exc.slug,
        title=exc.title,
        detail=exc.detail,
        headers=exc.headers,
        extensions=exc.extensions,
    )


async def _handle_validation(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, RequestValidationError)
    errors = _field_errors(exc.errors())
    where = ", ".join(f"{e['location']}.{e['field']}".rstrip(".") for e in errors)
    return problem_response(
        request,
        422,
        slug="validation-error",
        title="Your request is not valid",
        detail=f"{len(errors)} invalid field(s): {where}",
        extensions={"errors": errors},
    )


async def _handle_http(request: Request, exc: Exception) -> ProblemResponse:
    assert isinstance(exc, StarletteHTTPException)
    detail = exc.detail if isinstance(exc.detail, str) else None
    if exc.status_code == 404 and detail == "Not Found":
        detail = f"there is no resource at {request.url.path}"
    return problem_response(request, exc.status_code, detail=detail, headers=exc.headers)


async def _handle_pool_timeout(request: Request, exc: Exception) -> ProblemResponse:
    # Every database connection is busy: the server is overloaded, not broken.
    return problem_response(
        request,
        503,
        detail="the server is busy; try again in a moment",
        headers={"Retry-After": "1"},
    )


async def _handle_database_error(request: Request, exc: Exception) -> ProblemResponse:
    # The database refused or dropped the connection (down, restarting, out of connection
    # slots) or gave up on the statement (deadlock, serialization failure): the request's
    # transaction did not commit, and a retry may well succeed. Logged without a traceback.
    message = str(getattr(exc, "orig", None) or exc).strip().splitlines()
    logger.warning(
        "database error in %s %s: %s",
        request.method,
        request.url.path,
        message[0] if message else exc,
    )
    return problem_response(
        request,
        503,
        detail="the database is unavailable or overloaded; try again in a moment",
        headers={"Retry-After": "5"},
    )


def install_exception_handlers(app: FastAPI) -> None:
    """Answer every error the framework knows about as problem+json.

    Unhandled exceptions are turned into a 500 problem by
    :class:`docg_server.middleware.RequestContextMiddleware`, which also logs them.
    """
    app.add_exception_handler(HTTPProblem, _handle_problem)
    app.add_exception_handler(RequestValidationError, _handle_validation)
    app.add_exception_handler(StarletteHTTPException, _handle_http)
    app.add_exception_handler(sa_exc.TimeoutError, _handle_pool_timeout)
    app.add_exception_handler(sa_exc.OperationalError, _handle_database_error)
