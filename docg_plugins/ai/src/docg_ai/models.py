"""The ``models`` dynamic data: the models of the connection's provider."""

from __future__ import annotations

import httpx

from docg_core.apps import BaseDynamicData, DropdownOption
from docg_core.context import ExecutionContext
from docg_core.errors import StepError

from .auth import connection_of
from .catalog import MODELS


class Models(BaseDynamicData):
    key = "models"
    name = "Models"
    description = (
        "The models the connection's API key can use, from the provider's models endpoint; "
        "the maintained list when it cannot be read."
    )

    async def run(self, ctx: ExecutionContext) -> list[DropdownOption]:
        connection = connection_of(ctx.auth)
        try:
            listed = await connection.provider.list_models(ctx.http)
        except (StepError, httpx.HTTPError) as exc:
            message = exc.message if isinstance(exc, StepError) else type(exc).__name__
            ctx.logger.warning(
                "listing %s models failed, using the maintained list: %s",
                connection.provider.name,
                connection.scrub(message),
            )
            listed = []
        if listed:
            return listed
        return [DropdownOption(m, m) for m in MODELS[connection.provider.key]]
