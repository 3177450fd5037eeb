"""The ZapSign app: connection, base URL per environment, auth header and webhooks."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import httpx

from docg_core.apps import BaseApp
from docg_core.callbacks import CallbackEvent, InboundRequest
from docg_core.context import ExecutionContext

from .actions import CancelDocument, GetStatus, ResendNotification, SendForSignature
from .auth import AUTH, api_base_url, api_host
from .callbacks import parse_events, verify_delivery

__all__ = ["ZapSignApp"]


class ZapSignApp(BaseApp):
    """Electronic signatures with ZapSign (production or sandbox)."""

    key = "zapsign"
    name = "ZapSign"
    description = "Send PDFs for electronic signature with ZapSign and wait for the signatures."
    icon_url = "https://zapsign.com.br/favicon.ico"
    auth = AUTH
    actions = (SendForSignature, CancelDocument, ResendNotification, GetStatus)

    def get_base_url(self, ctx: ExecutionContext) -> str | None:
        return api_base_url(ctx.auth)

    async def before_request(self, ctx: ExecutionContext, request: httpx.Request) -> None:
        # Only ZapSign's API gets the token: signed-file links point at a storage host.
        if request.url.host == api_host(ctx.auth):
            request.headers["Authorization"] = f"Bearer {ctx.auth.get('api_token', '')}"
        request.headers["User-Agent"] = "docg-zapsign"

    def parse_callback(self, request: InboundRequest) -> list[CallbackEvent]:
        return parse_events(request)

    def verify_callback(self, request: InboundRequest, credentials: Mapping[str, Any]) -> None:
        verify_delivery(request, credentials)
