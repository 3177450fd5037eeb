"""The authorization-code flow's server-side state, and storing its tokens as a connection.

- :func:`begin` stores an :class:`~docg_server.models.OAuthState`: the SHA-256 of a random
  ``state`` (the value itself is only ever in the authorize URL), the PKCE ``code_verifier``
  encrypted with the row id as associated data, the redirect URI, the connection's name and
  the scopes, bound to the user and organization, for :data:`STATE_TTL_SECONDS`.
- :func:`consume` checks a returning ``state`` and marks it used in one conditional UPDATE,
  so a state works once even when two callbacks race.
- :func:`save_connection` creates the organization's connection of that name, or replaces
  the credentials of the same-named connection of the same app.

All of these are blocking (database) functions: call them in a worker thread.
"""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from authlib.common.security import generate_token
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from ..connections import open_credentials, seal_credentials
from ..crypto import DecryptionError, KeyRing
from ..models import ConnectionStatus, DataSourceConnection, OAuthState, Role, User
from ..models.base import utcnow

__all__ = [
    "STATE_TTL_SECONDS",
    "FlowError",
    "Pending",
    "SavedConnection",
    "begin",
    "consume",
    "hash_state",
    "name_taken",
    "name_taken_error",
    "save_connection",
]

STATE_TTL_SECONDS = 600
"""How long a person has to consent at the provider and come back."""
_STATE_BYTES = 48  # characters of the state and of the verifier: well over 128 bits each
_VERIFIER_LENGTH = 64  # RFC 7636: 43 to 128 characters
_EDITORS = frozenset({Role.OWNER.value, Role.ADMIN.value})


class FlowError(Exception):
    """The flow cannot go on: a problem ``slug``, an HTTP ``status`` and a sentence."""

    def __init__(self, status: int, slug: str, detail: str) -> None:
        self.status = status
        self.slug = slug
        self.detail = detail
        super().__init__(detail)


@dataclass(frozen=True)
class Pending:
    """An authorization that came back with a valid state (now used)."""

    organization_id: uuid.UUID
    user_id: uuid.UUID
    provider: str
    redirect_uri: str
    connection_name: str
    scopes: tuple[str, ...]
    code_verifier: str | None


@dataclass(frozen=True)
class SavedConnection:
    """The connection the tokens were stored in."""

    id: uuid.UUID
    app_key: str
    name: str
    status: str
    scopes: list[Any]
    expires_at: datetime | None
    created: bool


def hash_state(state: str) -> str:
    """What is stored for a state: its SHA-256, hex."""
    return hashlib.sha256(state.encode("utf-8")).hexdigest()


def name_taken(
    factory: sessionmaker[Session], organization_id: uuid.UUID, name: str, app_key: str
) -> bool:
    """True when another app's connection of the organization has this name."""
    with factory() as session:
        found = session.scalar(
            sa.select(DataSourceConnection.app_key).where(
                DataSourceConnection.organization_id == organization_id,
                DataSourceConnection.name == name,
            )
        )
    return found is not None and found != app_key


def begin(
    factory: sessionmaker[Session],
    keyring: KeyRing,
    *,
    provider: str,
    organization_id: uuid.UUID,
    user_id: uuid.UUID,
    redirect_uri: str,
    connection_name: str,
    scopes: Sequence[str],
    pkce: bool,
) -> tuple[str, str | None, datetime]:
    """Store a new authorization request; its ``state``, PKCE verifier and expiry."""
    now = utcnow()
    state = generate_token(_STATE_BYTES)
    verifier = generate_token(_VERIFIER_LENGTH) if pkce else None
    row_id = uuid.uuid4()
    expires_at = now + timedelta(seconds=STATE_TTL_SECONDS)
    with factory() as session:
        # Requests nobody came back for are of no use a day later.
        session.execute(
            sa.delete(OAuthState).where(OAuthState.expires_at < now - timedelta(days=1))
        )
        session.add(
            OAuthState(
                id=row_id,
                organization_id=organization_id,
                user_id=user_id,
                provider=provider,
                state_hash=hash_state(state),
                code_verifier=keyring.encrypt_json(verifier, str(row_id)),
                redirect_uri=redirect_uri,
                connection_name=connection_name,
                scopes=list(scopes),
                expires_at=expires_at,
            )
        )
        session.commit()
    return state, verifier, expires_at


def consume(
    factory: sessionmaker[Session],
    keyring: KeyRing,
    *,
    provider: str,
    state: str,
    user_id: uuid.UUID | None,
) -> Pending:
    """Check a returning state and use it up.

    ``user_id`` is the signed-in user when the callback carries an access token: a state
    begun by anyone else is refused (and left unused for its owner). Without a token, the
    state alone identifies the request: it is unguessable, single-use, short-lived and bound
    to the user who began it, who must still be an owner or admin of that organization.
    """
    now = utcnow()
    with factory() as session:
        row = session.scalar(
            sa.select(OAuthState).where(
                OAuthState.state_hash == hash_state(state), OAuthState.provider == provider
            )
        )
        if row is None:
            raise FlowError(
                400,
                "oauth-state-invalid",
                "this authorization is unknown to the server (the state matches no request "
                "that was begun here); start again from /authorize",
            )
        if user_id is not None and row.user_id != user_id:
            raise FlowError(
                403,
                "oauth-state-foreign",
                "this authorization was begun by another user; only they can complete it",
            )
        if row.used_at is not None:
            raise FlowError(
                400,
                "oauth-state-used",
                "this authorization was already completed or refused; start again from /authorize",
            )
        if row.expires_at <= now:
            raise FlowError(
                400,
                "oauth-state-expired",
                f"this authorization expired ({STATE_TTL_SECONDS // 60} minutes after it "
                "began); start again from /authorize",
            )
        used = session.execute(
            sa.update(OAuthState)
            .where(OAuthState.id == row.id, OAuthState.used_at.is_(None))
            .values(used_at=now)
        )
        session.commit()
        if getattr(used, "rowcount", 0) != 1:  # a concurrent callback used it first
            raise FlowError(
                400, "oauth-state-used", "this authorization was already completed or refused"
            )
        user = session.get(User, row.user_id)
        if (
            user is None
            or not user.is_active
            or user.organization_id != row.organization_id
            or user.role not in _EDITORS
        ):
            raise FlowError(
                403,
                "forbidden",
                "the user who began this authorization may no longer manage connections",
            )
        try:
            verifier = keyring.decrypt_json(row.code_verifier, str(row.id))
        except DecryptionError:
            raise FlowError(
                400,
                "oauth-state-invalid",
                "this authorization can no longer be read by the server (its key was "
                "removed); start again from /authorize",
            ) from None
        return Pending(
            organization_id=row.organization_id,
            user_id=row.user_id,
            provider=row.provider,
            redirect_uri=row.redirect_uri,
            connection_name=row.connection_name,
            scopes=tuple(str(s) for s in row.scopes or ()),
            code_verifier=verifier if isinstance(verifier, str) else None,
        )


def name_taken_error(name: str) -> FlowError:
    """409 ``connection-name-taken``: another app's connection has ``name``."""
    return FlowError(
        409,
        "connection-name-taken",
        f"the organization already has a connection named {name!r} for another app; "
        "choose another name",
    )


def save_connection(
    factory: sessionmaker[Session],
    keyring: KeyRing,
    *,
    organization_id: uuid.UUID,
    app_key: str,
    name: str,
    build: Callable[[Mapping[str, Any] | None], dict[str, Any]],
) -> SavedConnection:
    """Store the credentials ``build(previous)`` makes as the connection ``name``.

    ``previous`` is the decrypted credentials of the same-named connection of ``app_key``
    being replaced (None for a new one, or when they no longer decrypt). Another app's
    connection of that name is a :class:`FlowError` (409 ``connection-name-taken``).
    """
    with factory() as session:
        connection = session.scalar(
            sa.select(DataSourceConnection)
            .where(
                DataSourceConnection.organization_id == organization_id,
                DataSourceConnection.name == name,
            )
            .with_for_update()
        )
        created = connection is None
        if connection is None:
            connection = DataSourceConnection(
                id=uuid.uuid4(), organization_id=organization_id, app_key=app_key, name=name
            )
            previous: Mapping[str, Any] | None = None
            session.add(connection)
        elif connection.app_key != app_key:
            raise name_taken_error(name)
        else:
            try:
                previous = open_credentials(keyring, connection.id, connection.credentials)
            except DecryptionError:
                previous = None
            connection.credentials_version = DataSourceConnection.credentials_version + 1
        credentials = build(previous)
        connection.credentials = seal_credentials(keyring, connection.id, credentials)
        connection.scopes = str(credentials.get("scope", "")).split()
        connection.status = ConnectionStatus.ACTIVE.value
        expires = credentials.get("expires_at")
        connection.expires_at = (
            datetime.fromtimestamp(expires, tz=UTC) if isinstance(expires, int) else None
        )
        try:
            session.commit()
        except IntegrityError:  # a concurrent create took the name
            session.rollback()
            raise name_taken_error(name) from None
        session.refresh(connection)
        return SavedConnection(
            id=connection.id,
            app_key=connection.app_key,
            name=connection.name,
            status=connection.status,
            scopes=list(connection.scopes or []),
            expires_at=connection.expires_at,
            created=created,
        )
