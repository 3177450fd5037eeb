"""OAuth 2.0 with PKCE for connections: the providers, the authorization-code flow and the
refresh of stored tokens (one at a time per connection, across processes).

- :mod:`.providers` — :data:`PROVIDERS` (Google, Microsoft, HubSpot): endpoints, default
  scopes, the settings holding each OAuth client.
- :mod:`.client` — authlib's httpx client: authorization URL, code exchange, refresh grant.
- :mod:`.flow` — the server-side state of an authorization, and storing its tokens as a
  connection.
- :mod:`.refresh` — :class:`TokenRefresher`, used by
  :class:`~docg_server.connections.DatabaseConnections`.

The routes are in :mod:`docg_server.api.v1.oauth`; people read docs/oauth.md.
"""

from __future__ import annotations

from .client import TokenError
from .flow import STATE_TTL_SECONDS, FlowError
from .providers import PROVIDERS, ClientConfig, OAuthProvider, provider_for_app
from .refresh import REFRESH_MARGIN_SECONDS, TokenRefresher

__all__ = [
    "PROVIDERS",
    "REFRESH_MARGIN_SECONDS",
    "STATE_TTL_SECONDS",
    "ClientConfig",
    "FlowError",
    "OAuthProvider",
    "TokenError",
    "TokenRefresher",
    "provider_for_app",
]
