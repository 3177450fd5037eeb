"""A fake OAuth 2.0 authorization server (RFC 6749 + PKCE, RFC 7636), usable as an httpx
transport for any provider's token endpoint (every ``POST .../token`` path).

``FakeAuthorizationServer`` stands in for the browser's visit too::

    fake = FakeAuthorizationServer(client_id="google-client", client_secret="...")
    code = fake.approve(authorize_url)      # the person consents: a code for redirect_uri
    transport = fake.transport()           # the server then exchanges it at the token endpoint

Behaviour a test can rely on:

- :meth:`approve` checks the authorize URL (``response_type=code``, the client id, a
  ``redirect_uri``, a ``state``, ``code_challenge_method=S256`` when a challenge is sent) and
  issues a single-use code bound to the redirect URI, the challenge and the granted scopes
  (``grant`` narrows what was asked; by default everything asked is granted).
- ``authorization_code`` grant: the client must authenticate (``client_secret_post`` or
  HTTP Basic); the code must be known, unused and unexpired, the ``redirect_uri`` the same,
  and ``code_verifier`` must hash (S256) to the code's challenge. Answers ``access_token``,
  ``token_type``, ``expires_in`` (``access_token_ttl``), ``refresh_token``, ``scope``
  (left out with ``include_scope=False``).
- ``refresh_token`` grant: counts in ``refresh_count``; with ``rotate_refresh_tokens`` each
  refresh issues a new refresh token and revokes the one used. ``refresh_delay`` (seconds)
  makes each refresh slow, to let concurrent callers race.
- :meth:`revoke` (one refresh token) and :meth:`revoke_all` make refreshes answer
  ``invalid_grant``; :meth:`fail_next` makes the next token requests answer an HTTP error.
- Errors are RFC 6749 §5.2 bodies: ``{"error": "invalid_grant", "error_description": ...}``
  (400; ``invalid_client`` is 401).
- Inspection: ``requests`` (every token request's form), ``issued_access_tokens``,
  ``refresh_tokens`` (the valid ones).
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import itertools
import time
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx

CLIENT_ID = "fake-client-id"
CLIENT_SECRET = "fake-client-secret-0123456789"


def s256(verifier: str) -> str:
    """The S256 code challenge of a verifier (RFC 7636 §4.2)."""
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@dataclass
class _Code:
    redirect_uri: str
    challenge: str | None
    scopes: tuple[str, ...]
    expires: float
    used: bool = False


def _error(error: str, description: str, status: int = 400) -> httpx.Response:
    return httpx.Response(status, json={"error": error, "error_description": description})


class FakeAuthorizationServer:
    """An authorization server; call :meth:`transport` for an ``httpx.MockTransport``."""

    def __init__(
        self,
        *,
        client_id: str = CLIENT_ID,
        client_secret: str = CLIENT_SECRET,
        access_token_ttl: int = 3600,
        rotate_refresh_tokens: bool = False,
        include_scope: bool = True,
        refresh_delay: float = 0.0,
    ) -> None:
        self.client_id = client_id
        self.client_secret = client_secret
        self.access_token_ttl = access_token_ttl
        self.rotate_refresh_tokens = rotate_refresh_tokens
        self.include_scope = include_scope
        self.refresh_delay = refresh_delay
        self.refresh_count = 0
        self.requests: list[dict[str, str]] = []
        self.issued_access_tokens: list[str] = []
        self.refresh_tokens: dict[str, tuple[str, ...]] = {}  # valid token → its scopes
        self._codes: dict[str, _Code] = {}
        self._serial = itertools.count(1)
        self._failures: list[int] = []

    # -- the browser's side ---------------------------------------------------------------

    def approve(self, authorize_url: str, *, grant: Iterable[str] | None = None) -> str:
        """The person consents on the authorize page; the code sent to ``redirect_uri``."""
        query = {k: v[-1] for k, v in parse_qs(urlsplit(authorize_url).query).items()}
        assert query.get("response_type") == "code", query
        assert query.get("client_id") == self.client_id, "unknown client_id"
        assert query.get("redirect_uri"), "no redirect_uri"
        assert query.get("state"), "no state"
        challenge = query.get("code_challenge")
        if challenge is not None:
            assert query.get("code_challenge_method") == "S256", "PKCE must use S256"
        asked = tuple(query.get("scope", "").split())
        scopes = tuple(grant) if grant is not None else asked
        code = (
            f"code-{next(self._serial)}-{hashlib.sha256(authorize_url.encode()).hexdigest()[:12]}"
        )
        self._codes[code] = _Code(query["redirect_uri"], challenge, scopes, time.time() + 600)
        return code

    # -- controls ---------------------------------------------------------------------------

    def revoke(self, refresh_token: str) -> None:
        """The person revoked access: this refresh token answers ``invalid_grant``."""
        self.refresh_tokens.pop(refresh_token, None)

    def revoke_all(self) -> None:
        self.refresh_tokens.clear()

    def fail_next(self, status: int, times: int = 1) -> None:
        """The next ``times`` token requests answer HTTP ``status`` (503: unavailable)."""
        self._failures.extend([status] * times)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    # -- the token endpoint -------------------------------------------------------------------

    async def handle(self, request: httpx.Request) -> httpx.Response:
        if request.method != "POST" or not request.url.path.endswith("/token"):
            return httpx.Response(404, json={"error": "not_found"})
        form = {k: v[-1] for k, v in parse_qs(request.content.decode()).items()}
        self.requests.append(form)
        if self._failures:
            return httpx.Response(self._failures.pop(0), text="temporarily unavailable")
        if not self._client_ok(request, form):
            return _error("invalid_client", "client authentication failed", 401)
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._exchange(form)
        if grant == "refresh_token":
            self.refresh_count += 1
            if self.refresh_delay:
                await asyncio.sleep(self.refresh_delay)
            return self._refresh(form)
        return _error("unsupported_grant_type", f"grant_type {grant!r} is not supported")

    def _client_ok(self, request: httpx.Request, form: dict[str, str]) -> bool:
        header = request.headers.get("Authorization", "")
        if header.startswith("Basic "):
            decoded = base64.b64decode(header[6:]).decode()
            client_id, _, secret = decoded.partition(":")
        else:
            client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
        return client_id == self.client_id and secret == self.client_secret

    def _exchange(self, form: dict[str, str]) -> httpx.Response:
        code = self._codes.get(form.get("code", ""))
        if code is None or code.used or code.expires < time.time():
            return _error("invalid_grant", "the authorization code is invalid or was used")
        code.used = True  # single use, whatever happens next
        if form.get("redirect_uri") != code.redirect_uri:
            return _error("invalid_grant", "redirect_uri does not match the authorization")
        if code.challenge is not None:
            verifier = form.get("code_verifier")
            if not verifier or s256(verifier) != code.challenge:
                return _error("invalid_grant", "code_verifier does not match the challenge")
        return self._tokens(code.scopes, refresh_token=self._new_refresh(code.scopes))

    def _refresh(self, form: dict[str, str]) -> httpx.Response:
        used = form.get("refresh_token", "")
        scopes = self.refresh_tokens.get(used)
        if scopes is None:
            return _error("invalid_grant", "the refresh token is invalid, expired or revoked")
        new_refresh = None
        if self.rotate_refresh_tokens:
            self.revoke(used)
            new_refresh = self._new_refresh(scopes)
        return self._tokens(scopes, refresh_token=new_refresh)

    def _new_refresh(self, scopes: tuple[str, ...]) -> str:
        token = f"refresh-{next(self._serial)}-fake"
        self.refresh_tokens[token] = scopes
        return token

    def _tokens(self, scopes: tuple[str, ...], *, refresh_token: str | None) -> httpx.Response:
        access = f"access-{next(self._serial)}-fake"
        self.issued_access_tokens.append(access)
        body: dict[str, Any] = {
            "access_token": access,
            "token_type": "Bearer",
            "expires_in": self.access_token_ttl,
        }
        if refresh_token is not None:
            body["refresh_token"] = refresh_token
        if self.include_scope:
            body["scope"] = " ".join(scopes)
        return httpx.Response(200, json=body)
