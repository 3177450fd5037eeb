"""Passwords (argon2id), access tokens (JWT HS256) and refresh tokens (random, stored hashed).

Nothing here logs: passwords and tokens never reach a log line or an error message.
"""

from __future__ import annotations

import hashlib
import secrets
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

__all__ = [
    "ACCESS_TOKEN_TYPE",
    "JWT_ALGORITHM",
    "AccessClaims",
    "InvalidTokenError",
    "create_access_token",
    "decode_access_token",
    "hash_password",
    "hash_refresh_token",
    "new_refresh_token",
    "password_needs_rehash",
    "verify_password",
    "verify_password_against_nothing",
]

JWT_ALGORITHM = "HS256"
ACCESS_TOKEN_TYPE = "access"  # noqa: S105 - the value of the 'type' claim, not a secret
REFRESH_TOKEN_BYTES = 32

_hasher = PasswordHasher()  # argon2id with the RFC 9106 low-memory parameters


class InvalidTokenError(Exception):
    """An access token is missing a claim, expired, tampered with or of the wrong type.

    The message says which, never the token.
    """


@dataclass(frozen=True, slots=True)
class AccessClaims:
    """What a valid access token says: who (``user_id``) in which organization."""

    user_id: uuid.UUID
    organization_id: uuid.UUID
    issued_at: datetime
    expires_at: datetime


# -- passwords -----------------------------------------------------------------------------


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def verify_password(password_hash: str, password: str) -> bool:
    try:
        return _hasher.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def password_needs_rehash(password_hash: str) -> bool:
    """True when the hash was made with weaker parameters than the current ones."""
    return _hasher.check_needs_rehash(password_hash)


@lru_cache(maxsize=1)
def _dummy_hash() -> str:
    return _hasher.hash(secrets.token_urlsafe(16))


def verify_password_against_nothing(password: str) -> None:
    """Spend the time a verification takes, so an unknown email answers as slowly as a
    wrong password (no account enumeration by timing)."""
    verify_password(_dummy_hash(), password)


# -- access tokens -------------------------------------------------------------------------


def create_access_token(
    secret: str,
    *,
    user_id: uuid.UUID,
    organization_id: uuid.UUID,
    ttl: timedelta,
    now: datetime | None = None,
) -> str:
    issued = now or datetime.now(UTC)
    claims = {
        "sub": str(user_id),
        "org": str(organization_id),
        "type": ACCESS_TOKEN_TYPE,
        "iat": int(issued.timestamp()),
        "exp": int((issued + ttl).timestamp()),
    }
    return jwt.encode(claims, secret, algorithm=JWT_ALGORITHM)


def decode_access_token(secret: str, token: str) -> AccessClaims:
    """The claims of a valid access token; :class:`InvalidTokenError` otherwise."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[JWT_ALGORITHM],  # never taken from the token's header
            options={"require": ["exp", "iat", "sub", "org", "type"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidTokenError("the access token has expired; refresh it") from None
    except jwt.InvalidTokenError:
        raise InvalidTokenError("the access token is invalid") from None
    if claims.get("type") != ACCESS_TOKEN_TYPE:
        raise InvalidTokenError("the token is not an access token")
    try:
        user_id = uuid.UUID(str(claims["sub"]))
        organization_id = uuid.UUID(str(claims["org"]))
    except ValueError:
        raise InvalidTokenError("the access token is invalid") from None
    return AccessClaims(
        user_id=user_id,
        organization_id=organization_id,
        issued_at=datetime.fromtimestamp(int(claims["iat"]), UTC),
        expires_at=datetime.fromtimestamp(int(claims["exp"]), UTC),
    )


# -- refresh tokens ------------------------------------------------------------------------


def new_refresh_token() -> tuple[str, str]:
    """A new refresh token and the hash to store for it."""
    token = secrets.token_urlsafe(REFRESH_TOKEN_BYTES)
    return token, hash_refresh_token(token)


def hash_refresh_token(token: str) -> str:
    """Hex SHA-256: the token has 256 random bits, so a fast hash is enough."""
    return hashlib.sha256(token.encode("utf-8")).hexdigest()
