"""OpenAI Chat Completions (``POST /chat/completions``, ``GET /models``).

Also serves OpenAI-compatible servers through the connection's ``base_url``.
"""

from __future__ import annotations

import json
from typing import Any, ClassVar

import httpx

from docg_core.apps import DropdownOption
from docg_core.errors import StepError

from . import _errors as e
from ._base import GENERATION_TIMEOUT, GenerationRequest, GenerationResponse
from ._schema import object_schema, unwrap

# Models listed by GET /models that cannot answer a chat completion.
_NOT_CHAT = (
    "embedding",
    "whisper",
    "tts",
    "dall-e",
    "moderation",
    "davinci",
    "babbage",
    "transcribe",
    "image",
    "realtime",
    "audio",
    "search",
    "sora",
)
_JSON_INSTRUCTION = "Answer with one JSON object."


class OpenAIProvider:
    """OpenAI and OpenAI-compatible endpoints."""

    key: ClassVar[str] = "openai"
    name: ClassVar[str] = "OpenAI"
    default_base_url: ClassVar[str] = "https://api.openai.com/v1"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {api_key}"}

    def request_body(self, request: GenerationRequest, *, custom_endpoint: bool) -> dict[str, Any]:
        """The JSON body of ``POST /chat/completions`` for ``request``."""
        system = request.system_prompt
        json_only = request.json_mode and request.json_schema is None
        if json_only and "json" not in f"{system or ''} {request.prompt}".lower():
            # json_object mode is refused unless the messages ask for JSON.
            system = f"{system}\n\n{_JSON_INSTRUCTION}" if system else _JSON_INSTRUCTION
        messages: list[dict[str, str]] = []
        if system:
            messages.append({"role": "system", "content": system})
        messages.append({"role": "user", "content": request.prompt})
        body: dict[str, Any] = {"model": request.model, "messages": messages}
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.max_tokens is not None:
            # OpenAI deprecated max_tokens (reasoning models refuse it); compatible servers
            # mostly know only max_tokens.
            body["max_tokens" if custom_endpoint else "max_completion_tokens"] = request.max_tokens
        if request.json_schema is not None:
            schema, _ = object_schema(request.json_schema)
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "answer", "schema": schema, "strict": False},
            }
        elif request.json_mode:
            body["response_format"] = {"type": "json_object"}
        return body

    async def generate(
        self, http: httpx.AsyncClient, request: GenerationRequest, *, custom_endpoint: bool
    ) -> GenerationResponse:
        body = self.request_body(request, custom_endpoint=custom_endpoint)
        response = await e.send(
            http, "POST", "/chat/completions", json=body, timeout=GENERATION_TIMEOUT
        )
        if response.is_error:
            raise self.error(response, request.model)
        return self.parse(e.json_object(self.name, response), request)

    def parse(self, body: dict[str, Any], request: GenerationRequest) -> GenerationResponse:
        """The answer of a successful completion."""
        choices = body.get("choices")
        if not isinstance(choices, list) or not choices or not isinstance(choices[0], dict):
            raise e.unexpected(self.name, "no choices")
        choice = choices[0]
        message = choice.get("message") or {}
        finish = choice.get("finish_reason")
        if message.get("refusal"):
            raise e.content_policy(self.name, f"the model refused: {message['refusal']}")
        if finish == "content_filter":
            raise e.content_policy(self.name, "the answer was stopped by the content filter")
        text = message.get("content") or ""
        if request.json_schema is not None:
            _, wrapped = object_schema(request.json_schema)
            text = _unwrap_text(text, wrapped)
        usage = body.get("usage") or {}
        return GenerationResponse(
            text=text,
            model=str(body.get("model") or request.model),
            input_tokens=int(usage.get("prompt_tokens") or 0),
            output_tokens=int(usage.get("completion_tokens") or 0),
            truncated=finish == "length",
            raw=body,
        )

    def error(self, response: httpx.Response, model: str) -> StepError:
        """The step error for an error answer."""
        error = e.error_body(response)
        code = error.get("code")
        kind = error.get("type")
        status = response.status_code
        message = e.vendor_message(response)
        if status == 429 and "insufficient_quota" in (code, kind):
            return e.quota_exceeded(self.name, response)
        if code == "context_length_exceeded":
            return e.context_length(self.name, message)
        if code in ("content_policy_violation", "content_filter"):
            return e.content_policy(self.name, message)
        if status == 404 or code == "model_not_found":
            return e.model_not_found(self.name, model, response)
        return e.generic(self.name, response)

    async def list_models(self, http: httpx.AsyncClient) -> list[DropdownOption]:
        response = await e.send(http, "GET", "/models")
        if response.is_error:
            raise self.error(response, "")
        data = e.json_object(self.name, response).get("data") or []
        ids = sorted(
            str(m["id"])
            for m in data
            if isinstance(m, dict)
            and m.get("id")
            and not any(word in str(m["id"]) for word in _NOT_CHAT)
        )
        return [DropdownOption(i, i) for i in ids]


def _unwrap_text(text: str, wrapped: bool) -> str:
    if not wrapped:
        return text
    try:
        value = json.loads(text)
    except json.JSONDecodeError:
        return text  # reported by the JSON check, with the model's text
    return json.dumps(unwrap(value, wrapped), ensure_ascii=False)
