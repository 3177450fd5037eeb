"""The models dropdown and the price table."""

from __future__ import annotations

import pytest
from fakes.ai import FakeAI
from plugins.ai.helpers import auth_for

from docg_ai.app import AIApp
from docg_ai.catalog import MODELS, cost_usd, price_for
from docg_ai.models import Models
from docg_core._http import http_factory
from docg_core.context import AppInfo, ExecutionInfo, FlowInfo, StepInfo, build_context
from docg_core.store import InMemoryStore


async def list_models(fake: FakeAI, provider: str) -> list[tuple[object, str | None]]:
    app = AIApp()
    ctx = build_context(
        store=InMemoryStore(),
        app=AppInfo(app.key, app.name),
        flow=FlowInfo(None, "test"),
        step=StepInfo("s", "s", "ai", "", {}, "e:s"),
        execution=ExecutionInfo("e"),
        auth=auth_for(provider),
        http_factory=http_factory(app, transport=fake.transport),
    )
    try:
        return [(o.value, o.label) for o in await Models().run(ctx)]
    finally:
        await ctx.aclose()


async def test_openai_lists_chat_models_only(fake: FakeAI) -> None:
    assert await list_models(fake, "openai") == [
        ("gpt-4.1-mini", "gpt-4.1-mini"),
        ("gpt-4o", "gpt-4o"),
        ("gpt-4o-mini", "gpt-4o-mini"),
    ]
    assert (fake.requests[0].method, fake.requests[0].path) == ("GET", "/v1/models")


async def test_anthropic_follows_pages(fake: FakeAI) -> None:
    fake.page_size = 1
    assert await list_models(fake, "anthropic") == [
        ("claude-sonnet-4-5-20250929", "Claude Sonnet 4 5 20250929"),
        ("claude-3-5-haiku-20241022", "Claude 3 5 Haiku 20241022"),
    ]
    assert [c.params for c in fake.requests] == [
        {"limit": "1000"},
        {"limit": "1000", "after_id": "claude-sonnet-4-5-20250929"},
    ]
    assert fake.requests[0].headers["anthropic-version"] == "2023-06-01"


async def test_gemini_lists_generate_content_models_across_pages(fake: FakeAI) -> None:
    fake.page_size = 2
    assert await list_models(fake, "gemini") == [
        ("gemini-2.5-flash", "Gemini 2.5 Flash"),
        ("gemini-2.0-flash", "Gemini 2.0 Flash"),
    ]
    assert [c.params.get("pageToken") for c in fake.requests] == [None, "2"]


@pytest.mark.parametrize("provider", ["openai", "anthropic", "gemini"])
async def test_an_unreadable_models_endpoint_falls_back_to_the_list(
    fake: FakeAI, provider: str
) -> None:
    fake.fail_next("server-error", endpoint="models")
    options = await list_models(fake, provider)
    assert [value for value, _ in options] == list(MODELS[provider])


@pytest.mark.parametrize(
    ("provider", "model", "listed"),
    [
        ("openai", "gpt-4o-2024-08-06", "gpt-4o"),
        ("openai", "gpt-4o-mini-2024-07-18", "gpt-4o-mini"),
        ("anthropic", "claude-sonnet-4-5-20250929", "claude-sonnet-4-5"),
        ("gemini", "models/gemini-2.5-flash-lite", "gemini-2.5-flash-lite"),
    ],
)
def test_dated_models_take_their_familys_price(provider: str, model: str, listed: str) -> None:
    from docg_ai.catalog import PRICES

    assert price_for(provider, model) == PRICES[provider][listed]


@pytest.mark.parametrize(
    ("provider", "model"), [("openai", "gpt-4.5-preview"), ("gemini", "gemma-3")]
)
def test_unlisted_models_have_no_price(provider: str, model: str) -> None:
    assert price_for(provider, model) is None
    assert cost_usd(provider, model, 1000, 1000) is None


def test_cost_of_a_million_tokens_each_way() -> None:
    assert cost_usd("anthropic", "claude-sonnet-4-5", 1_000_000, 1_000_000) == 18.0
