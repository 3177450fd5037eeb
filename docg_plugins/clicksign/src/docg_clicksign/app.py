"""The ``clicksign`` app: connection, base URL, auth header and webhook callbacks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from docg_core.apps import BaseApp
from docg_core.callbacks import CallbackEvent, InboundRequest
from docg_core.context import ExecutionContext

from . import callbacks
from .actions import CancelEnvelope, GetStatus, ResendNotification, SendForSignature
from .auth import AUTH, api_host, api_token, base_url


class ClickSignApp(BaseApp):
    """ClickSign e-signatures (API v3, envelopes), sandbox or production."""

    key = "clicksign"
    name = "ClickSign"
    description = "Send PDFs for e-signature with ClickSign and wait for the signatures."
    icon_url = "https://www.clicksign.com/favicon.ico"
    auth = AUTH
    actions = (SendForSignature, CancelEnvelope, ResendNotification, GetStatus)

    def get_base_url(self, ctx: ExecutionContext) -> str | None:
        return base_url(ctx.auth)

    async def before_request(self, ctx: ExecutionContext, request: httpx.Request) -> None:
        # Only the API host gets the token: download links point at a storage host.
        if request.url.host == api_host(ctx.auth) and request.url.scheme == "https":
            request.headers["Authorization"] = api_token(ctx.auth)
        else:
            request.headers.pop("Authorization", None)

    def parse_callback(self, request: InboundRequest) -> list[CallbackEvent]:
        return callbacks.parse(request)

    def verify_callback(self, request: InboundRequest, credentials: Mapping[str, Any]) -> None:
        callbacks.verify(request, credentials)
