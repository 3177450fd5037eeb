"""The exact requests each provider receives: method, path, headers and body."""

from __future__ import annotations

from fakes.ai import API_KEYS, FakeAI
from plugins.ai.helpers import Runner, auth_for

SCHEMA = {
    "type": "object",
    "properties": {"parcelas": {"type": "integer"}, "resumo": {"type": "string"}},
    "required": ["parcelas", "resumo"],
}


async def test_openai_chat_completion_request(run: Runner, fake: FakeAI) -> None:
    await run(
        "generate-text",
        {
            "prompt": "Resuma o contrato.",
            "model": "gpt-4o-mini",
            "system_prompt": "Seja breve.",
            "temperature": 0.3,
            "max_tokens": 150,
        },
    )
    (call,) = fake.requests
    assert (call.method, call.path) == ("POST", "/v1/chat/completions")
    assert call.headers["authorization"] == f"Bearer {API_KEYS['openai']}"
    assert call.json == {
        "model": "gpt-4o-mini",
        "messages": [
            {"role": "system", "content": "Seja breve."},
            {"role": "user", "content": "Resuma o contrato."},
        ],
        "temperature": 0.3,
        "max_completion_tokens": 150,
    }


async def test_openai_json_schema_uses_response_format(run: Runner, fake: FakeAI) -> None:
    result = await run(
        "generate-text", {"prompt": "Extraia os dados.", "model": "gpt-4o", "json_schema": SCHEMA}
    )
    assert fake.requests[0].json["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "answer", "schema": SCHEMA, "strict": False},
    }
    assert result.data == {"json": {"parcelas": 1, "resumo": "example"}}


async def test_openai_json_mode_asks_for_json_when_the_prompt_does_not(
    run: Runner, fake: FakeAI
) -> None:
    result = await run(
        "generate-text", {"prompt": "Liste as partes.", "model": "gpt-4o", "output": "json"}
    )
    body = fake.requests[0].json
    assert body["response_format"] == {"type": "json_object"}
    assert body["messages"][0] == {"role": "system", "content": "Answer with one JSON object."}
    assert result.data == {"json": {"answer": "[gpt-4o] Liste as partes."}}


async def test_openai_non_object_schema_is_wrapped_and_unwrapped(run: Runner, fake: FakeAI) -> None:
    schema = {"type": "array", "items": {"type": "string"}}
    result = await run(
        "generate-text", {"prompt": "Partes?", "model": "gpt-4o", "json_schema": schema}
    )
    sent = fake.requests[0].json["response_format"]["json_schema"]["schema"]
    assert sent == {
        "type": "object",
        "properties": {"value": schema},
        "required": ["value"],
        "additionalProperties": False,
    }
    assert result.data == {"json": ["example"]}


async def test_openai_compatible_endpoint_gets_max_tokens(run: Runner, fake: FakeAI) -> None:
    auth = auth_for("openai", base_url="http://localhost:11434/v1/")
    result = await run(
        "generate-text", {"prompt": "Oi", "model": "gpt-4o", "max_tokens": 50}, auth=auth
    )
    call = fake.requests[0]
    assert str(fake.requests[0].path) == "/v1/chat/completions"
    assert call.json["max_tokens"] == 50 and "max_completion_tokens" not in call.json
    # A compatible server's prices are unknown.
    assert result.metadata["cost_usd"] is None


async def test_anthropic_messages_request(run: Runner, fake: FakeAI) -> None:
    await run(
        "generate-text",
        {
            "prompt": "Resuma o contrato.",
            "model": "claude-sonnet-4-5",
            "system_prompt": "Seja breve.",
            "temperature": 0.5,
        },
        provider="anthropic",
    )
    (call,) = fake.requests
    assert (call.method, call.path) == ("POST", "/v1/messages")
    assert call.headers["x-api-key"] == API_KEYS["anthropic"]
    assert call.headers["anthropic-version"] == "2023-06-01"
    assert "authorization" not in call.headers
    assert call.json == {
        "model": "claude-sonnet-4-5",
        "max_tokens": 4096,
        "messages": [{"role": "user", "content": "Resuma o contrato."}],
        "system": "Seja breve.",
        "temperature": 0.5,
    }


async def test_anthropic_json_uses_a_forced_tool(run: Runner, fake: FakeAI) -> None:
    result = await run(
        "generate-text",
        {
            "prompt": "Extraia.",
            "model": "claude-sonnet-4-5",
            "json_schema": SCHEMA,
            "max_tokens": 500,
        },
        provider="anthropic",
    )
    body = fake.requests[0].json
    assert body["max_tokens"] == 500
    assert body["tools"] == [
        {
            "name": "answer",
            "description": "Give the answer as JSON matching the input schema.",
            "input_schema": SCHEMA,
        }
    ]
    assert body["tool_choice"] == {"type": "tool", "name": "answer"}
    assert result.data == {"json": {"parcelas": 1, "resumo": "example"}}


async def test_gemini_generate_content_request(run: Runner, fake: FakeAI) -> None:
    await run(
        "generate-text",
        {
            "prompt": "Resuma o contrato.",
            "model": "gemini-2.5-flash",
            "system_prompt": "Seja breve.",
            "temperature": 0.7,
            "max_tokens": 256,
            "json_schema": SCHEMA,
        },
        provider="gemini",
    )
    (call,) = fake.requests
    assert (call.method, call.path) == ("POST", "/v1beta/models/gemini-2.5-flash:generateContent")
    assert call.headers["x-goog-api-key"] == API_KEYS["gemini"]
    assert "key" not in call.params  # the key travels in the header, never in the URL
    assert call.json == {
        "contents": [{"role": "user", "parts": [{"text": "Resuma o contrato."}]}],
        "systemInstruction": {"parts": [{"text": "Seja breve."}]},
        "generationConfig": {
            "temperature": 0.7,
            "maxOutputTokens": 256,
            "responseMimeType": "application/json",
            "responseJsonSchema": SCHEMA,
        },
    }


async def test_gemini_model_given_with_models_prefix(run: Runner, fake: FakeAI) -> None:
    result = await run(
        "generate-text", {"prompt": "Oi", "model": "models/gemini-2.0-flash"}, provider="gemini"
    )
    assert fake.requests[0].path == "/v1beta/models/gemini-2.0-flash:generateContent"
    assert result.data == {"text": "[gemini-2.0-flash] Oi"}
