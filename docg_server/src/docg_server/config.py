"""Server settings from the environment (pydantic-settings), with the design's variable names.

``DOCG_ENV=development`` (the default) allows the development secrets below, which are public
and marked as such. ``DOCG_ENV=production`` refuses to start — :class:`SettingsError` naming
the variable — when ``ENCRYPTION_KEY``, ``JWT_SECRET`` or ``DOCG_STORAGE_SECRET`` is missing,
still a development default, or malformed. There is never a silent fallback in production.

A malformed ``ENCRYPTION_KEY`` is an error in every environment. Setting ``DO_SPACES_BUCKET``
requires the other ``DO_SPACES_*`` variables :func:`docg_core.storage.storage_from_env` reads.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Annotated, Literal

from pydantic import PositiveInt, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from .crypto import KeyConfigError, KeyRing

__all__ = [
    "DEV_ENCRYPTION_KEY",
    "DEV_JWT_SECRET",
    "DEV_STORAGE_SECRET",
    "Settings",
    "SettingsError",
    "get_settings",
]

# Public, for development only: anything encrypted or signed with these is readable by anyone.
DEV_ENCRYPTION_KEY = "dev:ZG9jZy1kZXZlbG9wbWVudC1rZXktTk9ULVNFQ1JFVCE="
DEV_JWT_SECRET = "docg-development-jwt-secret-NOT-SECRET-do-not-use-in-production"  # noqa: S105
DEV_STORAGE_SECRET = "docg-development-storage-secret-NOT-SECRET-do-not-use-in-production"  # noqa: S105

MIN_SECRET_LENGTH = 32
"""Shortest ``JWT_SECRET`` / ``DOCG_STORAGE_SECRET`` accepted in production."""

_REQUIRED_WITH_BUCKET = ("DO_SPACES_ACCESS_KEY", "DO_SPACES_SECRET_KEY", "DO_SPACES_ENDPOINT")


class SettingsError(RuntimeError):
    """The configuration cannot be used; the message names the variable and what to do."""


class Settings(BaseSettings):
    """The server's configuration. Field names are the environment variable names."""

    model_config = SettingsConfigDict(case_sensitive=True, extra="ignore", frozen=True)

    DOCG_ENV: Literal["development", "production"] = "development"

    DATABASE_URL: str = "sqlite:///./docg.db"
    DATABASE_POOL_SIZE: PositiveInt = 20
    DATABASE_MAX_OVERFLOW: int = 30
    """Connections above the pool size opened under load (closed when idle again). Pool size
    plus overflow must exceed the request threadpool (40): a request holds one connection."""
    DATABASE_POOL_TIMEOUT_SECONDS: PositiveInt = 10
    """How long a request waits for a free connection before answering 503 (Retry-After)."""

    ENCRYPTION_KEY: SecretStr | None = None
    """``kid:base64key[,kid:base64key...]``; the first encrypts (see :mod:`docg_server.crypto`)."""
    JWT_SECRET: SecretStr | None = None

    TEMPORAL_ADDRESS: str | None = None
    """Unset: runs execute in-process (the inline runner)."""
    TEMPORAL_NAMESPACE: str = "default"
    TEMPORAL_TASK_QUEUE: str = "docg-workflows"

    PUBLIC_URL: str = ""
    """The server's public origin (``https://docg.example``) for links sent outside the API
    (download, approval and webhook URLs); empty uses each request's own origin."""

    GOOGLE_CLIENT_ID: str | None = None
    """OAuth client of the Google Cloud project (``/api/v1/google-oauth``); see docs/oauth.md."""
    GOOGLE_CLIENT_SECRET: SecretStr | None = None
    MICROSOFT_CLIENT_ID: str | None = None
    """Application (client) id of the Microsoft Entra app registration (``/microsoft/oauth``)."""
    MICROSOFT_CLIENT_SECRET: SecretStr | None = None
    MICROSOFT_TENANT: str = "common"
    """``common``, ``organizations``, ``consumers`` or a tenant id / domain (single tenant)."""
    HUBSPOT_CLIENT_ID: str | None = None
    """Client id of the HubSpot developer app (``/api/v1/hubspot-oauth``)."""
    HUBSPOT_CLIENT_SECRET: SecretStr | None = None

    WEBHOOK_MAX_BODY_BYTES: PositiveInt = 1024 * 1024
    """Largest webhook body accepted (413 above it)."""
    WEBHOOK_SYNC_TIMEOUT_SECONDS: PositiveInt = 30
    """How long ``?sync=true`` waits for the run before answering 202 with it still running."""
    HUBSPOT_ACTION_WAIT_SECONDS: PositiveInt = 10
    """How long the HubSpot workflow action waits for a run before answering ``BLOCK``."""
    HUBSPOT_ACTION_EXPIRATION: str = "P7D"
    """How long HubSpot keeps a blocked action waiting (ISO 8601 duration)."""
    APPROVAL_PAGE_LINK_TTL_SECONDS: PositiveInt = 3600
    """Lifetime of the signed document links an approval page shows."""

    DOCG_MAX_TEMPLATE_BYTES: PositiveInt = 20 * 1024 * 1024
    """Largest template upload accepted (413 above it)."""

    DOCG_STORAGE_DIR: str = "./docg-files"
    DOCG_STORAGE_SECRET: SecretStr | None = None
    """Signs download URLs (HMAC-SHA256)."""
    DO_SPACES_ACCESS_KEY: str | None = None
    DO_SPACES_SECRET_KEY: SecretStr | None = None
    DO_SPACES_BUCKET: str | None = None
    DO_SPACES_ENDPOINT: str | None = None
    DO_SPACES_REGION: str | None = None

    ACCESS_TOKEN_TTL_SECONDS: PositiveInt = 15 * 60
    """Lifetime of an access token (a JWT signed with ``JWT_SECRET``)."""
    REFRESH_TOKEN_TTL_SECONDS: PositiveInt = 30 * 24 * 3600
    """Lifetime of a refresh token; each refresh issues a new one with a fresh lifetime."""
    LOGIN_MAX_FAILURES: PositiveInt = 5
    """Failed sign-ins for one email within the window after which logins answer 429."""
    LOGIN_FAILURE_WINDOW_SECONDS: PositiveInt = 15 * 60

    INVITATION_TTL_SECONDS: PositiveInt = 7 * 24 * 3600
    """How long an invitation can be accepted after it is sent."""
    INVITATION_ACCEPT_URL: str = ""
    """The page where invited people accept (a front end); the token follows as
    ``#token=...``. Empty: ``{PUBLIC_URL or the request's origin}/accept-invitation``."""

    DOCG_LOG_FORMAT: Literal["json", "text"] = "json"
    """``json``: one JSON object per line; ``text``: for people at a terminal."""
    DOCG_LOG_LEVEL: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"

    STRIPE_SECRET_KEY: SecretStr | None = None
    """Unset: billing is off (plans change only by hand); see docs/billing.md."""
    STRIPE_WEBHOOK_SECRET: SecretStr | None = None
    """The signing secret (``whsec_...``) of the webhook endpoint ``/api/v1/stripe/webhook``."""
    STRIPE_WEBHOOK_TOLERANCE_SECONDS: PositiveInt = 300
    """How old a webhook's signature timestamp may be."""
    STRIPE_PRICE_STARTER: str | None = None
    """The Stripe price id (``price_...``) that buys the Starter plan; likewise below."""
    STRIPE_PRICE_PRO: str | None = None
    STRIPE_PRICE_TEAM: str | None = None
    STRIPE_PRICE_ENTERPRISE: str | None = None
    STRIPE_SUCCESS_URL: str = ""
    """Where Checkout returns after paying; empty: ``{public URL}/billing?checkout=success``."""
    STRIPE_CANCEL_URL: str = ""
    """Where Checkout returns when abandoned; empty: ``{public URL}/billing?checkout=cancel``."""
    STRIPE_PORTAL_RETURN_URL: str = ""
    """Where the customer portal's back link goes; empty: ``{public URL}/billing``."""

    CORS_ORIGINS: Annotated[list[str], NoDecode] = []
    """Comma-separated (or a JSON list) origins allowed by CORS; empty allows none."""

    @field_validator("DOCG_LOG_FORMAT", mode="before")
    @classmethod
    def _lower_case(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("DOCG_LOG_LEVEL", mode="before")
    @classmethod
    def _upper_case(cls, value: object) -> object:
        return value.strip().upper() if isinstance(value, str) else value

    @field_validator("CORS_ORIGINS", mode="before")
    @classmethod
    def _split_origins(cls, value: object) -> object:
        if isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                import json

                return json.loads(text)
            return [origin.strip() for origin in text.split(",") if origin.strip()]
        return value

    @model_validator(mode="after")
    def _check(self) -> Settings:
        # SettingsError is not a ValueError, so pydantic lets it through unchanged — and
        # pydantic's own errors would echo the input value, i.e. the secret.
        problems: list[str] = []
        if self.ENCRYPTION_KEY is not None:
            try:
                KeyRing.parse(self.ENCRYPTION_KEY.get_secret_value())
            except KeyConfigError as exc:
                problems.append(str(exc))
        if self.DO_SPACES_BUCKET:
            missing = [name for name in _REQUIRED_WITH_BUCKET if not getattr(self, name)]
            if missing:
                problems.append(
                    f"DO_SPACES_BUCKET is set but {', '.join(missing)} "
                    f"{'is' if len(missing) == 1 else 'are'} not; set them, or unset "
                    "DO_SPACES_BUCKET to keep files on local disk in DOCG_STORAGE_DIR"
                )
        prices = [
            p
            for p in (
                self.STRIPE_PRICE_STARTER,
                self.STRIPE_PRICE_PRO,
                self.STRIPE_PRICE_TEAM,
                self.STRIPE_PRICE_ENTERPRISE,
            )
            if p
        ]
        if len(prices) != len(set(prices)):
            problems.append(
                "two STRIPE_PRICE_* variables hold the same price; each plan needs its own"
            )
        if self.is_production:
            problems.extend(self._production_problems())
        if problems:
            raise SettingsError("invalid configuration:\n- " + "\n- ".join(problems))
        return self

    def _production_problems(self) -> list[str]:
        problems: list[str] = []
        how = 'generate one with `python -c "import secrets; print(secrets.token_urlsafe(48))"`'
        for name, dev_value in (
            ("JWT_SECRET", DEV_JWT_SECRET),
            ("DOCG_STORAGE_SECRET", DEV_STORAGE_SECRET),
        ):
            secret: SecretStr | None = getattr(self, name)
            value = secret.get_secret_value() if secret is not None else ""
            if not value:
                problems.append(f"{name} is required when DOCG_ENV=production; {how}")
            elif value == dev_value:
                problems.append(f"{name} is the public development default; {how}")
            elif len(value) < MIN_SECRET_LENGTH:
                problems.append(f"{name} is shorter than {MIN_SECRET_LENGTH} characters; {how}")
        key_how = (
            'generate one with `python -c "from docg_server.crypto import generate_key; '
            "print(generate_key('k1'))\"`"
        )
        if self.ENCRYPTION_KEY is None or not self.ENCRYPTION_KEY.get_secret_value().strip():
            problems.append(f"ENCRYPTION_KEY is required when DOCG_ENV=production; {key_how}")
        else:
            dev_secret = DEV_ENCRYPTION_KEY.partition(":")[2]
            entries = self.ENCRYPTION_KEY.get_secret_value().split(",")
            if any(entry.partition(":")[2].strip() == dev_secret for entry in entries):
                problems.append(f"ENCRYPTION_KEY holds the public development key; {key_how}")
        stripe_key = self.STRIPE_SECRET_KEY
        webhook = self.STRIPE_WEBHOOK_SECRET
        if (stripe_key is not None and stripe_key.get_secret_value().strip()) and (
            webhook is None or not webhook.get_secret_value().strip()
        ):
            problems.append(
                "STRIPE_WEBHOOK_SECRET is required when STRIPE_SECRET_KEY is set; copy the "
                "signing secret (whsec_...) of the webhook endpoint from Stripe"
            )
        return problems

    @property
    def is_production(self) -> bool:
        return self.DOCG_ENV == "production"

    def keyring(self) -> KeyRing:
        """The credential keys: ``ENCRYPTION_KEY``, or the development key outside production."""
        return KeyRing.parse(self._secret("ENCRYPTION_KEY", DEV_ENCRYPTION_KEY))

    def jwt_secret(self) -> str:
        """``JWT_SECRET``, or the development secret outside production."""
        return self._secret("JWT_SECRET", DEV_JWT_SECRET)

    def storage_secret(self) -> str:
        """``DOCG_STORAGE_SECRET``, or the development secret outside production."""
        return self._secret("DOCG_STORAGE_SECRET", DEV_STORAGE_SECRET)

    def _secret(self, name: str, dev_value: str) -> str:
        secret: SecretStr | None = getattr(self, name)
        if secret is not None and secret.get_secret_value().strip():
            return secret.get_secret_value()
        if self.is_production:  # unreachable after validation; kept as a second lock
            raise SettingsError(f"{name} is required when DOCG_ENV=production")
        return dev_value


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process's settings, read from the environment once (``cache_clear()`` in tests)."""
    return Settings()
