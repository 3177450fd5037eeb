"""Structured logs: the JSON shape, request and execution ids, the access log, no secrets."""

from __future__ import annotations

import asyncio
import io
import json
import logging
import subprocess
import sys
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from server.apikit import PASSWORD, Api, bearer
from server.test_cli import docg
from server.test_invitations import accept, invite, set_users_limit, token_of

from docg_server.config import Settings, SettingsError, get_settings
from docg_server.logging import (
    MASK,
    ContextFilter,
    JsonFormatter,
    SecretMaskingFilter,
    TextFormatter,
    bind_execution,
    bind_step,
    logging_config,
    request_id_var,
)

ACCESS = "docg.server.access"


@pytest.fixture
def json_log() -> Iterator[tuple[logging.Logger, io.StringIO]]:
    """A logger writing through the server's filters and JSON formatter into a buffer."""
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(JsonFormatter())
    handler.addFilter(ContextFilter())
    handler.addFilter(SecretMaskingFilter())
    logger = logging.getLogger("docg.test.logging")
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield logger, stream
    finally:
        logger.removeHandler(handler)


def lines(stream: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


# -- the JSON shape --------------------------------------------------------------------------


def test_a_json_line_has_timestamp_level_logger_message_and_request_id(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    token = request_id_var.set("req-42")
    try:
        logger.warning("rendered %d documents", 3, extra={"workflow_id": "wf-1"})
    finally:
        request_id_var.reset(token)
    logger.info("outside a request")

    first, second = lines(stream)
    assert list(first)[:5] == ["timestamp", "level", "logger", "message", "request_id"]
    assert first["timestamp"].endswith("Z")
    assert first["level"] == "WARNING"
    assert first["logger"] == "docg.test.logging"
    assert first["message"] == "rendered 3 documents"
    assert first["request_id"] == "req-42"
    assert first["workflow_id"] == "wf-1"
    assert "execution_id" not in first
    assert second["request_id"] is None


def test_an_exception_is_logged_with_its_traceback(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        logger.exception("step failed")
    [line] = lines(stream)
    assert "RuntimeError: boom" in line["exception"]


# -- execution and step ids ----------------------------------------------------------------


def test_execution_and_step_ids_come_from_the_context(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    with bind_execution("exec-1"):
        logger.info("started")
        with bind_step("render"):
            logger.info("rendering")
        logger.info("between steps")
    with bind_execution("exec-2", step_id="send"):
        logger.info("sending")
    logger.info("idle")

    found = [(line.get("execution_id"), line.get("step_id")) for line in lines(stream)]
    assert found == [
        ("exec-1", None),
        ("exec-1", "render"),
        ("exec-1", None),
        ("exec-2", "send"),
        (None, None),
    ]


async def test_execution_ids_follow_tasks_and_threads_started_inside_the_block(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log

    async def in_a_task() -> None:
        await asyncio.sleep(0)
        logger.info("in a task")

    with bind_execution("exec-9", step_id="fetch"):
        task = asyncio.create_task(in_a_task())
        thread = asyncio.create_task(asyncio.to_thread(logger.info, "in a thread"))
    await asyncio.gather(task, thread)  # they run after the block ended
    logger.info("after")
    found = [(line.get("execution_id"), line.get("step_id")) for line in lines(stream)]
    assert sorted(found[:2]) == [("exec-9", "fetch"), ("exec-9", "fetch")]
    assert found[2] == (None, None)


# -- secrets -------------------------------------------------------------------------------


def test_sensitive_extra_fields_are_masked_at_any_depth(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    logger.info(
        "calling the API",
        extra={
            "password": "hunter2-hunter2",
            "api_key": "sk-live-123456",
            "request": {
                "headers": {"Authorization": "Bearer abc.def.ghi", "X-Api-Key": "k-999999"},
                "body": [{"client_secret": "cs-888888", "name": "Acme"}],
            },
            "credentials": {"user": "ana"},
            "user_email": "ana@example.com",
        },
    )
    text = stream.getvalue()
    for secret in ("hunter2-hunter2", "sk-live-123456", "abc.def.ghi", "k-999999", "cs-888888"):
        assert secret not in text
    [line] = lines(stream)
    assert line["password"] == MASK
    assert line["api_key"] == MASK
    assert line["credentials"] == MASK
    assert line["request"]["headers"] == {"Authorization": MASK, "X-Api-Key": MASK}
    assert line["request"]["body"] == [{"client_secret": MASK, "name": "Acme"}]
    assert line["user_email"] == "ana@example.com"


def test_dict_arguments_and_bearer_credentials_in_messages_are_masked(
    json_log: tuple[logging.Logger, io.StringIO],
) -> None:
    logger, stream = json_log
    logger.info("login %(email)s with %(password)s", {"email": "a@b.c", "password": "pw-123456"})
    logger.info("payload %s", {"token": "tok-123456", "secret": "s-123456", "id": 7})
    logger.info("forwarding Authorization: Bearer eyJhbGciOi.payload.sig")
    logger.info("HTTP Request: GET %s", "https://api.example.com/v1?api_key=ak-123456&page=2")
    text = stream.getvalue()
    for secret in ("pw-123456", "tok-123456", "s-123456", "eyJhbGciOi", "ak-123456"):
        assert secret not in text
    first, second, third, fourth = (line["message"] for line in lines(stream))
    assert first == f"login a@b.c with {MASK}"
    assert "'id': 7" in second
    assert third == f"forwarding Authorization: Bearer {MASK}"
    assert fourth == f"HTTP Request: GET https://api.example.com/v1?api_key={MASK}&page=2"


def test_the_text_format_masks_too_and_shows_the_context() -> None:
    record = logging.LogRecord("docg.x", logging.INFO, __file__, 1, "hello", None, None)
    record.token = "tok-123456"
    with bind_execution("exec-3"):
        ContextFilter().filter(record)
    SecretMaskingFilter().filter(record)
    line = TextFormatter().format(record)
    assert "hello [" in line
    assert "execution_id=exec-3" in line
    assert f"token={MASK}" in line
    assert "tok-123456" not in line


# -- over HTTP -----------------------------------------------------------------------------


async def test_each_request_writes_one_access_line_without_its_query_string(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger=ACCESS):
        response = await client.get(
            "/api/v1/organizations/me?token=leaked-123456",
            headers={"X-Request-ID": "req-abc"},
        )
    [record] = [r for r in caplog.records if r.name == ACCESS]
    assert response.status_code == 401
    fields: dict[str, Any] = record.__dict__
    assert fields["method"] == "GET"
    assert fields["path"] == "/api/v1/organizations/me"
    assert fields["status"] == 401
    assert isinstance(fields["duration_ms"], float) and fields["duration_ms"] >= 0
    assert record.getMessage().startswith("GET /api/v1/organizations/me 401 ")
    assert "leaked-123456" not in JsonFormatter().format(record)


async def test_the_access_line_carries_the_request_id(
    client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    handler_records: list[dict[str, Any]] = []

    class Capture(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            handler_records.append(json.loads(self.format(record)))

    capture = Capture()
    capture.addFilter(ContextFilter())
    capture.addFilter(SecretMaskingFilter())
    capture.setFormatter(JsonFormatter())
    access = logging.getLogger(ACCESS)
    access.addHandler(capture)
    try:
        with caplog.at_level(logging.INFO, logger=ACCESS):
            response = await client.get("/healthz", headers={"X-Request-ID": "req-abc"})
            generated = await client.get("/healthz")
    finally:
        access.removeHandler(capture)
    assert response.status_code == 200
    assert [r["request_id"] for r in handler_records] == [
        "req-abc",
        generated.headers["x-request-id"],
    ]
    assert handler_records[0]["path"] == "/healthz"
    assert handler_records[0]["status"] == 200


async def test_sensitive_path_parameters_are_masked_in_the_access_log(
    app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    async def hook(workflow_id: str, token: str) -> dict[str, str]:
        return {"ok": workflow_id}

    app.router.add_api_route("/api/v1/test-hooks/{workflow_id}/{token}", hook, methods=["POST"])
    with caplog.at_level(logging.INFO, logger=ACCESS):
        response = await client.post("/api/v1/test-hooks/wf-1/s3cr3t-webhook-token")
    assert response.status_code == 200
    [record] = [r for r in caplog.records if r.name == ACCESS]
    assert record.__dict__["path"] == f"/api/v1/test-hooks/wf-1/{MASK}"
    assert "s3cr3t-webhook-token" not in caplog.text


async def test_no_password_or_token_reaches_any_log_record(
    api: Api, app: FastAPI, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        tokens = await api.signed_in()
        await client.post(
            "/api/v1/auth/login", json={"email": "ana@example.com", "password": "wrong-pass-1"}
        )
        set_users_limit(app, 3)
        headers = bearer(tokens["access_token"])
        created = await invite(client, headers, "bruno@example.com")
        invitation = token_of(created)
        assert (await accept(client, invitation)).status_code == 201
        await client.get(f"/api/v1/organizations/me?access_token={tokens['access_token']}")
        refreshed = await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        )
    assert refreshed.status_code == 200
    assert caplog.records, "nothing was logged: the test would prove nothing"
    secrets = (
        PASSWORD,
        "wrong-pass-1",
        tokens["access_token"],
        tokens["refresh_token"],
        refreshed.json()["refresh_token"],
        invitation,
    )
    formatter = JsonFormatter()
    for record in caplog.records:
        # As recorded: the server never passes a password or token to a logger...
        raw = " ".join([record.getMessage(), repr(record.__dict__)])
        for secret in secrets[:2] + secrets[3:]:
            assert secret not in raw, record.name
        # ...and the installed filter masks the access token this client put in a URL
        # (httpx logs the full URL it requested).
        SecretMaskingFilter().filter(record)
        del record.message  # caplog's own formatting, cached on the record before the filter
        seen = " ".join([record.getMessage(), repr(record.__dict__), formatter.format(record)])
        for secret in secrets:
            assert secret not in seen, record.name


# -- configuration -------------------------------------------------------------------------


def run_configured(log_format: str, level: str) -> list[str]:
    """Log through :func:`configure_logging` in a fresh interpreter; its stderr lines."""
    script = f"""
import logging
from docg_server.logging import configure_logging, bind_execution
configure_logging({log_format!r}, {level!r})
logging.getLogger("uvicorn.error").info("Application startup complete.")
logging.getLogger("uvicorn.access").info("uvicorn's own access line")
logging.getLogger("docg.server").debug("debug detail")
with bind_execution("exec-7"):
    logging.getLogger("docg.server").warning("login", extra={{"password": "pw-987654"}})
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=True
    )
    return done.stderr.splitlines()


def test_configure_logging_writes_json_for_every_logger_uvicorns_included() -> None:
    output = run_configured("json", "INFO")
    records = [json.loads(line) for line in output]
    assert [(r["logger"], r["message"]) for r in records] == [
        ("uvicorn.error", "Application startup complete."),
        ("docg.server", "login"),
    ]
    assert records[1]["password"] == MASK
    assert records[1]["execution_id"] == "exec-7"
    assert "pw-987654" not in "\n".join(output)


def test_the_text_format_and_the_level_are_configurable() -> None:
    output = run_configured("text", "DEBUG")
    assert len(output) == 3
    assert not output[0].startswith("{")
    assert "debug detail" in output[1]
    assert "execution_id=exec-7" in output[2]
    assert "pw-987654" not in "\n".join(output)


def test_the_log_settings_accept_any_case_and_refuse_unknown_values() -> None:
    settings = Settings(DOCG_LOG_FORMAT="TEXT", DOCG_LOG_LEVEL="debug")
    assert (settings.DOCG_LOG_FORMAT, settings.DOCG_LOG_LEVEL) == ("text", "DEBUG")
    assert (Settings().DOCG_LOG_FORMAT, Settings().DOCG_LOG_LEVEL) == ("json", "INFO")
    with pytest.raises((ValueError, SettingsError)):
        Settings(DOCG_LOG_FORMAT="xml")
    with pytest.raises((ValueError, SettingsError)):
        Settings(DOCG_LOG_LEVEL="loud")


def test_serve_gives_uvicorn_the_logging_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **kwargs: calls.append(kwargs))
    monkeypatch.delenv("DOCG_ENV", raising=False)
    monkeypatch.setenv("DOCG_LOG_FORMAT", "text")
    monkeypatch.setenv("DOCG_LOG_LEVEL", "warning")
    get_settings.cache_clear()
    try:
        result = docg("serve")
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    [options] = calls
    assert options["log_config"] == logging_config("text", "WARNING")
    assert options["log_level"] == "warning"
    assert options["access_log"] is False  # the middleware writes the access log
