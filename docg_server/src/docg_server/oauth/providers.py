"""The OAuth 2.0 providers the server can connect to, and their client configuration.

Each :class:`OAuthProvider` names the app whose connection it makes (``app_key``), its
documented endpoints, the scopes asked for when the app is not installed, the settings that
hold the OAuth client (``<PREFIX>_CLIENT_ID`` / ``<PREFIX>_CLIENT_SECRET``) and the extra
authorization parameters the provider needs to issue a refresh token.

When the app is installed, the scopes of its :class:`~docg_core.apps.AuthSpec` (and its
``pkce`` flag) are used instead of the provider's defaults.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType

from pydantic import SecretStr

from docg_core.errors import PluginError
from docg_core.plugins import Registry

from ..config import Settings

__all__ = [
    "PROVIDERS",
    "ClientConfig",
    "OAuthProvider",
    "provider_for_app",
    "requested_scopes",
]


@dataclass(frozen=True)
class OAuthProvider:
    """One authorization server: where to send people, where to exchange codes."""

    key: str
    """The provider's key (``google``), also the ``provider`` of its ``oauth_states`` rows."""
    name: str
    app_key: str
    """The app whose connections this provider's tokens are stored as."""
    path: str
    """Where its routes live under ``/api/v1`` (``/google-oauth``)."""
    authorize_url: str
    """May hold ``{tenant}`` (Microsoft), filled in from the settings."""
    token_url: str
    default_scopes: tuple[str, ...]
    settings_prefix: str
    """``GOOGLE`` → ``GOOGLE_CLIENT_ID`` and ``GOOGLE_CLIENT_SECRET``."""
    authorize_params: Mapping[str, str] = field(default_factory=lambda: MappingProxyType({}))
    required_scopes: tuple[str, ...] = ()
    """Always asked for, whatever the caller or the app asks (``offline_access``)."""
    pkce: bool = True

    @property
    def client_id_setting(self) -> str:
        return f"{self.settings_prefix}_CLIENT_ID"

    @property
    def client_secret_setting(self) -> str:
        return f"{self.settings_prefix}_CLIENT_SECRET"

    def endpoints(self, settings: Settings) -> tuple[str, str]:
        """The authorize and token URLs (the Microsoft tenant filled in)."""
        tenant = settings.MICROSOFT_TENANT.strip() or "common"
        return (
            self.authorize_url.format(tenant=tenant),
            self.token_url.format(tenant=tenant),
        )

    def client(self, settings: Settings) -> ClientConfig | None:
        """The OAuth client from the settings; None when either value is missing."""
        client_id = getattr(settings, self.client_id_setting, None)
        secret: SecretStr | None = getattr(settings, self.client_secret_setting, None)
        if not client_id or secret is None or not secret.get_secret_value():
            return None
        authorize_url, token_url = self.endpoints(settings)
        return ClientConfig(str(client_id), secret.get_secret_value(), authorize_url, token_url)


@dataclass(frozen=True)
class ClientConfig:
    """An OAuth client registered at a provider, and the provider's endpoints."""

    client_id: str
    client_secret: str = field(repr=False)
    authorize_url: str
    token_url: str


PROVIDERS: Mapping[str, OAuthProvider] = MappingProxyType(
    {
        "google": OAuthProvider(
            key="google",
            name="Google",
            app_key="google",
            path="/google-oauth",
            authorize_url="https://accounts.google.com/o/oauth2/v2/auth",
            token_url="https://oauth2.googleapis.com/token",  # noqa: S106 (a URL)
            default_scopes=(
                "openid",
                "email",
                "https://www.googleapis.com/auth/drive.file",
            ),
            settings_prefix="GOOGLE",
            # offline: issue a refresh token; consent: issue one again on a reconnection.
            authorize_params=MappingProxyType(
                {"access_type": "offline", "prompt": "consent", "include_granted_scopes": "true"}
            ),
        ),
        "microsoft": OAuthProvider(
            key="microsoft",
            name="Microsoft",
            app_key="microsoft",
            path="/microsoft/oauth",
            authorize_url="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/authorize",
            token_url="https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",  # noqa: S106
            default_scopes=("openid", "email", "offline_access", "User.Read", "Files.ReadWrite"),
            settings_prefix="MICROSOFT",
            authorize_params=MappingProxyType({"response_mode": "query"}),
            required_scopes=("offline_access",),  # without it there is no refresh token
        ),
        "hubspot": OAuthProvider(
            key="hubspot",
            name="HubSpot",
            app_key="hubspot",
            path="/hubspot-oauth",
            authorize_url="https://app.hubspot.com/oauth/authorize",
            token_url="https://api.hubapi.com/oauth/v1/token",  # noqa: S106 (a URL)
            default_scopes=("oauth", "crm.objects.contacts.read", "crm.objects.deals.read"),
            settings_prefix="HUBSPOT",
        ),
    }
)
"""Every provider by key."""


def provider_for_app(app_key: str) -> OAuthProvider | None:
    """The provider whose tokens connections of ``app_key`` hold (None: not an OAuth app here)."""
    for provider in PROVIDERS.values():
        if provider.app_key == app_key:
            return provider
    return None


def requested_scopes(
    provider: OAuthProvider, registry: Registry, asked: tuple[str, ...] = ()
) -> tuple[tuple[str, ...], bool]:
    """The scopes to ask for and whether to use PKCE.

    ``asked`` (the caller's) wins; else the installed app's ``AuthSpec.scopes``; else the
    provider's defaults. The provider's required scopes are always added.
    """
    pkce = provider.pkce
    scopes = asked
    try:
        app = registry.app(provider.app_key)
    except PluginError:
        app = None
    if app is not None and app.auth is not None and app.auth.type == "oauth2":
        pkce = app.auth.pkce
        scopes = scopes or app.auth.scopes
    scopes = scopes or provider.default_scopes
    missing = tuple(s for s in provider.required_scopes if s not in scopes)
    return tuple(dict.fromkeys((*scopes, *missing))), pkce
