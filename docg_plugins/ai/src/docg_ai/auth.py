"""The connection form (provider, API key, optional base URL) and reading it from ``ctx.auth``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from docg_core.apps import ActionArgument, ArgumentType, AuthSpec, DropdownOption
from docg_core.errors import StepError

from .providers import Provider, get_provider

__all__ = ["AUTH", "Connection", "connection_of"]

AUTH = AuthSpec.api_key(
    fields=(
        ActionArgument(
            key="provider",
            label="Provider",
            type=ArgumentType.DROPDOWN,
            required=True,
            options=(
                DropdownOption("openai", "OpenAI"),
                DropdownOption("anthropic", "Anthropic"),
                DropdownOption("gemini", "Google Gemini"),
            ),
            description="Whose models this connection uses.",
        ),
        ActionArgument(key="api_key", label="API key", required=True, secret=True),
        ActionArgument(
            key="base_url",
            label="Base URL",
            description=(
                "Leave empty for the provider's own API. Set it for a compatible endpoint or "
                "proxy, e.g. http://localhost:11434/v1 for an OpenAI-compatible server."
            ),
        ),
    )
)


@dataclass(frozen=True)
class Connection:
    """The connection's provider, API key and endpoint. ``custom`` is true when ``base_url``
    points somewhere other than the provider's own API."""

    provider: Provider
    api_key: str
    base_url: str
    custom: bool

    def scrub(self, text: str) -> str:
        """``text`` with the API key masked (vendors sometimes echo part of it)."""
        return text.replace(self.api_key, "********") if self.api_key else text


def connection_of(auth: Mapping[str, Any]) -> Connection:
    """Read and check the connection's credentials; a step error says what is missing."""
    provider = get_provider(auth.get("provider"))
    api_key = str(auth.get("api_key") or "").strip()
    if not api_key:
        raise StepError(
            f"The connection has no API key; add your {provider.name} API key to it.",
            code="invalid-connection",
        )
    base_url = str(auth.get("base_url") or "").strip().rstrip("/")
    if base_url:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise StepError(
                f"The connection's base URL {base_url!r} is not an http(s) URL.",
                code="invalid-connection",
            )
    custom = bool(base_url) and base_url != provider.default_base_url
    return Connection(provider, api_key, base_url or provider.default_base_url, custom)
