"""generate-text: caching, JSON checks, usage and cost."""

from __future__ import annotations

import pytest
from fakes.ai import FakeAI
from plugins.ai.helpers import Runner

from docg_ai.catalog import PRICES
from docg_core.errors import StepError

ASK = {"prompt": "Escreva uma saudação.", "model": "gpt-4o-mini"}


async def test_identical_request_is_answered_from_the_cache(run: Runner, fake: FakeAI) -> None:
    first = await run("generate-text", ASK)
    second = await run("generate-text", ASK)
    assert second.data == first.data == {"text": "[gpt-4o-mini] Escreva uma saudação."}
    assert (first.metadata["cached"], second.metadata["cached"]) == (False, True)
    assert second.metadata["cost_usd"] == 0.0  # nothing paid the second time
    assert second.metadata["usage"] == first.metadata["usage"]
    assert len(fake.generations()) == 1


@pytest.mark.parametrize(
    "change",
    [
        {"prompt": "Outra saudação."},
        {"model": "gpt-4o"},
        {"system_prompt": "Formal."},
        {"temperature": 0.1},
        {"max_tokens": 10},
        {"output": "json"},
    ],
)
async def test_any_difference_misses_the_cache(
    run: Runner, fake: FakeAI, change: dict[str, object]
) -> None:
    await run("generate-text", ASK)
    result = await run("generate-text", {**ASK, **change})
    assert result.metadata["cached"] is False
    assert len(fake.generations()) == 2


async def test_the_same_prompt_on_another_provider_is_not_reused(run: Runner, fake: FakeAI) -> None:
    await run("generate-text", {"prompt": "Oi", "model": "gemini-2.5-flash"}, provider="gemini")
    result = await run(
        "generate-text",
        {"prompt": "Oi", "model": "gemini-2.5-flash"},
        auth={
            "provider": "gemini",
            "api_key": fake.api_keys["gemini"],
            "base_url": "https://proxy.example/v1beta",
        },
    )
    assert result.metadata["cached"] is False


async def test_cache_false_always_asks(run: Runner, fake: FakeAI) -> None:
    await run("generate-text", {**ASK, "cache": False})
    result = await run("generate-text", {**ASK, "cache": False})
    assert result.metadata["cached"] is False
    assert len(fake.generations()) == 2


async def test_cost_comes_from_the_price_table(run: Runner) -> None:
    result = await run("generate-text", ASK)
    usage = result.metadata["usage"]
    price = PRICES["openai"]["gpt-4o-mini"]
    expected = (usage["input_tokens"] * price.input + usage["output_tokens"] * price.output) / 1e6
    assert usage == {"input_tokens": 3, "output_tokens": 4}
    assert result.metadata["cost_usd"] == pytest.approx(expected)
    assert result.metadata["model"] == "gpt-4o-mini-2024-07-18"


async def test_cost_is_null_for_an_unlisted_model(run: Runner, fake: FakeAI) -> None:
    fake.models["openai"] += ("ft:gpt-acme",)
    result = await run("generate-text", {"prompt": "Oi", "model": "ft:gpt-acme"})
    assert result.metadata["cost_usd"] is None
    assert result.metadata["usage"]["output_tokens"] == 2


async def test_truncated_answer_is_flagged(run: Runner) -> None:
    result = await run(
        "generate-text",
        {**ASK, "model": "claude-sonnet-4-5", "max_tokens": 2},
        provider="anthropic",
    )
    assert result.data == {"text": "[claude-sonnet-4-5] Escreva"}
    assert result.metadata["truncated"] is True


async def test_answer_that_is_not_json_is_a_clear_error(run: Runner, fake: FakeAI) -> None:
    fake.replies["Dados?"] = "Claro! Aqui estão os dados."
    with pytest.raises(StepError) as info:
        await run(
            "generate-text",
            {"prompt": "Dados?", "model": "gemini-2.5-flash", "output": "json"},
            provider="gemini",
        )
    assert info.value.code == "invalid-json"
    assert "did not answer with valid JSON" in info.value.message
    assert "'Claro! Aqui estão os dados.'" in info.value.message


async def test_answer_cut_at_max_tokens_explains_the_bad_json(run: Runner) -> None:
    schema = {"type": "object", "properties": {"a": {"type": "string"}, "b": {"type": "string"}}}
    with pytest.raises(StepError, match="cut off at max_tokens"):
        await run(
            "generate-text",
            {"prompt": "Dados", "model": "gpt-4o", "json_schema": schema, "max_tokens": 1},
        )


async def test_answer_not_matching_the_schema_names_where(run: Runner, fake: FakeAI) -> None:
    fake.replies["Dados?"] = '{"parcelas": "doze"}'
    schema = {"type": "object", "properties": {"parcelas": {"type": "integer"}}}
    with pytest.raises(StepError) as info:
        await run("generate-text", {"prompt": "Dados?", "model": "gpt-4o", "json_schema": schema})
    assert info.value.code == "schema-mismatch"
    assert "at parcelas: 'doze' is not of type 'integer'" in info.value.message


async def test_a_bad_answer_is_not_cached(run: Runner, fake: FakeAI) -> None:
    fake.replies["Dados?"] = "not json"
    for _ in range(2):
        with pytest.raises(StepError):
            await run("generate-text", {"prompt": "Dados?", "model": "gpt-4o", "output": "json"})
    assert len(fake.generations()) == 2


async def test_invalid_schema_is_refused_before_asking(run: Runner, fake: FakeAI) -> None:
    with pytest.raises(StepError, match="json_schema: not a valid JSON Schema"):
        await run("generate-text", {**ASK, "json_schema": {"type": "objeto"}})
    assert fake.requests == []


async def test_secrets_never_reach_the_result(run: Runner, fake: FakeAI) -> None:
    result = await run("generate-text", {**ASK, "model": "claude-3-5-haiku"}, provider="anthropic")
    assert result.data["text"].startswith("[claude-3-5-haiku]")
    assert fake.api_keys["anthropic"] not in repr((result.data, result.raw, result.metadata))
