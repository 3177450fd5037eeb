"""Anthropic Messages API (``POST /messages``, ``GET /models``).

JSON answers use a forced tool call: the tool's ``input_schema`` is the requested schema and
its ``input`` is the answer.
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

API_VERSION = "2023-06-01"
# The Messages API requires max_tokens; used when the step sets none.
DEFAULT_MAX_TOKENS = 4096
ANSWER_TOOL = "answer"


class AnthropicProvider:
    """Anthropic's Claude models."""

    key: ClassVar[str] = "anthropic"
    name: ClassVar[str] = "Anthropic"
    default_base_url: ClassVar[str] = "https://api.anthropic.com/v1"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-api-key": api_key, "anthropic-version": API_VERSION}

    def request_body(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body of ``POST /messages`` for ``request``."""
        body: dict[str, Any] = {
            "model": request.model,
            "max_tokens": request.max_tokens or DEFAULT_MAX_TOKENS,
            "messages": [{"role": "user", "content": request.prompt}],
        }
        if request.system_prompt:
            body["system"] = request.system_prompt
        if request.temperature is not None:
            body["temperature"] = request.temperature
        if request.json_mode:
            schema, _ = object_schema(request.json_schema)
            body["tools"] = [
                {
                    "name": ANSWER_TOOL,
                    "description": "Give the answer as JSON matching the input schema.",
                    "input_schema": schema,
                }
            ]
            body["tool_choice"] = {"type": "tool", "name": ANSWER_TOOL}
        return body

    async def generate(
        self, http: httpx.AsyncClient, request: GenerationRequest, *, custom_endpoint: bool
    ) -> GenerationResponse:
        if request.temperature is not None and not 0 <= request.temperature <= 1:
            raise StepError(
                f"temperature: Anthropic accepts 0 to 1, got {request.temperature}",
                code="invalid",
            )
        response = await e.send(
            http, "POST", "/messages", json=self.request_body(request), timeout=GENERATION_TIMEOUT
        )
        if response.is_error:
            raise self.error(response, request.model)
        return self.parse(e.json_object(self.name, response), request)

    def parse(self, body: dict[str, Any], request: GenerationRequest) -> GenerationResponse:
        """The answer of a successful message."""
        stop = body.get("stop_reason")
        if stop == "refusal":
            raise e.content_policy(self.name, "the model refused to answer")
        blocks = body.get("content")
        if not isinstance(blocks, list):
            raise e.unexpected(self.name, "no content")
        text = "".join(
            str(b.get("text", ""))
            for b in blocks
            if isinstance(b, dict) and b.get("type") == "text"
        )
        if request.json_mode:
            tool = next(
                (
                    b
                    for b in blocks
                    if isinstance(b, dict)
                    and b.get("type") == "tool_use"
                    and b.get("name") == ANSWER_TOOL
                ),
                None,
            )
            if tool is not None:
                _, wrapped = object_schema(request.json_schema)
                text = json.dumps(unwrap(tool.get("input"), wrapped), ensure_ascii=False)
        usage = body.get("usage") or {}
        return GenerationResponse(
            text=text,
            model=str(body.get("model") or request.model),
            input_tokens=int(usage.get("input_tokens") or 0),
            output_tokens=int(usage.get("output_tokens") or 0),
            truncated=stop == "max_tokens",
            raw=body,
        )

    def error(self, response: httpx.Response, model: str) -> StepError:
        """The step error for an error answer (``{"type": "error", "error": {...}}``)."""
        kind = e.error_body(response).get("type")
        status = response.status_code
        message = e.vendor_message(response)
        if status in (401, 403) or kind in ("authentication_error", "permission_error"):
            return e.api_key_rejected(self.name, response)
        if status == 529 or kind == "overloaded_error":
            return e.overloaded(self.name, response)
        if status == 402 or kind == "billing_error":
            return e.quota_exceeded(self.name, response)
        if status == 400 and "prompt is too long" in message.lower():
            return e.context_length(self.name, message)
        if status == 404 or kind == "not_found_error":
            return e.model_not_found(self.name, model, response)
        return e.generic(self.name, response)

    async def list_models(self, http: httpx.AsyncClient) -> list[DropdownOption]:
        options: list[DropdownOption] = []
        params: dict[str, str | int] = {"limit": 1000}
        while True:
            response = await e.send(http, "GET", "/models", params=params)
            if response.is_error:
                raise self.error(response, "")
            page = e.json_object(self.name, response)
            for model in page.get("data") or []:
                if isinstance(model, dict) and model.get("id"):
                    options.append(
                        DropdownOption(model["id"], model.get("display_name") or model["id"])
                    )
            if not page.get("has_more") or not page.get("last_id"):
                return options
            params = {"limit": 1000, "after_id": page["last_id"]}
