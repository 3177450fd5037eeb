"""fill-template-fields: one prompt per template variable, asked concurrently, cached."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import httpx
import pytest
from docx import Document
from fakes.ai import FakeAI
from plugins.ai.helpers import Runner, auth_for

import docg_ai
import docg_documents
from docg_ai.actions import FillTemplateFields
from docg_ai.app import AIApp
from docg_core import Engine, Workflow, get_registry
from docg_core.errors import RetryableError, StepError
from docg_core.storage import LocalStorage
from docg_core.testing import run_action

FIELDS = {
    "clausula_pagamento": "Redija a cláusula de pagamento em 12 parcelas.",
    "clausula_rescisao": {"prompt": "Redija a cláusula de rescisão.", "model": "gpt-4o"},
}


async def test_each_variable_gets_its_answer(run: Runner, fake: FakeAI) -> None:
    result = await run("fill-template-fields", {"fields": FIELDS, "model": "gpt-4o-mini"})
    assert result.data == {
        "clausula_pagamento": "[gpt-4o-mini] Redija a cláusula de pagamento em 12 parcelas.",
        "clausula_rescisao": "[gpt-4o] Redija a cláusula de rescisão.",
    }
    sent = sorted(c.json["model"] for c in fake.generations())
    assert sent == ["gpt-4o", "gpt-4o-mini"]


async def test_metadata_sums_usage_and_cost(run: Runner) -> None:
    result = await run("fill-template-fields", {"fields": FIELDS, "model": "gpt-4o-mini"})
    fields = result.metadata["fields"]
    assert result.metadata["usage"] == {
        "input_tokens": sum(f["usage"]["input_tokens"] for f in fields.values()),
        "output_tokens": sum(f["usage"]["output_tokens"] for f in fields.values()),
    }
    assert result.metadata["cost_usd"] == pytest.approx(sum(f["cost_usd"] for f in fields.values()))
    assert result.metadata["model"] == "gpt-4o-mini-2024-07-18, gpt-4o-2024-08-06"
    assert result.metadata["cached"] is False


async def test_field_options_override_the_steps(run: Runner, fake: FakeAI) -> None:
    fields = {"a": {"prompt": "A", "temperature": 0.9, "system_prompt": "Curto."}}
    await run(
        "fill-template-fields",
        {"fields": fields, "model": "gemini-2.5-flash", "temperature": 0.1, "max_tokens": 64},
        provider="gemini",
    )
    config = fake.generations()[0].json["generationConfig"]
    assert config == {"temperature": 0.9, "maxOutputTokens": 64}
    assert fake.generations()[0].json["systemInstruction"] == {"parts": [{"text": "Curto."}]}


async def test_identical_prompts_are_asked_once(run: Runner, fake: FakeAI) -> None:
    fields = {"a": "Mesmo texto", "b": "Mesmo texto", "c": "Outro"}
    result = await run("fill-template-fields", {"fields": fields, "model": "gpt-4o"})
    assert result.data["a"] == result.data["b"] == "[gpt-4o] Mesmo texto"
    assert len(fake.generations()) == 2


async def test_concurrency_is_bounded(fake: FakeAI) -> None:
    active = 0
    peak = 0

    async def handler(request: httpx.Request) -> httpx.Response:
        nonlocal active, peak
        active += 1
        peak = max(peak, active)
        await asyncio.sleep(0.01)
        active -= 1
        return fake(request)

    run = Runner(fake)
    fields = {f"campo_{i}": f"Texto {i}" for i in range(8)}
    result = await run_action(
        AIApp(),
        FillTemplateFields,
        {"fields": fields, "model": "gpt-4o", "concurrency": 3},
        auth=auth_for("openai"),
        transport=httpx.MockTransport(handler),
        store=run.store,
    )
    assert len(result.data) == 8
    assert peak == 3


async def test_a_retry_pays_only_for_the_failed_fields(run: Runner, fake: FakeAI) -> None:
    fields = {"a": "Primeiro", "b": "Segundo", "c": "Terceiro"}
    fake.fail_next("rate-limit", times=1)
    with pytest.raises(RetryableError) as info:
        await run("fill-template-fields", {"fields": fields, "model": "gpt-4o", "concurrency": 1})
    assert info.value.retry_after == 7.0
    assert info.value.message.startswith("fields.a: OpenAI is rate-limiting this API key")
    assert "(2 of 3 fields answered, kept for the retry)" in info.value.message
    result = await run(
        "fill-template-fields", {"fields": fields, "model": "gpt-4o", "concurrency": 1}
    )
    assert result.data == {
        "a": "[gpt-4o] Primeiro",
        "b": "[gpt-4o] Segundo",
        "c": "[gpt-4o] Terceiro",
    }
    assert [f["cached"] for f in result.metadata["fields"].values()] == [False, True, True]
    assert len(fake.generations()) == 4  # 3 first (one failed) + only the failed one again


async def test_a_permanent_failure_wins_over_a_retryable_one(run: Runner) -> None:
    fields = {"a": "Oi [fail:rate-limit]", "b": "Oi [fail:context-length]"}
    with pytest.raises(StepError) as info:
        await run("fill-template-fields", {"fields": fields, "model": "gpt-4o"})
    assert not isinstance(info.value, RetryableError)
    assert info.value.code == "context-length-exceeded"
    assert info.value.message.startswith("fields.b: ")


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"clausula 1": "x"}, "fields.clausula 1: 'clausula 1' is not a template variable name"),
        ({"a": {"prompt": "x", "top_k": 3}}, "fields.a: unknown option(s) top_k"),
        ({"a": {"model": "gpt-4o"}}, "fields.a.prompt: is empty"),
        ({"a": 42}, "fields.a: expected a prompt or an object with a prompt, got int"),
        (
            {"a": {"prompt": "x", "temperature": 5}},
            "fields.a: temperature: must be between 0 and 2",
        ),
        (["x"], "fields: expected an object mapping each template variable"),
    ],
)
async def test_bad_fields_are_named(
    run: Runner, fake: FakeAI, fields: object, message: str
) -> None:
    with pytest.raises(StepError) as info:
        await run("fill-template-fields", {"fields": fields, "model": "gpt-4o"})
    assert message in info.value.message
    assert fake.requests == []


async def test_the_answers_fill_a_word_template(tmp_path: Path) -> None:
    template = tmp_path / "contrato.docx"
    doc = Document()
    doc.add_paragraph("Contrato com {{ cliente }}")
    doc.add_paragraph("Pagamento: {{ clausulas.clausula_pagamento }}")
    doc.add_paragraph("Rescisão: {{ clausulas.clausula_rescisao }}")
    doc.save(template)
    workflow = Workflow.model_validate(
        {
            "name": "Contrato com cláusulas escritas por IA",
            "nodes": [
                {
                    "id": "clausulas",
                    "app": "ai",
                    "action": "fill-template-fields",
                    "connection": "ia",
                    "parameters": {
                        "model": "claude-sonnet-4-5",
                        "fields": {
                            "clausula_pagamento": "Pagamento de {{trigger.valor}} para {{trigger.cliente}}.",
                            "clausula_rescisao": "Rescisão com aviso de 30 dias.",
                        },
                    },
                },
                {
                    "id": "contrato",
                    "app": "documents",
                    "action": "generate-document",
                    "parameters": {
                        "template": str(template),
                        "data": {
                            "cliente": "{{trigger.cliente}}",
                            "clausulas": "{{step.clausulas}}",
                        },
                        "formats": ["docx"],
                    },
                },
            ],
        }
    )
    fake = FakeAI()
    storage = LocalStorage(tmp_path / "files", secret="test-secret")
    engine = Engine(
        registry=get_registry(plugins=[], extra=[docg_ai, docg_documents]),
        connections={"ia": auth_for("anthropic")},
        http_transport=fake.transport,
        storage=storage,
    )
    execution = await engine.run(workflow, {"cliente": "Acme", "valor": "R$ 1.200"})
    assert execution.status == "completed", [s.error for s in execution.steps]
    file_key = execution.step("contrato").data_out["data"]["file_key"]
    rendered = Document(io.BytesIO(await storage.get(file_key)))
    text = [p.text for p in rendered.paragraphs]
    assert text == [
        "Contrato com Acme",
        "Pagamento: [claude-sonnet-4-5] Pagamento de R$ 1.200 para Acme.",
        "Rescisão: [claude-sonnet-4-5] Rescisão com aviso de 30 dias.",
    ]
