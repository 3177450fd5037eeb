"""Refreshing OAuth access tokens, one refresh at a time per connection across processes.

:class:`TokenRefresher` is used by :class:`~docg_server.connections.DatabaseConnections`:
credentials whose access token expires within :data:`REFRESH_MARGIN_SECONDS` are refreshed
before they are handed to the engine, and :meth:`TokenRefresher.refresh_rejected` refreshes
a token the vendor answered 401 to.

Serialisation is a compare-and-swap on ``data_source_connections.credentials_version``
(v, read with the credentials; always positive when no refresh is going on):

1. claim: ``UPDATE ... SET credentials_version = -(v + 1) WHERE id = ? AND
   credentials_version = v``. One process wins; it alone calls the token endpoint. The
   negative version tells every other reader that a refresh is in progress.
2. write: ``UPDATE ... SET credentials = <new>, credentials_version = v + 2
   WHERE id = ? AND credentials_version = -(v + 1)``. A rotated refresh token is stored with
   the new access token; one the provider did not rotate is kept.
3. the others re-read the row until the version is positive again, and use the winner's
   token instead of refreshing again. A claim nobody finishes within :data:`WAIT_SECONDS`
   (its process died) is taken over the same way (``-(v + 1)`` → ``-(v + 2)``).

``invalid_grant`` (the refresh token was revoked or has expired) marks the connection
``expired`` and fails with a :class:`~docg_core.errors.StepError` saying to reconnect it; an
unreachable provider leaves it as it was (the current token is used while it is still
valid, else a :class:`~docg_core.errors.RetryableError`).

The client id and secret of a refresh are the ones stored with the connection (a refresh
token belongs to the client that obtained it), else the provider's settings.
"""

from __future__ import annotations

import asyncio
import logging
import time
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from docg_core.errors import RetryableError, StepError

from ..config import Settings, get_settings
from ..connections import open_credentials, seal_credentials
from ..crypto import DecryptionError, KeyRing
from ..models import ConnectionStatus, DataSourceConnection
from .client import TokenError, refresh_tokens, token_credentials
from .providers import ClientConfig, OAuthProvider, provider_for_app

__all__ = [
    "POLL_SECONDS",
    "REFRESH_MARGIN_SECONDS",
    "WAIT_SECONDS",
    "TokenRefresher",
    "expires_at",
]

logger = logging.getLogger("docg.server.oauth")

REFRESH_MARGIN_SECONDS = 300
"""An access token expiring within this many seconds is refreshed before it is used."""
WAIT_SECONDS = 45.0
"""How long a process waits for another one's refresh before taking it over."""
POLL_SECONDS = 0.05
"""How often a waiting process re-reads the connection."""

_EXPIRED = ConnectionStatus.EXPIRED.value
Predicate = Callable[[Mapping[str, Any]], bool]


def expires_at(credentials: Mapping[str, Any]) -> float | None:
    """``expires_at`` of the credentials as Unix seconds (None when absent or unreadable)."""
    value = credentials.get("expires_at")
    if isinstance(value, bool) or value in (None, ""):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            pass
        try:
            return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()
        except ValueError:
            return None
    return None


@dataclass(frozen=True)
class _Row:
    version: int
    status: str
    credentials: Mapping[str, Any] | None  # None: no configured key opens them


class TokenRefresher:
    """Refreshes the OAuth tokens of stored connections (see the module docstring).

    :param settings: for the client of a connection that stores none, and the Microsoft
        tenant; defaults to :func:`~docg_server.config.get_settings` when needed.
    :param transport: replaces the network for token requests (tests, fakes).
    """

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        keyring: KeyRing,
        *,
        settings: Settings | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        margin_seconds: float = REFRESH_MARGIN_SECONDS,
        wait_seconds: float = WAIT_SECONDS,
        poll_seconds: float = POLL_SECONDS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._session_factory = session_factory
        self._keyring = keyring
        self._settings = settings
        self.transport = transport
        self._margin = margin_seconds
        self._wait = wait_seconds
        self._poll = poll_seconds
        self._clock = clock

    # -- public -----------------------------------------------------------------------------

    def expiring(self, credentials: Mapping[str, Any]) -> bool:
        """True when the access token expires within the margin (or has no access token)."""
        if not credentials.get("access_token"):
            return True
        deadline = expires_at(credentials)
        return deadline is not None and deadline - self._clock() < self._margin

    async def ensure_fresh(
        self,
        connection_id: uuid.UUID,
        *,
        name: str,
        app_key: str,
        version: int,
        status: str,
        credentials: Mapping[str, Any],
    ) -> Mapping[str, Any]:
        """``credentials`` (read at ``version``), refreshed first if they expire soon."""
        provider = provider_for_app(app_key)
        if provider is None or not credentials.get("refresh_token"):
            return credentials
        if not self.expiring(credentials):
            return credentials
        return await self._refresh(
            connection_id,
            name,
            provider,
            version,
            status,
            credentials,
            stale=self.expiring,
            still_usable=self._still_valid,
        )

    async def refresh_rejected(
        self,
        connection_id: uuid.UUID,
        *,
        name: str,
        app_key: str,
        version: int,
        status: str,
        credentials: Mapping[str, Any],
        access_token: str,
    ) -> Mapping[str, Any]:
        """Credentials with a new access token after the vendor refused ``access_token``
        (a 401); when another process already replaced it, theirs."""
        provider = provider_for_app(app_key)
        if provider is None or not credentials.get("refresh_token"):
            return credentials

        def stale(found: Mapping[str, Any]) -> bool:
            return found.get("access_token") == access_token

        if not stale(credentials):
            return credentials
        return await self._refresh(
            connection_id,
            name,
            provider,
            version,
            status,
            credentials,
            stale=stale,
            still_usable=lambda _found: False,
        )

    # -- the compare-and-swap ---------------------------------------------------------------

    async def _refresh(
        self,
        connection_id: uuid.UUID,
        name: str,
        provider: OAuthProvider,
        version: int,
        status: str,
        credentials: Mapping[str, Any],
        *,
        stale: Predicate,
        still_usable: Predicate,
    ) -> Mapping[str, Any]:
        deadline = self._clock() + self._wait
        while True:
            if status == _EXPIRED:
                raise self._expired(name, provider)
            # A negative version is a claim in progress: wait for it, unless it is abandoned.
            if version >= 0 or self._clock() >= deadline:
                lease = -(abs(version) + 1)
                if await asyncio.to_thread(self._claim, connection_id, version, lease):
                    return await self._refresh_claimed(
                        connection_id, name, provider, lease, credentials, still_usable
                    )
            else:
                await asyncio.sleep(self._poll)
            row = await asyncio.to_thread(self._read, connection_id)
            if row is None:
                raise KeyError(str(connection_id))
            if row.status == _EXPIRED:
                raise self._expired(name, provider)
            if row.credentials is not None and not stale(row.credentials):
                return row.credentials  # another process's new token
            current = row.credentials if row.credentials is not None else credentials
            if row.version >= 0:  # another refresh ended without a new token: no second try
                return self._unrefreshed(current, name, provider, still_usable)
            version, status, credentials = row.version, row.status, current

    async def _refresh_claimed(
        self,
        connection_id: uuid.UUID,
        name: str,
        provider: OAuthProvider,
        lease: int,
        credentials: Mapping[str, Any],
        still_usable: Predicate,
    ) -> Mapping[str, Any]:
        client = self._client(provider, credentials)
        if client is None:
            await asyncio.to_thread(self._finish, connection_id, lease, None)
            raise StepError(
                f"the {provider.name} connection {name!r} cannot refresh its access token: "
                f"set {provider.client_id_setting} and {provider.client_secret_setting}, or "
                "connect it again",
                code="connection_refresh_impossible",
            )
        try:
            token = await refresh_tokens(
                client, str(credentials["refresh_token"]), transport=self.transport
            )
        except TokenError as exc:
            expired = exc.error == "invalid_grant"
            await asyncio.to_thread(self._finish, connection_id, lease, None, expired)
            if expired:
                logger.warning("oauth: connection %s expired (invalid_grant)", connection_id)
                raise self._expired(name, provider) from None
            if exc.transient:
                return self._unrefreshed(credentials, name, provider, still_usable)
            raise StepError(
                f"{provider.name} refused to refresh the access token of connection "
                f"{name!r} ({exc}); connect it again",
                code="connection_refresh_failed",
            ) from None
        fresh = {
            **credentials,
            **token_credentials(token, client=client, previous=credentials, now=self._clock()),
        }
        if await asyncio.to_thread(self._finish, connection_id, lease, fresh):
            logger.info("oauth: refreshed the access token of connection %s", connection_id)
            return fresh
        # Slower than WAIT_SECONDS: another process took the claim over, and its token wins.
        row = await asyncio.to_thread(self._read, connection_id)
        return row.credentials if row is not None and row.credentials is not None else fresh

    def _unrefreshed(
        self,
        credentials: Mapping[str, Any],
        name: str,
        provider: OAuthProvider,
        still_usable: Predicate,
    ) -> Mapping[str, Any]:
        if still_usable(credentials):
            return credentials
        raise RetryableError(
            f"{provider.name} could not be reached to refresh the access token of connection "
            f"{name!r}; trying again later",
            code="connection_refresh_unavailable",
        )

    def _still_valid(self, credentials: Mapping[str, Any]) -> bool:
        deadline = expires_at(credentials)
        return bool(credentials.get("access_token")) and (
            deadline is None or deadline > self._clock()
        )

    @staticmethod
    def _expired(name: str, provider: OAuthProvider) -> StepError:
        return StepError(
            f"the {provider.name} connection {name!r} is no longer authorised (the refresh "
            "token was revoked or has expired: invalid_grant); connect it again with "
            f"/api/v1{provider.path}/authorize?connection_name={name}",
            code="connection_expired",
        )

    def _client(
        self, provider: OAuthProvider, credentials: Mapping[str, Any]
    ) -> ClientConfig | None:
        settings = self._settings or get_settings()
        client_id, secret = credentials.get("client_id"), credentials.get("client_secret")
        if client_id and secret:
            authorize_url, token_url = provider.endpoints(settings)
            return ClientConfig(str(client_id), str(secret), authorize_url, token_url)
        return provider.client(settings)

    # -- the database (worker threads) ------------------------------------------------------

    def _claim(self, connection_id: uuid.UUID, version: int, lease: int) -> bool:
        with self._session_factory() as session:
            result = session.execute(
                sa.update(DataSourceConnection)
                .where(
                    DataSourceConnection.id == connection_id,
                    DataSourceConnection.credentials_version == version,
                    DataSourceConnection.status != _EXPIRED,
                )
                .values(credentials_version=lease)
            )
            session.commit()
        return getattr(result, "rowcount", 0) == 1

    def _finish(
        self,
        connection_id: uuid.UUID,
        lease: int,
        credentials: Mapping[str, Any] | None,
        expired: bool = False,
    ) -> bool:
        values: dict[str, Any] = {"credentials_version": -lease + 1}
        if credentials is not None:
            values["credentials"] = seal_credentials(
                self._keyring, connection_id, dict(credentials)
            )
            deadline = expires_at(credentials)
            values["expires_at"] = (
                datetime.fromtimestamp(deadline, tz=UTC) if deadline is not None else None
            )
            if credentials.get("scope"):
                values["scopes"] = str(credentials["scope"]).split()
            values["status"] = ConnectionStatus.ACTIVE.value
        if expired:
            values["status"] = _EXPIRED
        with self._session_factory() as session:
            result = session.execute(
                sa.update(DataSourceConnection)
                .where(
                    DataSourceConnection.id == connection_id,
                    DataSourceConnection.credentials_version == lease,
                )
                .values(**values)
            )
            session.commit()
        return getattr(result, "rowcount", 0) == 1

    def _read(self, connection_id: uuid.UUID) -> _Row | None:
        with self._session_factory() as session:
            row = session.execute(
                sa.select(
                    DataSourceConnection.credentials_version,
                    DataSourceConnection.status,
                    DataSourceConnection.credentials,
                ).where(DataSourceConnection.id == connection_id)
            ).first()
        if row is None:
            return None
        try:
            credentials: Mapping[str, Any] | None = open_credentials(
                self._keyring, connection_id, row.credentials
            )
        except DecryptionError:
            credentials = None
        return _Row(row.credentials_version, row.status, credentials)
