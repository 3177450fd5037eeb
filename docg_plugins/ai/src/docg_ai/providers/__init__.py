"""The model vendors, one module each behind :class:`~docg_ai.providers._base.Provider`."""

from __future__ import annotations

from docg_core.errors import StepError

from ._base import GenerationRequest, GenerationResponse, Provider
from .anthropic import AnthropicProvider
from .gemini import GeminiProvider
from .openai import OpenAIProvider

__all__ = [
    "PROVIDERS",
    "AnthropicProvider",
    "GeminiProvider",
    "GenerationRequest",
    "GenerationResponse",
    "OpenAIProvider",
    "Provider",
    "get_provider",
]

PROVIDERS: dict[str, Provider] = {
    p.key: p for p in (OpenAIProvider(), AnthropicProvider(), GeminiProvider())
}


def get_provider(key: object) -> Provider:
    """The provider named ``key``; a step error listing the choices otherwise."""
    provider = PROVIDERS.get(str(key or "").strip().lower())
    if provider is None:
        choices = ", ".join(PROVIDERS)
        raise StepError(
            f"The connection's provider {key!r} is not one of {choices}; edit the connection.",
            code="invalid-connection",
        )
    return provider
