"""Structured logs: one JSON object per line (or text), with request, execution and step ids.

Standard :mod:`logging` with a JSON formatter; ``docg serve`` installs it for the whole
process, uvicorn's loggers included (:func:`logging_config`)::

    {"timestamp": "2026-11-26T04:31:07.412Z", "level": "INFO", "logger": "docg.server.access",
     "message": "POST /api/v1/auth/login 200 41.3ms", "request_id": "4f1c...", "method": "POST",
     "path": "/api/v1/auth/login", "status": 200, "duration_ms": 41.3}

- ``request_id`` is that of the HTTP request being served (set by the request middleware);
  ``execution_id`` and ``step_id`` appear while code runs inside :func:`bind_execution` /
  :func:`bind_step` — the engine's work for a run, in any thread or task started from there.
- Any ``extra={...}`` field is a member of the JSON object.
- Secrets never reach the output: :class:`SecretMaskingFilter` replaces the values of
  sensitive keys (password, token, authorization, api_key, secret, credentials, cookie...) in
  ``extra`` fields and in dict arguments (``log.info("%s", {"token": ...})``), at any depth;
  in messages, ``Bearer``/``Basic`` credentials and URL query parameters with such names
  (``?access_token=...``, ``X-Amz-Signature=...``).
"""

from __future__ import annotations

import json
import logging
import re
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, datetime
from typing import Any, Literal

from docg_core._masking import SENSITIVE_KEYS

__all__ = [
    "MASK",
    "ContextFilter",
    "JsonFormatter",
    "LogFormat",
    "SecretMaskingFilter",
    "TextFormatter",
    "bind_execution",
    "bind_step",
    "configure_logging",
    "execution_id_var",
    "is_sensitive_key",
    "logging_config",
    "mask_secrets",
    "request_id_var",
    "step_id_var",
]

LogFormat = Literal["json", "text"]

MASK = "********"

request_id_var: ContextVar[str | None] = ContextVar("docg_request_id", default=None)
"""The current HTTP request's id (``None`` outside a request)."""
execution_id_var: ContextVar[str | None] = ContextVar("docg_execution_id", default=None)
"""The workflow execution being worked on (``None`` outside one)."""
step_id_var: ContextVar[str | None] = ContextVar("docg_step_id", default=None)
"""The step (node) of that execution being worked on."""

# Exact keys (the engine's own list, for what steps record) and fragments: any key containing
# one of these is a secret too (``new_password``, ``webhook_token``, ``X-Api-Key``).
_SENSITIVE_KEYS = SENSITIVE_KEYS | {"credentials", "passwd", "private_key"}
_SENSITIVE_FRAGMENTS = (
    "password",
    "passwd",
    "secret",
    "token",
    "authorization",
    "api_key",
    "apikey",
    "credential",
    "cookie",
    "private_key",
)
_BEARER = re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]+")
# A URL's query parameter (an outbound call's URL logged by httpx, say): name=value.
_QUERY_PARAM = re.compile(r"(?<=[?&])([^=&\s#\"']+)=([^&\s#\"']+)")
_MAX_DEPTH = 8

_CONTEXT_FIELDS = ("request_id", "execution_id", "step_id")
# Every attribute a LogRecord has on its own; anything else on a record came from ``extra``.
_RECORD_ATTRS = frozenset(
    {
        *logging.LogRecord("", 0, "", 0, "", None, None).__dict__,
        "message",
        "asctime",
        "taskName",
        *_CONTEXT_FIELDS,
    }
)


def is_sensitive_key(key: str) -> bool:
    """True when values under ``key`` (any case, ``-`` or ``_``) are credentials."""
    normal = key.strip().lower().replace("-", "_")
    return normal in _SENSITIVE_KEYS or any(part in normal for part in _SENSITIVE_FRAGMENTS)


def mask_secrets(value: Any, _depth: int = 0) -> Any:
    """A copy of ``value`` with the values of sensitive keys masked, in nested dicts and lists."""
    if _depth > _MAX_DEPTH:
        return value
    if isinstance(value, Mapping):
        return {
            key: (
                MASK
                if isinstance(key, str) and is_sensitive_key(key) and value[key] not in (None, "")
                else mask_secrets(value[key], _depth + 1)
            )
            for key in value
        }
    if isinstance(value, list | tuple):
        return type(value)(mask_secrets(item, _depth + 1) for item in value)
    return value


# -- context ---------------------------------------------------------------------------------


@contextmanager
def bind_execution(execution_id: str | uuid.UUID, step_id: str | None = None) -> Iterator[None]:
    """Within the block, every log record carries ``execution_id`` (and ``step_id`` if given).

    Context variables: they follow ``asyncio`` tasks and ``contextvars.copy_context()`` runs
    started inside the block, and are restored when it ends (blocks nest).
    """
    execution = execution_id_var.set(str(execution_id))
    step = step_id_var.set(step_id)
    try:
        yield
    finally:
        step_id_var.reset(step)
        execution_id_var.reset(execution)


@contextmanager
def bind_step(step_id: str | None) -> Iterator[None]:
    """Within the block, log records carry ``step_id`` (inside :func:`bind_execution`)."""
    step = step_id_var.set(step_id)
    try:
        yield
    finally:
        step_id_var.reset(step)


class ContextFilter(logging.Filter):
    """Copies the request, execution and step ids from the context onto each record."""

    def filter(self, record: logging.LogRecord) -> bool:
        for name, var in (
            ("request_id", request_id_var),
            ("execution_id", execution_id_var),
            ("step_id", step_id_var),
        ):
            if getattr(record, name, None) is None:
                setattr(record, name, var.get())
        return True


class SecretMaskingFilter(logging.Filter):
    """Masks secrets in a record's ``extra`` fields, dict arguments and ``Bearer`` credentials.

    It changes the record itself, so every handler after it sees the masked values.
    """

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, Mapping):
            record.args = mask_secrets(record.args)
        elif isinstance(record.args, tuple) and any(
            isinstance(arg, Mapping | list | tuple) for arg in record.args
        ):
            record.args = tuple(mask_secrets(arg) for arg in record.args)
        for key in [k for k in record.__dict__ if k not in _RECORD_ATTRS]:
            value = record.__dict__[key]
            if is_sensitive_key(key) and value not in (None, ""):
                record.__dict__[key] = MASK
            elif isinstance(value, Mapping | list | tuple):
                record.__dict__[key] = mask_secrets(value)
        try:
            message = record.getMessage()
        except Exception:  # a malformed call: leave it for the formatter to report
            return True
        masked = _BEARER.sub(lambda m: f"{m.group(1)} {MASK}", message)
        masked = _QUERY_PARAM.sub(_mask_query_param, masked)
        if masked != message:
            record.msg, record.args = masked, None
        return True


def _mask_query_param(match: re.Match[str]) -> str:
    name = match.group(1)
    # Presigned URLs sign with X-Amz-Signature / X-Amz-Credential.
    if is_sensitive_key(name) or "signature" in name.lower():
        return f"{name}={MASK}"
    return match.group(0)


# -- formatters ------------------------------------------------------------------------------


def _timestamp(record: logging.LogRecord) -> str:
    when = datetime.fromtimestamp(record.created, UTC)
    return when.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _extras(record: logging.LogRecord) -> dict[str, Any]:
    return {
        key: value
        for key, value in record.__dict__.items()
        if key not in _RECORD_ATTRS and not key.startswith("_")
    }


class JsonFormatter(logging.Formatter):
    """One JSON object per record: timestamp (UTC), level, logger, message, request_id, then
    execution_id / step_id when set, ``extra`` fields, and ``exception`` with the traceback."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "timestamp": _timestamp(record),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
            "request_id": getattr(record, "request_id", None) or request_id_var.get(),
        }
        for name, var in (("execution_id", execution_id_var), ("step_id", step_id_var)):
            value = getattr(record, name, None) or var.get()
            if value is not None:
                data[name] = value
        for key, value in mask_secrets(_extras(record)).items():
            data.setdefault(key, value)
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, default=str, ensure_ascii=False)


class TextFormatter(logging.Formatter):
    """``time level logger message key=value...`` for people at a terminal."""

    def __init__(self) -> None:
        super().__init__("%(asctime)s %(levelname)-8s %(name)s %(message)s")

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = {name: getattr(record, name, None) for name in _CONTEXT_FIELDS}
        fields.update(mask_secrets(_extras(record)))
        suffix = " ".join(f"{k}={v}" for k, v in fields.items() if v is not None)
        if not suffix:
            return line
        head, sep, tail = line.partition("\n")  # keep a traceback below the fields
        return f"{head} [{suffix}]{sep}{tail}"


# -- configuration -----------------------------------------------------------------------------


def logging_config(log_format: LogFormat = "json", level: str = "INFO") -> dict[str, Any]:
    """A :func:`logging.config.dictConfig` for the whole process (uvicorn's ``log_config``).

    One handler on the root logger (stderr) with the context and secret filters; uvicorn's
    loggers propagate to it. ``uvicorn.access`` is silenced: the request middleware writes
    the access log, with request ids and without query strings.
    """
    formatter = (
        "docg_server.logging.JsonFormatter"
        if log_format == "json"
        else ("docg_server.logging.TextFormatter")
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "filters": {
            "context": {"()": "docg_server.logging.ContextFilter"},
            "secrets": {"()": "docg_server.logging.SecretMaskingFilter"},
        },
        "formatters": {"docg": {"()": formatter}},
        "handlers": {
            "docg": {
                "class": "logging.StreamHandler",
                "stream": "ext://sys.stderr",
                "formatter": "docg",
                "filters": ["context", "secrets"],
            }
        },
        "loggers": {
            "uvicorn": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.error": {"handlers": [], "level": level, "propagate": True},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
        "root": {"handlers": ["docg"], "level": level},
    }


def configure_logging(log_format: LogFormat = "json", level: str = "INFO") -> None:
    """Install :func:`logging_config` in this process."""
    import logging.config

    logging.config.dictConfig(logging_config(log_format, level))
