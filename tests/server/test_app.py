"""The application shell: problem+json errors, request ids, headers, CORS, health, OpenAPI."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI, Request
from fastapi.routing import APIRoute, iter_route_contexts
from server.apikit import Api, assert_problem, bearer, client_for, make_settings
from sqlalchemy.engine import URL
from starlette.types import Message

from docg_server import migrate
from docg_server.app import close_app, create_app
from docg_server.config import Settings
from docg_server.crypto import generate_key


@pytest.fixture
def settings(sqlite_url: URL) -> Settings:
    """The application shell does not depend on the database: SQLite is enough here."""
    migrate.upgrade(sqlite_url)
    return make_settings(sqlite_url)


async def test_healthz_answers_while_the_process_is_up(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_answers_200_when_the_database_is_reachable(
    client: httpx.AsyncClient,
) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


async def test_readyz_answers_a_503_problem_when_the_database_is_unreachable(
    tmp_path: Path,
) -> None:
    app = create_app(make_settings(f"sqlite:///{tmp_path / 'missing-dir' / 'docg.db'}"))
    try:
        async with client_for(app) as client:
            response = await client.get("/readyz")
            assert (await client.get("/healthz")).status_code == 200
    finally:
        await close_app(app)
    body = assert_problem(response, 503, "service-unavailable")
    assert body["detail"] == "the database is unreachable"


async def test_an_unknown_route_is_a_404_problem(client: httpx.AsyncClient) -> None:
    body = assert_problem(await client.get("/api/v1/nothing-here"), 404, "not-found")
    assert "/api/v1/nothing-here" in body["detail"]


async def test_a_wrong_method_is_a_405_problem(client: httpx.AsyncClient) -> None:
    assert_problem(await client.delete("/api/v1/auth/login"), 405, "method-not-allowed")


async def test_a_validation_error_lists_each_bad_field_without_echoing_values(
    client: httpx.AsyncClient,
) -> None:
    response = await client.post(
        "/api/v1/auth/register",
        json={"email": "not-an-email", "password": "short7!", "organization_name": ""},
    )
    body = assert_problem(response, 422, "validation-error")
    where = {(e["location"], e["field"]) for e in body["errors"]}
    assert where == {("body", "email"), ("body", "password"), ("body", "organization_name")}
    assert all(e["message"] and e["code"] for e in body["errors"])
    assert "short7!" not in response.text  # a rejected password is never echoed back


async def test_a_body_that_is_not_json_is_a_422_problem(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/v1/auth/login", content=b"{nope", headers={"Content-Type": "application/json"}
    )
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["location"] == "body"


async def test_an_unhandled_exception_is_a_logged_500_problem_without_the_traceback(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    @app.get("/test-only/boom")
    def boom() -> None:
        raise RuntimeError("database password is hunter2")

    with caplog.at_level(logging.ERROR, logger="docg.server"):
        response = await client.get("/test-only/boom", headers={"X-Request-ID": "req-500"})

    body = assert_problem(response, 500, "internal-error")
    assert body["request_id"] == "req-500"
    assert "req-500" in body["detail"]
    assert "hunter2" not in response.text
    assert "Traceback" not in response.text
    assert "RuntimeError" not in response.text
    assert response.headers["x-content-type-options"] == "nosniff"
    [record] = [r for r in caplog.records if r.name == "docg.server"]
    assert record.exc_info is not None and "req-500" in record.getMessage()


async def test_a_client_gone_before_its_body_was_read_is_no_server_error(
    app: FastAPI, caplog: pytest.LogCaptureFixture
) -> None:
    @app.post("/test-only/read")
    async def read(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    sent: list[Message] = []

    async def receive() -> Message:
        return {"type": "http.disconnect"}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/test-only/read",
        "raw_path": b"/test-only/read",
        "query_string": b"",
        "headers": [(b"content-type", b"application/json"), (b"content-length", b"10")],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
    }
    with caplog.at_level(logging.INFO, logger="docg.server"):
        await app(scope, receive, send)

    assert sent == []  # nobody to answer
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR]
    [gone] = [r for r in caplog.records if r.name == "docg.server"]
    assert "client disconnected during POST /test-only/read" in gone.getMessage()
    [access] = [r for r in caplog.records if r.name == "docg.server.access"]
    assert " 499 " in access.getMessage()


async def test_a_sane_request_id_is_echoed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"X-Request-ID": "abc-123_x.y"})
    assert response.headers["x-request-id"] == "abc-123_x.y"


@pytest.mark.parametrize("sent", [None, "has spaces in it", "x" * 129])
async def test_a_missing_or_unsafe_request_id_is_replaced_by_a_generated_one(
    client: httpx.AsyncClient, sent: str | None
) -> None:
    headers = {"X-Request-ID": sent} if sent is not None else {}
    response = await client.get("/healthz", headers=headers)
    generated = response.headers["x-request-id"]
    assert generated != sent
    assert len(generated) == 32 and int(generated, 16) >= 0


async def test_every_response_carries_the_security_headers(client: httpx.AsyncClient) -> None:
    for response in (await client.get("/healthz"), await client.get("/missing")):
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["x-frame-options"] == "DENY"
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["content-security-policy"].startswith("default-src 'none'")
        assert response.headers["cache-control"] == "no-store"
        assert "strict-transport-security" not in response.headers  # development: no TLS


async def test_production_adds_strict_transport_security(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'docg.db'}",
        DOCG_ENV="production",
        JWT_SECRET="j" * 48,
        DOCG_STORAGE_SECRET="s" * 48,
        ENCRYPTION_KEY=generate_key("k1"),
    )
    app = create_app(settings)
    try:
        async with client_for(app) as client:
            response = await client.get("/healthz")
    finally:
        await close_app(app)
    assert response.headers["strict-transport-security"].startswith("max-age=")


async def test_cors_allows_only_the_configured_origins(tmp_path: Path) -> None:
    settings = make_settings(
        f"sqlite:///{tmp_path / 'docg.db'}", CORS_ORIGINS=["https://app.example.com"]
    )
    app = create_app(settings)
    preflight = {"Access-Control-Request-Method": "POST"}
    try:
        async with client_for(app) as client:
            allowed = await client.options(
                "/api/v1/auth/login", headers={"Origin": "https://app.example.com", **preflight}
            )
            refused = await client.options(
                "/api/v1/auth/login", headers={"Origin": "https://evil.example", **preflight}
            )
            error = await client.get("/missing", headers={"Origin": "https://app.example.com"})
    finally:
        await close_app(app)
    assert allowed.headers["access-control-allow-origin"] == "https://app.example.com"
    assert "access-control-allow-origin" not in refused.headers
    assert error.headers["access-control-allow-origin"] == "https://app.example.com"


async def test_without_cors_origins_no_origin_is_allowed(client: httpx.AsyncClient) -> None:
    response = await client.get("/healthz", headers={"Origin": "https://app.example.com"})
    assert "access-control-allow-origin" not in response.headers


def routes(app: FastAPI) -> set[tuple[str, str]]:
    """Every (method, path) the application serves through its API routes, from
    ``app.routes`` (included routers flattened): a new route is checked without a hand list."""
    return {
        (method.lower(), route.path_format)
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute)
        for method in route.methods or ()
    }


async def test_the_openapi_document_lists_every_route_and_its_problems(
    app: FastAPI, client: httpx.AsyncClient
) -> None:
    response = await client.get("/api/v1/openapi.json")
    assert response.status_code == 200
    spec = response.json()
    documented = {(method, path) for path, item in spec["paths"].items() for method in item}
    served = routes(app)
    assert len(served) > 50
    assert documented == served
    for path, item in spec["paths"].items():
        if not path.startswith("/api/v1/"):
            continue
        for method, operation in item.items():
            assert operation.get("description") or operation.get("summary"), (path, method)
            errors = {code for code in operation["responses"] if code.startswith(("4", "5"))}
            assert "500" in errors, (path, method)
            for code in errors:
                content = operation["responses"][code]["content"]
                # The approval page's form gets its errors as an HTML page too.
                page = {"text/html"} if path.startswith("/api/v1/approvals/") else set()
                assert "application/problem+json" in content, (path, method, code)
                assert set(content) <= {"application/problem+json", *page}, (path, method, code)
    assert "Problem" in spec["components"]["schemas"]
    assert "HTTPValidationError" not in spec["components"]["schemas"]
    assert spec["components"]["securitySchemes"]["HTTPBearer"]["scheme"] == "bearer"


async def test_a_database_that_refuses_connections_is_a_503_with_retry_after(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    url = f"sqlite:///{tmp_path / 'docg.db'}"
    migrate.upgrade(url)
    app = create_app(make_settings(url))
    try:
        async with client_for(app) as client:
            tokens = await Api(client).signed_in()
            engine = app.state.engine
            engine.dispose()  # the next request needs a new connection, and gets none

            def refuse(*args: object) -> None:
                raise sqlite3.OperationalError("sorry, too many clients already")

            sa.event.listen(engine, "do_connect", refuse)
            with caplog.at_level(logging.WARNING, logger="docg.server"):
                response = await client.get(
                    "/api/v1/workflows", headers=bearer(tokens["access_token"])
                )
    finally:
        await close_app(app)
    body = assert_problem(response, 503, "service-unavailable")
    assert response.headers["retry-after"] == "5"
    assert "too many clients" not in response.text  # the database's words stay in the log
    [record] = [r for r in caplog.records if r.name == "docg.server"]
    assert record.levelno == logging.WARNING and record.exc_info is None
    assert "too many clients" in record.getMessage()
    assert "unavailable" in body["detail"]


async def test_every_connection_busy_is_a_503_with_retry_after(tmp_path: Path) -> None:
    from docg_server import migrate

    url = f"sqlite:///{tmp_path / 'docg.db'}"
    migrate.upgrade(url)
    app = create_app(
        make_settings(
            url, DATABASE_POOL_SIZE=1, DATABASE_MAX_OVERFLOW=0, DATABASE_POOL_TIMEOUT_SECONDS=1
        )
    )
    try:
        async with client_for(app) as client:
            api = Api(client)
            tokens = await api.signed_in()
            with app.state.engine.connect():  # the only connection, held
                response = await client.get(
                    "/api/v1/workflows", headers=bearer(tokens["access_token"])
                )
            assert (await client.get("/readyz")).status_code == 200
    finally:
        await close_app(app)
    body = assert_problem(response, 503, "service-unavailable")
    assert response.headers["retry-after"] == "1"
    assert "busy" in body["detail"]
