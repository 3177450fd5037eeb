"""Masks secrets in what a step records (``data_in``): never store a credential in clear."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from .apps import ActionArgument, BaseApp

MASK = "********"
# Shorter values would mask ordinary words; real credentials are longer.
MIN_SECRET_LENGTH = 6
# Values under these keys (any case, `-` or `_`) are credentials wherever they appear, e.g. an
# Authorization header typed into an http node.
SENSITIVE_KEYS = frozenset(
    {
        "authorization",
        "proxy_authorization",
        "cookie",
        "set_cookie",
        "x_api_key",
        "api_key",
        "apikey",
        "access_token",
        "refresh_token",
        "client_secret",
        "password",
        "secret",
        "token",
    }
)


def secret_values(app: BaseApp, auth: Mapping[str, Any]) -> list[str]:
    """The credential strings to hide: the auth spec's secret fields (every field if the app
    declares no auth spec)."""
    keys = app.auth.secret_keys if app.auth is not None else None
    values = [
        v
        for k, v in auth.items()
        if isinstance(v, str) and len(v) >= MIN_SECRET_LENGTH and (keys is None or k in keys)
    ]
    return sorted(values, key=len, reverse=True)


def mask_secrets(
    data: dict[str, Any],
    arguments: Iterable[ActionArgument],
    app: BaseApp,
    auth: Mapping[str, Any],
) -> dict[str, Any]:
    """A copy of ``data`` with secret arguments and any credential value replaced by a mask."""
    secret_keys = {a.key for a in arguments if a.secret}
    values = secret_values(app, auth)
    return {
        k: (
            MASK
            if (k in secret_keys or _sensitive(k)) and v not in (None, "")
            else _scrub(v, values)
        )
        for k, v in data.items()
    }


def _sensitive(key: object) -> bool:
    return isinstance(key, str) and key.lower().replace("-", "_") in SENSITIVE_KEYS


def _scrub(value: Any, secrets: list[str]) -> Any:
    if isinstance(value, str):
        for secret in secrets:
            if secret in value:
                value = value.replace(secret, MASK)
        return value
    if isinstance(value, dict):
        return {
            k: MASK if _sensitive(k) and v not in (None, "") else _scrub(v, secrets)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_scrub(v, secrets) for v in value]
    return value
