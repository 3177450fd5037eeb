"""The ZapSign connection: API token, environment and the webhook secret."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from docg_core.apps import ActionArgument, ArgumentType, AuthSpec, DropdownOption
from docg_core.errors import StepError

__all__ = ["API_HOSTS", "AUTH", "api_base_url", "api_host"]

API_HOSTS = {
    "production": "api.zapsign.com.br",
    "sandbox": "sandbox.api.zapsign.com.br",
}
"""The API host of each ZapSign environment (a sandbox token works only on the sandbox)."""

AUTH = AuthSpec.api_key(
    fields=(
        ActionArgument(
            key="api_token",
            label="API token",
            required=True,
            secret=True,
            description="Settings > Integrations > ZapSign API > access token.",
        ),
        ActionArgument(
            key="environment",
            label="Environment",
            type=ArgumentType.DROPDOWN,
            default="production",
            options=(
                DropdownOption("production", "Production"),
                DropdownOption("sandbox", "Sandbox (tests, no legal validity)"),
            ),
            description="The ZapSign environment the token belongs to.",
        ),
        ActionArgument(
            key="webhook_secret",
            label="Webhook secret",
            secret=True,
            description=(
                "A long random value; configure the ZapSign webhook to send it as the header "
                "'Authorization: Bearer <secret>'. Deliveries without it are rejected."
            ),
        ),
    )
)


def api_host(auth: Mapping[str, Any]) -> str:
    """The API host for the connection's ``environment`` (production when unset)."""
    environment = auth.get("environment") or "production"
    try:
        return API_HOSTS[str(environment)]
    except KeyError:
        raise StepError(
            f"environment {environment!r} is not one of 'production', 'sandbox': "
            "fix the ZapSign connection",
            code="invalid_connection",
        ) from None


def api_base_url(auth: Mapping[str, Any]) -> str:
    """``https://<host>/api/v1/``: every endpoint path is relative to it and ends with ``/``."""
    return f"https://{api_host(auth)}/api/v1/"
