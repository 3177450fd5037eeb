"""Fakes of the OpenAI, Anthropic and Google Gemini HTTP APIs, usable as an ``httpx`` transport.

One :class:`FakeAI` answers all three, routed by path (so a custom ``base_url`` works too),
with the documented request checks, response bodies and error shapes:

- OpenAI (``Authorization: Bearer <key>``): ``POST …/chat/completions`` (``messages``,
  ``temperature`` 0–2, ``max_completion_tokens`` or ``max_tokens``, ``response_format``
  ``json_object`` — refused unless a message mentions JSON — or ``json_schema`` with an
  object schema) and ``GET …/models`` (``{"object": "list", "data": [...]}``). Errors:
  ``{"error": {"message", "type", "param", "code"}}``.
- Anthropic (``x-api-key`` and ``anthropic-version`` headers): ``POST …/messages``
  (``max_tokens`` required, ``temperature`` 0–1, ``tools`` with an object ``input_schema`` and
  ``tool_choice`` ``{"type": "tool", "name"}``) and ``GET …/models`` (``limit``,
  ``after_id``; ``has_more``, ``last_id``). Errors: ``{"type": "error", "error": {"type",
  "message"}}``.
- Gemini (``x-goog-api-key``): ``POST …/models/{model}:generateContent`` (``contents``,
  ``systemInstruction``, ``generationConfig`` with ``responseMimeType``,
  ``responseJsonSchema`` or ``responseSchema``) and ``GET …/models`` (``pageSize``,
  ``pageToken``; ``nextPageToken``). Errors: ``{"error": {"code", "message", "status",
  "details"}}``.

Answers are deterministic: the text is ``replies[prompt]`` when set, else
``"[<model>] <prompt>"``; in JSON mode (no reply set) an instance built from the schema
(strings ``"example"``, numbers 1, booleans true, first enum value, one array item), or
``{"answer": "[<model>] <prompt>"}`` without a schema. Usage counts words: input = system
prompt + prompt, output = the answer; a max-tokens limit smaller than the answer cuts it
(``length`` / ``max_tokens`` / ``MAX_TOKENS``). Unknown models answer 404; a wrong key the
vendor's auth error (OpenAI 401 ``invalid_api_key``, Anthropic 401 ``authentication_error``,
Gemini 400 ``API_KEY_INVALID``).

Test controls:

- ``fake = FakeAI(api_keys=None, replies=None, models=None, page_size=None, retry_after=7)``;
  ``api_keys`` maps provider → accepted key (default :data:`API_KEYS`); ``models`` maps
  provider → model ids (default :data:`MODELS`); ``page_size`` caps model-list pages.
- ``fake.transport`` is an ``httpx.MockTransport``; ``fake.requests`` records every
  :class:`Call` (provider, method, path, headers, json, params); ``fake.generations(provider)``
  only the generation calls.
- Failures, each answered in the provider's documented shape: ``"rate-limit"`` (429; a
  ``retry-after`` header for OpenAI and Anthropic, a ``RetryInfo`` ``retryDelay`` for Gemini),
  ``"overloaded"`` (Anthropic 529 ``overloaded_error``, others 503), ``"server-error"``
  (500), ``"timeout"`` (raises ``httpx.ReadTimeout``), ``"context-length"`` (400),
  ``"content-policy"`` (OpenAI ``finish_reason: content_filter``, Anthropic ``stop_reason:
  refusal``, Gemini ``promptFeedback.blockReason: SAFETY``), ``"blocked-answer"`` (OpenAI
  ``message.refusal``, Anthropic refusal, Gemini ``finishReason: SAFETY``), ``"invalid-key"``,
  ``"quota"`` (OpenAI 429 ``insufficient_quota``, Anthropic 402 ``billing_error``, Gemini 429)
  and ``"not-found"`` (404 model). Trigger one with ``fake.fail_next(error, times=1,
  provider=None, endpoint="generate")`` (``endpoint="models"`` for the models list) or by
  putting ``[fail:<error>]`` in a prompt (every request with it fails).
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import httpx

__all__ = ["API_KEYS", "ERRORS", "MODELS", "Call", "FakeAI"]

API_KEYS = {
    "openai": "sk-test-openai-0123456789abcdef",
    "anthropic": "sk-ant-test-0123456789abcdef",
    "gemini": "AIzaTest0123456789abcdef",
}
MODELS: dict[str, tuple[str, ...]] = {
    "openai": ("gpt-4o", "gpt-4o-mini", "gpt-4.1-mini", "text-embedding-3-small", "whisper-1"),
    "anthropic": ("claude-sonnet-4-5-20250929", "claude-3-5-haiku-20241022"),
    "gemini": ("gemini-2.5-flash", "gemini-2.0-flash", "text-embedding-004"),
}
# OpenAI answers with the dated snapshot an alias points to.
SNAPSHOTS = {"gpt-4o": "gpt-4o-2024-08-06", "gpt-4o-mini": "gpt-4o-mini-2024-07-18"}
ERRORS = (
    "rate-limit",
    "overloaded",
    "server-error",
    "timeout",
    "context-length",
    "content-policy",
    "blocked-answer",
    "invalid-key",
    "quota",
    "not-found",
)
_MARKER = re.compile(r"\[fail:([a-z-]+)\]")
_GEMINI_GENERATE = re.compile(r"/models/([^/:]+):generateContent$")


@dataclass
class Call:
    """One request received."""

    provider: str
    method: str
    path: str
    headers: dict[str, str]
    json: Any
    params: dict[str, str] = field(default_factory=dict)

    @property
    def endpoint(self) -> str:
        return "models" if self.method == "GET" else "generate"


@dataclass
class _Failure:
    error: str
    times: int
    provider: str | None
    endpoint: str


class FakeAI:
    """The three providers' APIs in one callable for ``httpx.MockTransport``."""

    def __init__(
        self,
        *,
        api_keys: Mapping[str, str] | None = None,
        replies: Mapping[str, str] | None = None,
        models: Mapping[str, Sequence[str]] | None = None,
        page_size: int | None = None,
        retry_after: float = 7,
    ) -> None:
        self.api_keys = dict(API_KEYS if api_keys is None else api_keys)
        self.replies = dict(replies or {})
        self.models = {k: tuple(v) for k, v in (models or MODELS).items()}
        self.page_size = page_size
        self.retry_after = retry_after
        self.requests: list[Call] = []
        self._failures: list[_Failure] = []
        self._ids = 0

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self)

    def generations(self, provider: str | None = None) -> list[Call]:
        """The generation requests received (of ``provider`` if given)."""
        return [
            c
            for c in self.requests
            if c.endpoint == "generate" and (provider is None or c.provider == provider)
        ]

    def fail_next(
        self,
        error: str,
        *,
        times: int = 1,
        provider: str | None = None,
        endpoint: str = "generate",
    ) -> None:
        """Answer the next ``times`` matching requests with ``error`` (one of :data:`ERRORS`)."""
        if error not in ERRORS:
            raise ValueError(f"unknown error {error!r}; one of {', '.join(ERRORS)}")
        self._failures.append(_Failure(error, times, provider, endpoint))

    # -- routing ----------------------------------------------------------------------------

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        provider = self._provider(request)
        body: Any = None
        if request.content:
            try:
                body = json.loads(request.content)
            except json.JSONDecodeError:
                body = None
        call = Call(
            provider,
            request.method,
            path,
            {k.lower(): v for k, v in request.headers.items()},
            body,
            dict(request.url.params),
        )
        self.requests.append(call)
        api = {"openai": _OpenAI, "anthropic": _Anthropic, "gemini": _Gemini}[provider](self)
        denied = api.check_auth(call)
        if denied is not None:
            return denied
        failure = self._failure_for(call)
        if failure == "timeout":
            raise httpx.ReadTimeout("the fake provider did not answer in time", request=request)
        if call.endpoint == "models" and request.method == "GET":
            if failure is not None:
                return api.error(failure, call)
            return api.list_models(call)
        if request.method != "POST" or not isinstance(body, dict):
            return api.bad_request("the request body must be a JSON object")
        return api.generate(call, failure)

    def _provider(self, request: httpx.Request) -> str:
        path = request.url.path
        if path.endswith("/chat/completions"):
            return "openai"
        if path.endswith("/messages"):
            return "anthropic"
        if _GEMINI_GENERATE.search(path):
            return "gemini"
        if "x-goog-api-key" in request.headers or "generativelanguage" in request.url.host:
            return "gemini"
        if "anthropic-version" in request.headers or "x-api-key" in request.headers:
            return "anthropic"
        return "openai"

    def _failure_for(self, call: Call) -> str | None:
        for failure in self._failures:
            if (
                failure.times > 0
                and failure.endpoint == call.endpoint
                and failure.provider in (None, call.provider)
            ):
                failure.times -= 1
                return failure.error
        marker = _MARKER.search(json.dumps(call.json)) if call.json is not None else None
        if marker and marker.group(1) in ERRORS:
            return marker.group(1)
        return None

    # -- shared answer helpers --------------------------------------------------------------

    def next_id(self, prefix: str) -> str:
        self._ids += 1
        return f"{prefix}{self._ids:06d}"

    def known_model(self, provider: str, model: str) -> str | None:
        """The listed id ``model`` names (itself, or an alias of a dated id)."""
        for listed in self.models.get(provider, ()):
            if listed == model or listed.startswith(model + "-"):
                return listed
        return None

    def text_for(self, model: str, prompt: str) -> str:
        return self.replies.get(prompt, f"[{model}] {prompt}")

    def json_for(self, model: str, prompt: str, schema: Any) -> str:
        if prompt in self.replies:
            return self.replies[prompt]
        if isinstance(schema, dict):
            return json.dumps(example(schema), ensure_ascii=False)
        return json.dumps({"answer": f"[{model}] {prompt}"}, ensure_ascii=False)


def example(schema: Mapping[str, Any]) -> Any:
    """A deterministic instance of a (simple) JSON Schema."""
    if "const" in schema:
        return schema["const"]
    if schema.get("enum"):
        return schema["enum"][0]
    kind = schema.get("type")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "null")
    kind = str(kind).lower() if kind is not None else None
    if kind == "object" or "properties" in schema:
        return {name: example(sub) for name, sub in (schema.get("properties") or {}).items()}
    if kind == "array":
        items = schema.get("items")
        return [example(items)] if isinstance(items, dict) else []
    if kind in ("number", "integer"):
        return 1
    if kind == "boolean":
        return True
    if kind == "null":
        return None
    return "example"


def words(*texts: str | None) -> int:
    return sum(len((t or "").split()) for t in texts)


def cut(text: str, limit: int | None) -> tuple[str, bool]:
    """``text`` limited to ``limit`` words, and whether it was cut."""
    parts = text.split()
    if limit is None or len(parts) <= limit:
        return text, False
    return " ".join(parts[:limit]), True


# --------------------------------------------------------------------------------- OpenAI


class _OpenAI:
    def __init__(self, fake: FakeAI) -> None:
        self.fake = fake

    def _error(
        self,
        status: int,
        message: str,
        kind: str,
        code: str | None,
        param: str | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> httpx.Response:
        return httpx.Response(
            status,
            json={"error": {"message": message, "type": kind, "param": param, "code": code}},
            headers=headers,
        )

    def bad_request(self, message: str, param: str | None = None) -> httpx.Response:
        return self._error(400, message, "invalid_request_error", None, param)

    def check_auth(self, call: Call) -> httpx.Response | None:
        header = call.headers.get("authorization", "")
        if not header.startswith("Bearer "):
            return self._error(
                401,
                "You didn't provide an API key. You need to provide your API key in an "
                "Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                "invalid_request_error",
                None,
            )
        key = header.removeprefix("Bearer ")
        if key != self.fake.api_keys.get("openai"):
            return self.invalid_key(key)
        return None

    def invalid_key(self, key: str) -> httpx.Response:
        shown = f"{key[:4]}{'*' * 8}{key[-4:]}" if len(key) > 8 else "****"
        return self._error(
            401,
            f"Incorrect API key provided: {shown}. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "invalid_request_error",
            "invalid_api_key",
        )

    def error(self, error: str, call: Call) -> httpx.Response:
        model = (call.json or {}).get("model", "")
        retry = {"retry-after": f"{self.fake.retry_after:g}"}
        if error == "rate-limit":
            return self._error(
                429,
                f"Rate limit reached for {model} in organization org-fake on requests per min "
                f"(RPM): Limit 3, Used 3, Requested 1. Please try again in "
                f"{self.fake.retry_after:g}s.",
                "requests",
                "rate_limit_exceeded",
                headers=retry,
            )
        if error == "quota":
            return self._error(
                429,
                "You exceeded your current quota, please check your plan and billing details.",
                "insufficient_quota",
                "insufficient_quota",
            )
        if error == "overloaded":
            return self._error(
                503,
                "The engine is currently overloaded, please try again later.",
                "server_error",
                None,
            )
        if error == "server-error":
            return self._error(
                500,
                "The server had an error while processing your request. Sorry about that!",
                "server_error",
                None,
            )
        if error == "context-length":
            return self._error(
                400,
                "This model's maximum context length is 128000 tokens. However, your messages "
                "resulted in 131072 tokens. Please reduce the length of the messages.",
                "invalid_request_error",
                "context_length_exceeded",
                "messages",
            )
        if error == "invalid-key":
            return self.invalid_key("sk-wrong-key-000000")
        return self.not_found(model)

    def not_found(self, model: str) -> httpx.Response:
        return self._error(
            404,
            f"The model `{model}` does not exist or you do not have access to it.",
            "invalid_request_error",
            "model_not_found",
        )

    def list_models(self, call: Call) -> httpx.Response:
        data = [
            {"id": m, "object": "model", "created": 1715367049, "owned_by": "system"}
            for m in self.fake.models.get("openai", ())
        ]
        return httpx.Response(200, json={"object": "list", "data": data})

    def generate(self, call: Call, failure: str | None) -> httpx.Response:
        body = call.json
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self.bad_request("[] is too short - 'messages'", "messages")
        if failure not in (None, "content-policy", "blocked-answer"):
            return self.error(failure, call)
        model = str(body.get("model") or "")
        if self.fake.known_model("openai", model) is None:
            return self.not_found(model)
        temperature = body.get("temperature", 1)
        if not 0 <= temperature <= 2:
            return self.bad_request(
                f"Invalid 'temperature': decimal above maximum value. Expected a value <= 2, "
                f"but got {temperature} instead.",
                "temperature",
            )
        if "max_tokens" in body and "max_completion_tokens" in body:
            return self.bad_request(
                "max_tokens and max_completion_tokens cannot both be set", "max_tokens"
            )
        system = " ".join(str(m.get("content", "")) for m in messages if m.get("role") != "user")
        prompt = " ".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
        response_format = body.get("response_format") or {"type": "text"}
        kind = response_format.get("type")
        schema = None
        if kind == "json_object" and "json" not in f"{system} {prompt}".lower():
            return self.bad_request(
                "'messages' must contain the word 'json' in some form, to use "
                "'response_format' of type 'json_object'.",
                "messages",
            )
        if kind == "json_schema":
            spec = response_format.get("json_schema") or {}
            schema = spec.get("schema")
            if not spec.get("name") or not isinstance(schema, dict):
                return self.bad_request(
                    "Missing required parameter: 'response_format.json_schema.name'.",
                    "response_format.json_schema",
                )
            if schema.get("type") != "object":
                return self.bad_request(
                    f"Invalid schema for response_format '{spec['name']}': schema must be a "
                    f"JSON Schema of 'type: \"object\"', got 'type: \"{schema.get('type')}\"'.",
                    "response_format",
                )
        if kind in ("json_object", "json_schema"):
            text = self.fake.json_for(model, prompt, schema)
        else:
            text = self.fake.text_for(model, prompt)
        limit = body.get("max_completion_tokens", body.get("max_tokens"))
        text, truncated = cut(text, limit)
        finish = "length" if truncated else "stop"
        message: dict[str, Any] = {
            "role": "assistant",
            "content": text,
            "refusal": None,
            "annotations": [],
        }
        if failure == "content-policy":
            message["content"], finish = None, "content_filter"
        elif failure == "blocked-answer":
            message["content"], message["refusal"] = None, "I'm sorry, I can't help with that."
        output = words(message["content"] or message["refusal"])
        return httpx.Response(
            200,
            json={
                "id": self.fake.next_id("chatcmpl-"),
                "object": "chat.completion",
                "created": 1735689600,
                "model": SNAPSHOTS.get(model, model),
                "choices": [
                    {"index": 0, "message": message, "logprobs": None, "finish_reason": finish}
                ],
                "usage": {
                    "prompt_tokens": words(system, prompt),
                    "completion_tokens": output,
                    "total_tokens": words(system, prompt) + output,
                },
                "system_fingerprint": "fp_fake",
            },
        )


# ------------------------------------------------------------------------------ Anthropic


class _Anthropic:
    def __init__(self, fake: FakeAI) -> None:
        self.fake = fake

    def _error(
        self, status: int, kind: str, message: str, headers: Mapping[str, str] | None = None
    ) -> httpx.Response:
        return httpx.Response(
            status,
            json={
                "type": "error",
                "error": {"type": kind, "message": message},
                "request_id": self.fake.next_id("req_"),
            },
            headers=headers,
        )

    def bad_request(self, message: str) -> httpx.Response:
        return self._error(400, "invalid_request_error", message)

    def check_auth(self, call: Call) -> httpx.Response | None:
        key = call.headers.get("x-api-key")
        if not key or key != self.fake.api_keys.get("anthropic"):
            return self._error(401, "authentication_error", "invalid x-api-key")
        if not call.headers.get("anthropic-version"):
            return self.bad_request("anthropic-version: header is required")
        return None

    def error(self, error: str, call: Call) -> httpx.Response:
        model = (call.json or {}).get("model", "")
        if error == "rate-limit":
            return self._error(
                429,
                "rate_limit_error",
                "This request would exceed the rate limit for your organization of 50 requests "
                "per minute. Please reduce the prompt length or the maximum tokens requested, "
                "or try again later.",
                {"retry-after": f"{self.fake.retry_after:g}"},
            )
        if error == "overloaded":
            return self._error(529, "overloaded_error", "Overloaded")
        if error == "server-error":
            return self._error(500, "api_error", "Internal server error")
        if error == "context-length":
            return self.bad_request("prompt is too long: 212345 tokens > 200000 maximum")
        if error == "invalid-key":
            return self._error(401, "authentication_error", "invalid x-api-key")
        if error == "quota":
            return self._error(
                402,
                "billing_error",
                "Your credit balance is too low to access the Anthropic API.",
            )
        return self._error(404, "not_found_error", f"model: {model}")

    def list_models(self, call: Call) -> httpx.Response:
        ids = list(self.fake.models.get("anthropic", ()))
        limit = int(call.params.get("limit", 20))
        if self.fake.page_size is not None:
            limit = min(limit, self.fake.page_size)
        start = ids.index(call.params["after_id"]) + 1 if call.params.get("after_id") else 0
        page = ids[start : start + limit]
        return httpx.Response(
            200,
            json={
                "data": [
                    {
                        "type": "model",
                        "id": m,
                        "display_name": m.replace("-", " ").title(),
                        "created_at": "2025-02-19T00:00:00Z",
                    }
                    for m in page
                ],
                "has_more": start + limit < len(ids),
                "first_id": page[0] if page else None,
                "last_id": page[-1] if page else None,
            },
        )

    def generate(self, call: Call, failure: str | None) -> httpx.Response:
        body = call.json
        if "max_tokens" not in body:
            return self.bad_request("max_tokens: Field required")
        messages = body.get("messages")
        if not isinstance(messages, list) or not messages:
            return self.bad_request("messages: at least one message is required")
        if failure not in (None, "content-policy", "blocked-answer"):
            return self.error(failure, call)
        requested = str(body.get("model") or "")
        model = self.fake.known_model("anthropic", requested)
        if model is None:
            return self._error(404, "not_found_error", f"model: {requested}")
        temperature = body.get("temperature", 1)
        if not 0 <= temperature <= 1:
            return self.bad_request("temperature: range: 0..1")
        system = body.get("system") if isinstance(body.get("system"), str) else None
        prompt = " ".join(str(m.get("content", "")) for m in messages if m.get("role") == "user")
        tools = {t.get("name"): t for t in body.get("tools") or []}
        for tool in tools.values():
            if (tool.get("input_schema") or {}).get("type") != "object":
                return self.bad_request(
                    "tools.0.custom.input_schema.type: Input should be 'object'"
                )
        choice = body.get("tool_choice") or {}
        usage_in = words(system, prompt)
        if failure in ("content-policy", "blocked-answer"):
            return self._message(model, [], "refusal", usage_in, 0)
        if choice.get("type") == "tool":
            tool = tools.get(choice.get("name"))
            if tool is None:
                return self.bad_request(
                    f"tool_choice: tool '{choice.get('name')}' not found in tools"
                )
            text = self.fake.json_for(model, prompt, tool["input_schema"])
            try:
                value = json.loads(text)
            except json.JSONDecodeError:
                value = None
            if isinstance(value, dict):
                block = {
                    "type": "tool_use",
                    "id": self.fake.next_id("toolu_"),
                    "name": tool["name"],
                    "input": value,
                }
                return self._message(model, [block], "tool_use", usage_in, words(text))
            return self._message(
                model, [{"type": "text", "text": text}], "end_turn", usage_in, words(text)
            )
        text, truncated = cut(self.fake.text_for(requested, prompt), body["max_tokens"])
        stop = "max_tokens" if truncated else "end_turn"
        return self._message(model, [{"type": "text", "text": text}], stop, usage_in, words(text))

    def _message(
        self, model: str, content: list[dict[str, Any]], stop: str, usage_in: int, usage_out: int
    ) -> httpx.Response:
        return httpx.Response(
            200,
            json={
                "id": self.fake.next_id("msg_"),
                "type": "message",
                "role": "assistant",
                "model": model,
                "content": content,
                "stop_reason": stop,
                "stop_sequence": None,
                "usage": {"input_tokens": usage_in, "output_tokens": usage_out},
            },
        )


# --------------------------------------------------------------------------------- Gemini


class _Gemini:
    def __init__(self, fake: FakeAI) -> None:
        self.fake = fake

    def _error(
        self,
        code: int,
        status: str,
        message: str,
        details: list[dict[str, Any]] | None = None,
    ) -> httpx.Response:
        error: dict[str, Any] = {"code": code, "message": message, "status": status}
        if details:
            error["details"] = details
        return httpx.Response(code, json={"error": error})

    def bad_request(self, message: str) -> httpx.Response:
        return self._error(400, "INVALID_ARGUMENT", message)

    def check_auth(self, call: Call) -> httpx.Response | None:
        key = call.headers.get("x-goog-api-key")
        if not key:
            return self._error(
                403,
                "PERMISSION_DENIED",
                "Method doesn't allow unregistered callers (callers without established "
                "identity). Please use API Key or other form of API consumer identity to call "
                "this API.",
            )
        if key != self.fake.api_keys.get("gemini"):
            return self.invalid_key()
        return None

    def invalid_key(self) -> httpx.Response:
        return self._error(
            400,
            "INVALID_ARGUMENT",
            "API key not valid. Please pass a valid API key.",
            [
                {
                    "@type": "type.googleapis.com/google.rpc.ErrorInfo",
                    "reason": "API_KEY_INVALID",
                    "domain": "googleapis.com",
                    "metadata": {"service": "generativelanguage.googleapis.com"},
                }
            ],
        )

    def error(self, error: str, call: Call) -> httpx.Response:
        if error in ("rate-limit", "quota"):
            return self._error(
                429,
                "RESOURCE_EXHAUSTED",
                "You exceeded your current quota, please check your plan and billing details. "
                f"Please retry in {self.fake.retry_after:g}s.",
                [
                    {
                        "@type": "type.googleapis.com/google.rpc.RetryInfo",
                        "retryDelay": f"{self.fake.retry_after:g}s",
                    }
                ],
            )
        if error == "overloaded":
            return self._error(
                503, "UNAVAILABLE", "The model is overloaded. Please try again later."
            )
        if error == "server-error":
            return self._error(
                500,
                "INTERNAL",
                "An internal error has occurred. Please retry or report in "
                "https://developers.generativeai.google/guide/troubleshooting",
            )
        if error == "context-length":
            return self.bad_request(
                "The input token count (1200000) exceeds the maximum number of tokens allowed "
                "(1048576)."
            )
        if error == "invalid-key":
            return self.invalid_key()
        match = _GEMINI_GENERATE.search(call.path)
        return self.not_found(match.group(1) if match else "")

    def not_found(self, model: str) -> httpx.Response:
        return self._error(
            404,
            "NOT_FOUND",
            f"models/{model} is not found for API version v1beta, or is not supported for "
            "generateContent. Call ListModels to see the list of available models and their "
            "supported methods.",
        )

    def list_models(self, call: Call) -> httpx.Response:
        ids = list(self.fake.models.get("gemini", ()))
        size = int(call.params.get("pageSize", 50))
        if self.fake.page_size is not None:
            size = min(size, self.fake.page_size)
        start = int(call.params.get("pageToken") or 0)
        page = ids[start : start + size]
        body: dict[str, Any] = {
            "models": [
                {
                    "name": f"models/{m}",
                    "version": "001",
                    "displayName": m.replace("-", " ").title(),
                    "description": f"The {m} model.",
                    "inputTokenLimit": 1048576,
                    "outputTokenLimit": 65536,
                    "supportedGenerationMethods": (
                        ["embedContent"] if "embedding" in m else ["generateContent", "countTokens"]
                    ),
                }
                for m in page
            ]
        }
        if start + size < len(ids):
            body["nextPageToken"] = str(start + size)
        return httpx.Response(200, json=body)

    def generate(self, call: Call, failure: str | None) -> httpx.Response:
        body = call.json
        match = _GEMINI_GENERATE.search(call.path)
        model = match.group(1) if match else ""
        contents = body.get("contents")
        if not isinstance(contents, list) or not contents:
            return self.bad_request("* GenerateContentRequest.contents: contents is not specified")
        if failure not in (None, "content-policy", "blocked-answer"):
            return self.error(failure, call)
        if self.fake.known_model("gemini", model) is None or "embedding" in model:
            return self.not_found(model)
        config = body.get("generationConfig") or {}
        temperature = config.get("temperature", 1)
        if not 0 <= temperature <= 2:
            return self.bad_request(
                "* GenerateContentRequest.generation_config.temperature: must be in [0, 2]"
            )
        system = " ".join(
            str(p.get("text", "")) for p in (body.get("systemInstruction") or {}).get("parts", [])
        )
        prompt = " ".join(
            str(p.get("text", ""))
            for c in contents
            if c.get("role", "user") == "user"
            for p in c.get("parts", [])
        )
        usage_in = words(system, prompt)
        if failure == "content-policy":
            return httpx.Response(
                200,
                json={
                    "promptFeedback": {
                        "blockReason": "SAFETY",
                        "safetyRatings": [
                            {"category": "HARM_CATEGORY_DANGEROUS_CONTENT", "probability": "HIGH"}
                        ],
                    },
                    "usageMetadata": {"promptTokenCount": usage_in, "totalTokenCount": usage_in},
                    "modelVersion": model,
                },
            )
        json_mode = config.get("responseMimeType") == "application/json"
        schema = config.get("responseJsonSchema", config.get("responseSchema"))
        if json_mode:
            text = self.fake.json_for(model, prompt, schema)
        else:
            text = self.fake.text_for(model, prompt)
        text, truncated = cut(text, config.get("maxOutputTokens"))
        candidate: dict[str, Any] = {
            "content": {"parts": [{"text": text}], "role": "model"},
            "finishReason": "MAX_TOKENS" if truncated else "STOP",
            "index": 0,
        }
        if failure == "blocked-answer":
            candidate = {"finishReason": "SAFETY", "index": 0}
            text = ""
        return httpx.Response(
            200,
            json={
                "candidates": [candidate],
                "usageMetadata": {
                    "promptTokenCount": usage_in,
                    "candidatesTokenCount": words(text),
                    "totalTokenCount": usage_in + words(text),
                },
                "modelVersion": model,
                "responseId": self.fake.next_id("resp-"),
            },
        )
