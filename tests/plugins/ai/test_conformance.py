"""The AI app passes the plugin conformance kit, once per provider, against the fake."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
from fakes.ai import FakeAI
from plugins.ai.helpers import MODEL, auth_for

from docg_ai.app import AIApp
from docg_core.testing import AppConformance, ErrorCase


def _cases(model: str) -> tuple[ErrorCase, ...]:
    def ask(prompt: str) -> dict[str, Any]:
        return {"prompt": prompt, "model": model}

    return (
        ErrorCase("generate-text", ask("Hi [fail:rate-limit]"), retryable=True),
        ErrorCase("generate-text", ask("Hi [fail:overloaded]"), retryable=True),
        ErrorCase("generate-text", ask("Hi [fail:server-error]"), retryable=True),
        ErrorCase("generate-text", ask("Hi [fail:timeout]"), retryable=True),
        ErrorCase("generate-text", ask("Hi [fail:context-length]"), retryable=False),
        ErrorCase("generate-text", ask("Hi [fail:content-policy]"), retryable=False),
        ErrorCase("generate-text", ask("Hi [fail:blocked-answer]"), retryable=False),
        ErrorCase("generate-text", ask("Hi [fail:invalid-key]"), retryable=False),
        ErrorCase("generate-text", {"prompt": "Hi", "model": "no-such-model"}, retryable=False),
        ErrorCase(
            "fill-template-fields",
            {"fields": {"a": "Hi", "b": "Hi [fail:rate-limit]"}, "model": model},
            retryable=True,
        ),
        ErrorCase(
            "fill-template-fields",
            {
                "fields": {"a": "Hi [fail:rate-limit]", "b": "Hi [fail:context-length]"},
                "model": model,
            },
            retryable=False,
        ),
        ErrorCase("fill-template-fields", {"fields": {"not a name": "Hi"}, "model": model}, False),
    )


class _AIConformance(AppConformance):
    app = AIApp
    entry_point = "ai"
    provider: ClassVar[str]
    http_error_statuses: ClassVar[Mapping[int, bool]] = {
        400: False,
        401: False,
        404: False,
        429: True,
        500: True,
        503: True,
    }

    def make_transport(self) -> httpx.AsyncBaseTransport:
        self.fake = FakeAI()
        return self.fake.transport

    def make_samples(self) -> Mapping[str, Mapping[str, Any]]:
        model = MODEL[self.provider]
        return {
            "generate-text": {
                "prompt": "Resuma o contrato da Acme em uma frase.",
                "model": model,
                "system_prompt": "Responda em português.",
                "temperature": 0.2,
                "max_tokens": 200,
            },
            "fill-template-fields": {
                "fields": {
                    "clausula_pagamento": "Redija a cláusula de pagamento: 12 parcelas.",
                    "clausula_rescisao": {
                        "prompt": "Redija a cláusula de rescisão.",
                        "max_tokens": 300,
                    },
                },
                "model": model,
            },
        }

    async def test_retry_is_answered_from_the_cache(self) -> None:
        first, again = await self.retry_sample("generate-text")
        assert again.data == first.data
        assert (first.metadata["cached"], again.metadata["cached"]) == (False, True)
        assert len(self.fake.generations(self.provider)) == 1


class TestOpenAI(_AIConformance):
    provider = "openai"
    auth_sample = auth_for("openai")
    error_cases = (
        *_cases(MODEL["openai"]),
        ErrorCase("generate-text", {"prompt": "Hi [fail:quota]", "model": "gpt-4o"}, False),
    )


class TestAnthropic(_AIConformance):
    provider = "anthropic"
    auth_sample = auth_for("anthropic")
    http_error_statuses: ClassVar[Mapping[int, bool]] = {
        **_AIConformance.http_error_statuses,
        529: True,
    }
    error_cases = (
        *_cases(MODEL["anthropic"]),
        ErrorCase(
            "generate-text", {"prompt": "Hi [fail:quota]", "model": MODEL["anthropic"]}, False
        ),
        ErrorCase(
            "generate-text",
            {"prompt": "Hi", "model": MODEL["anthropic"], "temperature": 1.5},
            retryable=False,
        ),
    )


class TestGemini(_AIConformance):
    provider = "gemini"
    auth_sample = auth_for("gemini")
    error_cases = _cases(MODEL["gemini"])
