"""An ``httpx``-backed HTTP client for the ``stripe`` library, with a timeout and an
injectable transport (tests pass an ``httpx.MockTransport``; nothing else changes)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx
import stripe

__all__ = ["HttpxStripeClient"]


class HttpxStripeClient(stripe.HTTPClient):
    """Synchronous requests through one ``httpx.Client`` (thread-safe, pooled)."""

    name = "docg-httpx"

    def __init__(
        self, *, timeout: float = 30.0, transport: httpx.BaseTransport | None = None
    ) -> None:
        super().__init__()
        self._http = httpx.Client(timeout=timeout, transport=transport)

    def request(  # type: ignore[override]  # the base declares str; the library accepts bytes
        self,
        method: str,
        url: str,
        headers: Mapping[str, str] | None,
        post_data: Any = None,
        *,
        _usage: list[str] | None = None,
    ) -> tuple[bytes, int, Mapping[str, str]]:
        """Send one request; network failures become ``stripe.APIConnectionError``."""
        try:
            response = self._http.request(
                method, url, headers=dict(headers or {}), content=post_data or None
            )
        except httpx.TimeoutException as exc:
            raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
                f"Stripe did not answer in time ({type(exc).__name__})", should_retry=True
            ) from exc
        except httpx.HTTPError as exc:
            raise stripe.APIConnectionError(  # type: ignore[no-untyped-call]
                f"could not reach Stripe ({type(exc).__name__})", should_retry=True
            ) from exc
        return response.content, response.status_code, response.headers

    def close(self) -> None:
        """Close the connection pool."""
        self._http.close()
