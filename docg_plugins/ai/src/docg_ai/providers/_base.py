"""The small interface every provider implements, and the values that cross it."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, ClassVar, Protocol

import httpx

from docg_core.apps import DropdownOption

# Generation can take far longer than the 30 s default of ``ctx.http``.
GENERATION_TIMEOUT = httpx.Timeout(120.0, connect=10.0)


@dataclass(frozen=True)
class GenerationRequest:
    """One prompt to one model. ``json_mode`` asks for a JSON answer; ``json_schema`` (when
    set, implies ``json_mode``) is the JSON Schema the answer must match."""

    model: str
    prompt: str
    system_prompt: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    json_mode: bool = False
    json_schema: Mapping[str, Any] | None = None


@dataclass(frozen=True)
class GenerationResponse:
    """The model's answer: its ``text`` (JSON text in JSON mode), token usage and the raw body.

    ``truncated`` is true when the answer stopped at ``max_tokens``.
    """

    text: str
    model: str
    input_tokens: int
    output_tokens: int
    truncated: bool = False
    raw: Mapping[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "text": self.text,
            "model": self.model,
            "input_tokens": self.input_tokens,
            "output_tokens": self.output_tokens,
            "truncated": self.truncated,
            "raw": dict(self.raw),
        }

    @classmethod
    def from_dict(cls, value: Mapping[str, Any]) -> GenerationResponse:
        return cls(
            text=str(value["text"]),
            model=str(value["model"]),
            input_tokens=int(value["input_tokens"]),
            output_tokens=int(value["output_tokens"]),
            truncated=bool(value.get("truncated", False)),
            raw=dict(value.get("raw") or {}),
        )


class Provider(Protocol):
    """A model vendor's HTTP API, spoken through ``ctx.http`` (base URL and auth already set)."""

    key: ClassVar[str]
    name: ClassVar[str]
    default_base_url: ClassVar[str]

    def auth_headers(self, api_key: str) -> dict[str, str]:
        """The headers that authenticate a request with ``api_key``."""
        ...

    async def generate(
        self, http: httpx.AsyncClient, request: GenerationRequest, *, custom_endpoint: bool
    ) -> GenerationResponse:
        """Send ``request``; raise ``StepError``/``RetryableError`` for the vendor's errors.

        ``custom_endpoint`` is true when the connection points at a compatible server rather
        than the vendor's own API.
        """
        ...

    async def list_models(self, http: httpx.AsyncClient) -> list[DropdownOption]:
        """The models the API key can use for text generation."""
        ...
