"""Each documented vendor error becomes the right step error, per provider."""

from __future__ import annotations

import httpx
import pytest
from fakes.ai import FakeAI
from plugins.ai.helpers import MODEL, PROVIDERS, Runner, auth_for

from docg_ai.actions import GenerateText
from docg_ai.app import AIApp
from docg_core.errors import RetryableError, StepError
from docg_core.retry import classify_error
from docg_core.testing import run_action


async def _error(run: Runner, provider: str, prompt: str = "Oi", **params: object) -> StepError:
    with pytest.raises(StepError) as info:
        await run(
            "generate-text",
            {"prompt": prompt, "model": MODEL[provider], **params},
            provider=provider,
        )
    return classify_error(info.value)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_rate_limit_is_retryable_after_the_vendors_delay(
    run: Runner, fake: FakeAI, provider: str
) -> None:
    fake.retry_after = 13
    fake.fail_next("rate-limit")
    error = await _error(run, provider)
    assert isinstance(error, RetryableError)
    assert (error.code, error.retry_after) == ("rate-limited", 13.0)


async def test_openai_retry_after_ms_is_preferred() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            429,
            json={
                "error": {"message": "slow down", "type": "requests", "code": "rate_limit_exceeded"}
            },
            headers={"retry-after-ms": "1500", "retry-after": "2"},
        )

    with pytest.raises(RetryableError) as info:
        await run_action(
            AIApp(),
            GenerateText,
            {"prompt": "Oi", "model": "gpt-4o"},
            auth=auth_for("openai"),
            transport=httpx.MockTransport(handler),
        )
    assert info.value.retry_after == 1.5


async def test_anthropic_overloaded_529_is_retryable(run: Runner, fake: FakeAI) -> None:
    fake.fail_next("overloaded")
    error = await _error(run, "anthropic")
    assert isinstance(error, RetryableError)
    assert error.code == "overloaded"
    assert "overloaded" in error.message


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("failure", ["server-error", "overloaded", "timeout"])
async def test_server_errors_and_timeouts_are_retryable(
    run: Runner, fake: FakeAI, provider: str, failure: str
) -> None:
    fake.fail_next(failure)
    assert isinstance(await _error(run, provider), RetryableError)


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_context_length_is_a_clear_permanent_error(
    run: Runner, fake: FakeAI, provider: str
) -> None:
    fake.fail_next("context-length")
    error = await _error(run, provider)
    assert not isinstance(error, RetryableError)
    assert error.code == "context-length-exceeded"
    assert error.message.startswith("The prompt is too long for the model's context window")


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("failure", ["content-policy", "blocked-answer"])
async def test_content_policy_is_a_clear_permanent_error(
    run: Runner, fake: FakeAI, provider: str, failure: str
) -> None:
    fake.fail_next(failure)
    error = await _error(run, provider)
    assert not isinstance(error, RetryableError)
    assert error.code == "content-policy"
    assert "content policy" in error.message


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_a_rejected_key_says_so_without_showing_it(
    run: Runner, fake: FakeAI, provider: str
) -> None:
    wrong = "sk-wrong-0123456789-secret"
    with pytest.raises(StepError) as info:
        await run(
            "generate-text",
            {"prompt": "Oi", "model": MODEL[provider]},
            auth=auth_for(provider, api_key=wrong),
        )
    error = info.value
    assert not isinstance(error, RetryableError)
    assert error.code == "api-key-rejected"
    assert "rejected the API key" in error.message
    assert wrong not in error.message


@pytest.mark.parametrize("provider", PROVIDERS)
async def test_unknown_model_is_named(run: Runner, provider: str) -> None:
    with pytest.raises(StepError) as info:
        await run("generate-text", {"prompt": "Oi", "model": "modelo-x"}, provider=provider)
    assert info.value.code == "model-not-found"
    assert "'modelo-x'" in info.value.message


@pytest.mark.parametrize("provider", ["openai", "anthropic"])
async def test_exhausted_quota_is_not_retried(run: Runner, fake: FakeAI, provider: str) -> None:
    fake.fail_next("quota")
    error = await _error(run, provider)
    assert not isinstance(error, RetryableError)
    assert error.code == "quota-exceeded"


async def test_errors_are_not_cached(run: Runner, fake: FakeAI) -> None:
    fake.fail_next("server-error")
    await _error(run, "openai")
    result = await run("generate-text", {"prompt": "Oi", "model": MODEL["openai"]})
    assert result.data == {"text": "[gpt-4o-mini] Oi"}
    assert result.metadata["cached"] is False
    assert len(fake.generations()) == 2


@pytest.mark.parametrize(
    ("auth", "message"),
    [
        ({"provider": "mistral", "api_key": "k"}, "provider 'mistral' is not one of openai"),
        ({"provider": "openai", "api_key": ""}, "has no API key"),
        ({"provider": "openai", "api_key": "k", "base_url": "ftp://x"}, "is not an http(s) URL"),
    ],
)
async def test_a_broken_connection_fails_before_any_request(
    run: Runner, fake: FakeAI, auth: dict[str, str], message: str
) -> None:
    with pytest.raises(StepError) as info:
        await run("generate-text", {"prompt": "Oi", "model": "gpt-4o"}, auth=auth)
    assert message in info.value.message
    assert info.value.code == "invalid-connection"
    assert fake.requests == []


async def test_temperature_out_of_range_is_refused(run: Runner, fake: FakeAI) -> None:
    with pytest.raises(StepError, match="temperature: must be between 0 and 2, got 3"):
        await run("generate-text", {"prompt": "Oi", "model": "gpt-4o", "temperature": 3})
    assert fake.requests == []
