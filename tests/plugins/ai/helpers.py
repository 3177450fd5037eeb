"""Shared helpers of the AI app tests: connections per provider and a runner on the fake."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fakes.ai import API_KEYS, FakeAI

from docg_ai.actions import FillTemplateFields, GenerateText
from docg_ai.app import AIApp
from docg_core.apps import ActionResult, BaseAction
from docg_core.store import ExecutionStore, InMemoryStore
from docg_core.testing import run_action

PROVIDERS = ("openai", "anthropic", "gemini")
MODEL = {"openai": "gpt-4o-mini", "anthropic": "claude-sonnet-4-5", "gemini": "gemini-2.5-flash"}
ACTIONS: dict[str, type[BaseAction]] = {
    "generate-text": GenerateText,
    "fill-template-fields": FillTemplateFields,
}


def auth_for(provider: str, **overrides: Any) -> dict[str, Any]:
    """The credentials of a connection to ``provider`` the fake accepts."""
    return {"provider": provider, "api_key": API_KEYS[provider], **overrides}


class Runner:
    """Runs the app's actions against one fake and one store (shared datastore)."""

    def __init__(self, fake: FakeAI) -> None:
        self.fake = fake
        self.store: ExecutionStore = InMemoryStore()

    async def __call__(
        self,
        action: str,
        parameters: Mapping[str, Any],
        *,
        provider: str = "openai",
        auth: Mapping[str, Any] | None = None,
        execution_id: str | None = None,
    ) -> ActionResult:
        return await run_action(
            AIApp(),
            ACTIONS[action],
            parameters,
            auth=auth if auth is not None else auth_for(provider),
            transport=self.fake.transport,
            store=self.store,
            execution_id=execution_id,
        )
