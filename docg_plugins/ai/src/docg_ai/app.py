"""The ``ai`` app: OpenAI, Anthropic and Google Gemini models behind one connection form."""

from __future__ import annotations

import httpx

from docg_core.apps import BaseApp
from docg_core.context import ExecutionContext
from docg_core.errors import StepError

from .actions import FillTemplateFields, GenerateText
from .auth import AUTH, connection_of
from .models import Models


class AIApp(BaseApp):
    key = "ai"
    name = "AI"
    description = (
        "Generate text and JSON with OpenAI, Anthropic or Google Gemini models, and fill "
        "document template fields from prompts. Answers are cached; usage and cost recorded."
    )
    auth = AUTH
    actions = (GenerateText, FillTemplateFields)
    dynamic_data = (Models,)

    def get_base_url(self, ctx: ExecutionContext) -> str | None:
        """The connection's ``base_url``, else its provider's API."""
        try:
            return connection_of(ctx.auth).base_url
        except StepError:
            return None  # the action reports the connection's problem before any request

    async def before_request(self, ctx: ExecutionContext, request: httpx.Request) -> None:
        """Authenticate with the provider's API-key header(s)."""
        connection = connection_of(ctx.auth)
        request.headers.update(connection.provider.auth_headers(connection.api_key))
