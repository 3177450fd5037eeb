"""Google Gemini API (``POST /models/{model}:generateContent``, ``GET /models``)."""

from __future__ import annotations

import re
from typing import Any, ClassVar
from urllib.parse import quote

import httpx

from docg_core.apps import DropdownOption
from docg_core.errors import StepError

from . import _errors as e
from ._base import GENERATION_TIMEOUT, GenerationRequest, GenerationResponse

# Finish and block reasons that mean the answer or the prompt was withheld.
_BLOCKED = {
    "SAFETY",
    "RECITATION",
    "BLOCKLIST",
    "PROHIBITED_CONTENT",
    "SPII",
    "IMAGE_SAFETY",
}
_TOO_LONG = re.compile(r"exceeds the maximum number of tokens|input token count", re.IGNORECASE)


def model_path(model: str) -> str:
    """``/models/<model>:generateContent`` for a model id with or without ``models/``."""
    name = model.removeprefix("models/")
    return f"/models/{quote(name, safe='-._')}:generateContent"


class GeminiProvider:
    """Google's Gemini models (Google AI Studio API keys)."""

    key: ClassVar[str] = "gemini"
    name: ClassVar[str] = "Google Gemini"
    default_base_url: ClassVar[str] = "https://generativelanguage.googleapis.com/v1beta"

    def auth_headers(self, api_key: str) -> dict[str, str]:
        return {"x-goog-api-key": api_key}

    def request_body(self, request: GenerationRequest) -> dict[str, Any]:
        """The JSON body of ``generateContent`` for ``request``."""
        body: dict[str, Any] = {
            "contents": [{"role": "user", "parts": [{"text": request.prompt}]}],
        }
        if request.system_prompt:
            body["systemInstruction"] = {"parts": [{"text": request.system_prompt}]}
        config: dict[str, Any] = {}
        if request.temperature is not None:
            config["temperature"] = request.temperature
        if request.max_tokens is not None:
            config["maxOutputTokens"] = request.max_tokens
        if request.json_mode:
            config["responseMimeType"] = "application/json"
        if request.json_schema is not None:
            # responseJsonSchema takes JSON Schema as given; responseSchema only an
            # OpenAPI subset.
            config["responseJsonSchema"] = dict(request.json_schema)
        if config:
            body["generationConfig"] = config
        return body

    async def generate(
        self, http: httpx.AsyncClient, request: GenerationRequest, *, custom_endpoint: bool
    ) -> GenerationResponse:
        response = await e.send(
            http,
            "POST",
            model_path(request.model),
            json=self.request_body(request),
            timeout=GENERATION_TIMEOUT,
        )
        if response.is_error:
            raise self.error(response, request.model)
        return self.parse(e.json_object(self.name, response), request)

    def parse(self, body: dict[str, Any], request: GenerationRequest) -> GenerationResponse:
        """The answer of a successful ``generateContent``."""
        blocked = (body.get("promptFeedback") or {}).get("blockReason")
        if blocked:
            raise e.content_policy(self.name, f"the prompt was blocked: {blocked}")
        candidates = body.get("candidates")
        if not isinstance(candidates, list) or not candidates:
            raise e.unexpected(self.name, "no candidates")
        candidate = candidates[0]
        finish = candidate.get("finishReason")
        if finish in _BLOCKED:
            raise e.content_policy(self.name, f"the answer was withheld: {finish}")
        parts = (candidate.get("content") or {}).get("parts") or []
        text = "".join(
            str(p.get("text", "")) for p in parts if isinstance(p, dict) and not p.get("thought")
        )
        usage = body.get("usageMetadata") or {}
        output = int(usage.get("candidatesTokenCount") or 0)
        output += int(usage.get("thoughtsTokenCount") or 0)  # billed as output
        return GenerationResponse(
            text=text,
            model=str(body.get("modelVersion") or request.model.removeprefix("models/")),
            input_tokens=int(usage.get("promptTokenCount") or 0),
            output_tokens=output,
            truncated=finish == "MAX_TOKENS",
            raw=body,
        )

    def error(self, response: httpx.Response, model: str) -> StepError:
        """The step error for a Google error answer (``{"error": {code, message, status}}``)."""
        error = e.error_body(response)
        status = response.status_code
        message = e.vendor_message(response)
        reasons = {
            str(d.get("reason"))
            for d in error.get("details") or []
            if isinstance(d, dict) and d.get("reason")
        }
        if "API_KEY_INVALID" in reasons or status in (401, 403):
            return e.api_key_rejected(self.name, response)
        if status == 400 and _TOO_LONG.search(message):
            return e.context_length(self.name, message)
        if status == 404:
            return e.model_not_found(self.name, model, response)
        if status == 503:
            return e.overloaded(self.name, response)
        return e.generic(self.name, response)

    async def list_models(self, http: httpx.AsyncClient) -> list[DropdownOption]:
        options: list[DropdownOption] = []
        params: dict[str, str | int] = {"pageSize": 1000}
        while True:
            response = await e.send(http, "GET", "/models", params=params)
            if response.is_error:
                raise self.error(response, "")
            page = e.json_object(self.name, response)
            for model in page.get("models") or []:
                if not isinstance(model, dict) or not model.get("name"):
                    continue
                if "generateContent" not in (model.get("supportedGenerationMethods") or []):
                    continue
                value = str(model["name"]).removeprefix("models/")
                options.append(DropdownOption(value, model.get("displayName") or value))
            token = page.get("nextPageToken")
            if not token:
                return options
            params = {"pageSize": 1000, "pageToken": token}
