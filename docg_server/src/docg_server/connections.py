"""Connections on the server: credential checks, encryption, the engine's provider, and
running an app's own code (connection test, dynamic data) with a connection's credentials.

- :func:`check_credentials` validates a credentials object against the app's
  :class:`~docg_core.apps.AuthSpec`; its problems name fields and never echo values.
- :func:`seal_credentials` / :func:`open_credentials` encrypt and decrypt with the
  :class:`~docg_server.crypto.KeyRing`, bound to the connection's id (associated data).
- :class:`DatabaseConnections` is the engine's :class:`~docg_core.engine.ConnectionProvider`:
  a node's ``connection`` (a name, or an id) is looked up only within the execution's
  organization; the database is read off the event loop.
- :func:`run_connection_test` and :func:`fetch_options` run ``BaseApp.test_connection`` and a
  dynamic-data source with a throw-away context; failures become sentences with every
  credential value redacted.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from docg_core._http import http_factory
from docg_core.apps import ActionArgument, ArgumentType, AuthSpec, BaseApp, DropdownOption
from docg_core.context import (
    AppInfo,
    ExecutionContext,
    ExecutionInfo,
    FlowInfo,
    StepInfo,
    build_context,
)
from docg_core.errors import DocgError, RetryableError, StepError
from docg_core.retry import classify_error
from docg_core.store import InMemoryStore

from .crypto import DecryptionError, KeyRing
from .models import DataSourceConnection

if TYPE_CHECKING:
    from .oauth.refresh import TokenRefresher

__all__ = [
    "OAUTH_TOKEN_FIELDS",
    "ConnectionTestResult",
    "CredentialProblem",
    "DatabaseConnections",
    "UpstreamError",
    "check_credentials",
    "credential_fields",
    "describe_failure",
    "fetch_options",
    "open_credentials",
    "redact",
    "run_connection_test",
    "seal_credentials",
]

OAUTH_TOKEN_FIELDS = (
    "access_token",
    "refresh_token",
    "expires_at",
    "token_type",
    "client_id",
    "client_secret",
    "scope",
)
"""Fields an OAuth 2.0 connection may hold besides the app's own (what a token answer has)."""

MAX_FIELDS = 50
TIMEOUT_SECONDS = 60.0
"""The longest a connection test or a dynamic-data source may take, all requests included."""
REDACTED = "[redacted]"
_MIN_REDACTED_LENGTH = 4  # shorter values ("1", "yes") would blank out ordinary words

_TYPE_MESSAGES = {
    ArgumentType.NUMBER: "must be a number",
    ArgumentType.BOOLEAN: "must be true or false",
    ArgumentType.JSON: "must be valid JSON",
    ArgumentType.DATE: "must be a date (YYYY-MM-DD)",
    ArgumentType.DATETIME: "must be an ISO 8601 date-time",
}


# -- credentials ------------------------------------------------------------------------------


@dataclass(frozen=True)
class CredentialProblem:
    """One bad field of a credentials object (``field`` is its key; its value is never kept)."""

    field: str
    message: str
    code: str


def _empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _type_message(argument: ActionArgument) -> str:
    if argument.type is ArgumentType.DROPDOWN and argument.options is not None:
        return "must be one of: " + ", ".join(str(o.value) for o in argument.options)
    return _TYPE_MESSAGES.get(argument.type, "must be text")


def check_credentials(
    spec: AuthSpec, credentials: Mapping[str, Any]
) -> tuple[dict[str, Any], list[CredentialProblem]]:
    """The credentials to store (defaults filled in, values coerced, empty ones dropped) and
    every problem: unknown fields, missing required ones, values of the wrong type."""
    declared = {f.key: f for f in spec.fields}
    extra = OAUTH_TOKEN_FIELDS if spec.type == "oauth2" else ()
    allowed = [*declared, *(k for k in extra if k not in declared)]
    problems: list[CredentialProblem] = []
    if len(credentials) > MAX_FIELDS:
        problems.append(CredentialProblem("", f"at most {MAX_FIELDS} fields", "too_many_fields"))
        return {}, problems
    for key in credentials:
        if key not in declared and key not in extra:
            problems.append(
                CredentialProblem(
                    key[:100],
                    "not a field of this app's connection; expected "
                    + (", ".join(allowed) if allowed else "no fields"),
                    "unknown_field",
                )
            )
    result: dict[str, Any] = {}
    for argument in spec.fields:
        value = credentials.get(argument.key)
        if _empty(value):
            if argument.required and _empty(argument.default):
                problems.append(
                    CredentialProblem(argument.key, f"{argument.label} is required", "missing")
                )
            elif not _empty(argument.default):
                result[argument.key] = argument.default
            continue
        try:
            result[argument.key] = argument.coerce(value)
        except ValueError:
            problems.append(
                CredentialProblem(argument.key, _type_message(argument), "invalid_type")
            )
    for key in extra:
        value = credentials.get(key)
        if key in declared or _empty(value):
            continue
        if isinstance(value, bool) or not isinstance(value, str | int | float):
            problems.append(CredentialProblem(key, "must be text or a number", "invalid_type"))
        else:
            result[key] = value
    if spec.type == "oauth2" and not result and not problems:
        problems.append(
            CredentialProblem(
                "",
                "an OAuth connection needs its tokens (access_token, refresh_token, ...) or "
                "one of the app's fields: " + ", ".join(allowed),
                "missing",
            )
        )
    return result, problems


def seal_credentials(keyring: KeyRing, connection_id: uuid.UUID, credentials: Any) -> str:
    """The token stored in ``data_source_connections.credentials``, bound to the row id."""
    return keyring.encrypt_json(credentials, str(connection_id))


def open_credentials(keyring: KeyRing, connection_id: uuid.UUID, token: str) -> dict[str, Any]:
    """The decrypted credentials of a row; :class:`DecryptionError` if no key opens them."""
    value = keyring.decrypt_json(token, str(connection_id))
    if not isinstance(value, dict):
        raise DecryptionError("the decrypted credentials are not an object")
    return value


def credential_fields(keyring: KeyRing, connection: DataSourceConnection) -> list[str] | None:
    """The names of the fields the connection's credentials set (None if undecryptable)."""
    try:
        return sorted(open_credentials(keyring, connection.id, connection.credentials))
    except DecryptionError:
        return None


# -- the engine's provider --------------------------------------------------------------------


@dataclass(frozen=True)
class _Found:
    id: uuid.UUID
    name: str
    app_key: str
    token: str
    version: int
    status: str


class DatabaseConnections:
    """The engine's connection provider on the server's database (tenant-scoped).

    A node's ``connection`` is a connection's name (what workflow documents use) or its id;
    only connections of ``organization_id`` are considered, so an id of another organization
    is unknown. A missing connection, a missing organization or another app's connection
    raises ``KeyError``; credentials no configured key opens raise :class:`StepError`.

    OAuth credentials whose access token expires soon are refreshed first, one refresh per
    connection at a time across processes (:class:`~docg_server.oauth.TokenRefresher`).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        keyring: KeyRing,
        *,
        refresher: TokenRefresher | None = None,
    ) -> None:
        self._session_factory = session_factory
        self._keyring = keyring
        if refresher is None:
            from .oauth.refresh import TokenRefresher  # the oauth package imports this module

            refresher = TokenRefresher(session_factory, keyring)
        self.refresher = refresher

    async def get_credentials(
        self, connection_id: str, *, app_key: str, organization_id: str | None
    ) -> Mapping[str, Any]:
        """The decrypted credentials of ``connection_id`` in ``organization_id`` (an OAuth
        access token expiring soon refreshed first)."""
        found, credentials = await self._load(connection_id, app_key, organization_id)
        return await self.refresher.ensure_fresh(
            found.id,
            name=found.name,
            app_key=found.app_key,
            version=found.version,
            status=found.status,
            credentials=credentials,
        )

    async def refresh_rejected(
        self,
        connection_id: str,
        *,
        app_key: str,
        organization_id: str | None,
        access_token: str,
    ) -> Mapping[str, Any]:
        """The credentials after the vendor answered 401 to ``access_token``: refreshed
        (once, whoever asks first), or as they are when that token was already replaced."""
        found, credentials = await self._load(connection_id, app_key, organization_id)
        return await self.refresher.refresh_rejected(
            found.id,
            name=found.name,
            app_key=found.app_key,
            version=found.version,
            status=found.status,
            credentials=credentials,
            access_token=access_token,
        )

    async def _load(
        self, connection_id: str, app_key: str, organization_id: str | None
    ) -> tuple[_Found, dict[str, Any]]:
        if organization_id is None:
            raise KeyError(connection_id)
        try:
            org = uuid.UUID(str(organization_id))
        except ValueError:
            raise KeyError(connection_id) from None
        found = await asyncio.to_thread(self._find, str(connection_id), org)
        if found is None:
            raise KeyError(connection_id)
        if found.app_key != app_key:
            raise KeyError(f"connection {connection_id!r} is for app {found.app_key!r}")
        try:
            return found, open_credentials(self._keyring, found.id, found.token)
        except DecryptionError as exc:
            raise StepError(
                f"the credentials of connection {found.name!r} cannot be decrypted ({exc}); "
                "add the key they were encrypted with to ENCRYPTION_KEY, or enter them again",
                code="connection_undecryptable",
            ) from None

    def _find(self, ref: str, organization_id: uuid.UUID) -> _Found | None:
        condition = DataSourceConnection.name == ref
        with contextlib.suppress(ValueError):
            condition = sa.or_(condition, DataSourceConnection.id == uuid.UUID(ref))
        with self._session_factory() as session:
            rows = list(
                session.execute(
                    sa.select(
                        DataSourceConnection.id,
                        DataSourceConnection.name,
                        DataSourceConnection.app_key,
                        DataSourceConnection.credentials,
                        DataSourceConnection.credentials_version,
                        DataSourceConnection.status,
                    ).where(DataSourceConnection.organization_id == organization_id, condition)
                )
            )
        # A name wins over an id: workflow documents refer to connections by name.
        rows.sort(key=lambda row: row.name != ref)
        if not rows:
            return None
        row = rows[0]
        return _Found(
            row.id, row.name, row.app_key, row.credentials, row.credentials_version, row.status
        )


# -- running the app's code with a connection -------------------------------------------------


def _secret_strings(value: Any) -> list[str]:
    if isinstance(value, Mapping):
        return [s for v in value.values() for s in _secret_strings(v)]
    if isinstance(value, list | tuple):
        return [s for v in value for s in _secret_strings(v)]
    if isinstance(value, str | int | float) and not isinstance(value, bool):
        text = str(value)
        return [text] if len(text) >= _MIN_REDACTED_LENGTH else []
    return []


def redact(text: str, credentials: Mapping[str, Any]) -> str:
    """``text`` with every credential value in it replaced by ``[redacted]``."""
    for secret in sorted(set(_secret_strings(credentials)), key=len, reverse=True):
        text = text.replace(secret, REDACTED)
    return text


def _vendor_message(response: httpx.Response) -> str:
    try:
        body = response.json()
    except (ValueError, httpx.ResponseNotRead):
        body = None
    if isinstance(body, Mapping):
        for key in ("message", "error_description", "error", "detail", "title"):
            value = body.get(key)
            if isinstance(value, str) and value.strip():
                return " ".join(value.split())[:300]
    try:
        text = " ".join(response.text.split())
    except (UnicodeDecodeError, httpx.ResponseNotRead):
        return ""
    return text[:300] if text and not text.startswith("<") else ""


def describe_failure(exc: BaseException, credentials: Mapping[str, Any]) -> str:
    """A sentence for people saying why a vendor call failed (credentials redacted)."""
    if isinstance(exc, httpx.HTTPStatusError):
        url = exc.request.url
        message = (
            f"the vendor answered HTTP {exc.response.status_code} to {exc.request.method} "
            f"{url.scheme}://{url.host}{url.path}"
        )
        said = _vendor_message(exc.response)
        if said:
            message += f": {said}"
    elif isinstance(exc, httpx.TimeoutException | TimeoutError):
        message = "the vendor did not answer in time"
    elif isinstance(exc, httpx.TransportError):
        message = f"the vendor could not be reached ({type(exc).__name__})"
    elif isinstance(exc, DocgError):
        message = str(exc)
    else:
        message = f"the app failed unexpectedly ({type(exc).__name__}: {exc})"
    return redact(message, credentials)


def _context(
    app: BaseApp,
    *,
    purpose: str,
    credentials: Mapping[str, Any],
    organization_id: str,
    parameters: Mapping[str, Any],
    transport: httpx.AsyncBaseTransport | None,
) -> ExecutionContext:
    execution_id = f"{purpose}-{uuid.uuid4()}"
    return build_context(
        store=InMemoryStore(),
        app=AppInfo(app.key, app.name),
        flow=FlowInfo(None, purpose),
        step=StepInfo(
            id=purpose,
            key=purpose,
            app=app.key,
            action=purpose,
            parameters=MappingProxyType(dict(parameters)),
            idempotency_key=f"{execution_id}:{purpose}",
        ),
        execution=ExecutionInfo(execution_id, test_run=True, organization_id=organization_id),
        # A copy behind a read-only view: whatever the app does, the stored row is untouched.
        auth=MappingProxyType(copy.deepcopy(dict(credentials))),
        http_factory=http_factory(app, transport=transport),
    )


@dataclass(frozen=True)
class ConnectionTestResult:
    """What a connection test found: ``tested`` False when the app has no test; ``ok`` None
    then; ``transient`` True when the vendor could not answer (the credentials may be fine)."""

    tested: bool
    ok: bool | None
    message: str
    transient: bool = False


async def run_connection_test(
    app: BaseApp,
    credentials: Mapping[str, Any],
    *,
    organization_id: str,
    transport: httpx.AsyncBaseTransport | None = None,
) -> ConnectionTestResult:
    """Run the app's connection test; every failure is a result, never an exception."""
    if not app.can_test_connection():
        return ConnectionTestResult(
            tested=False,
            ok=None,
            message=f"the {app.name} app has no connection test; the credentials are first "
            "used when a workflow step runs with this connection",
        )
    ctx = _context(
        app,
        purpose="test-connection",
        credentials=credentials,
        organization_id=organization_id,
        parameters={},
        transport=transport,
    )
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            said = await app.test_connection(ctx)
    except Exception as exc:  # a vendor or plugin failure is the answer, not a server error
        transient = isinstance(exc, TimeoutError) or isinstance(classify_error(exc), RetryableError)
        return ConnectionTestResult(True, False, describe_failure(exc, credentials), transient)
    finally:
        await ctx.aclose()
    return ConnectionTestResult(
        True, True, redact(str(said or "the credentials work"), credentials)
    )


class UpstreamError(Exception):
    """A dynamic-data source failed; the message is safe to show (credentials redacted)."""


def _option(item: Any) -> dict[str, Any]:
    if isinstance(item, DropdownOption):
        return item.to_dict()
    if isinstance(item, Mapping) and "value" in item:
        return DropdownOption(item["value"], item.get("label")).to_dict()
    raise TypeError(f"an option must be a DropdownOption, not {type(item).__name__}")


async def fetch_options(
    app: BaseApp,
    key: str,
    credentials: Mapping[str, Any],
    *,
    organization_id: str,
    parameters: Mapping[str, Any],
    transport: httpx.AsyncBaseTransport | None = None,
) -> list[dict[str, Any]]:
    """The choices of the app's dynamic-data source ``key`` as ``{value, label}`` objects;
    :class:`UpstreamError` when the source fails (``KeyError`` if there is no such source)."""
    source = app.dynamic_data_source(key)
    if source is None:
        raise KeyError(key)
    ctx = _context(
        app,
        purpose=f"dynamic-data-{key}",
        credentials=credentials,
        organization_id=organization_id,
        parameters=parameters,
        transport=transport,
    )
    try:
        async with asyncio.timeout(TIMEOUT_SECONDS):
            found: Sequence[Any] = await source().run(ctx)
        return [_option(item) for item in found]
    except Exception as exc:
        raise UpstreamError(f"{app.key} / {key}: {describe_failure(exc, credentials)}") from None
    finally:
        await ctx.aclose()
