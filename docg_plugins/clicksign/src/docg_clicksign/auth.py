"""The ClickSign connection: its form fields and the API host of each environment."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from docg_core.apps import ActionArgument, ArgumentType, AuthSpec, DropdownOption
from docg_core.errors import StepError

HOSTS = {"sandbox": "sandbox.clicksign.com", "production": "app.clicksign.com"}
API_PATH = "/api/v3/"

AUTH = AuthSpec.api_key(
    fields=(
        ActionArgument(
            key="api_token",
            label="Access token",
            required=True,
            secret=True,
            description="The access token generated under Settings > API in ClickSign.",
        ),
        ActionArgument(
            key="environment",
            label="Environment",
            type=ArgumentType.DROPDOWN,
            default="sandbox",
            options=(
                DropdownOption("sandbox", "Sandbox (no legal validity)"),
                DropdownOption("production", "Production"),
            ),
            description="Sandbox and production are separate accounts with separate tokens.",
        ),
        ActionArgument(
            key="webhook_secret",
            label="Webhook HMAC secret",
            secret=True,
            description="The HMAC SHA256 secret ClickSign shows for the account's webhook.",
        ),
    )
)


def environment(auth: Mapping[str, Any]) -> str:
    """``sandbox`` or ``production`` from the connection (sandbox when unset)."""
    value = str(auth.get("environment") or "sandbox").strip().lower()
    if value not in HOSTS:
        raise StepError(
            f"ClickSign connection: environment must be 'sandbox' or 'production', got {value!r}",
            code="clicksign_bad_connection",
        )
    return value


def api_host(auth: Mapping[str, Any]) -> str:
    """The API host of the connection's environment."""
    return HOSTS[environment(auth)]


def base_url(auth: Mapping[str, Any]) -> str:
    """``https://<host>/api/v3/`` for the connection's environment."""
    return f"https://{api_host(auth)}{API_PATH}"


def api_token(auth: Mapping[str, Any]) -> str:
    """The connection's access token; a clear step error when it is missing."""
    token = auth.get("api_token")
    if not isinstance(token, str) or not token.strip():
        raise StepError(
            "ClickSign connection has no access token (api_token): add it to the connection",
            code="clicksign_bad_connection",
        )
    return token.strip()
