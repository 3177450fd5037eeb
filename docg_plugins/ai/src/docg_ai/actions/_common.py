"""Arguments shared by the actions, and turning their values into a request."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from docg_core.apps import ActionArgument, ArgumentType, DynamicData, RetryPolicy
from docg_core.errors import StepError

from ..providers import GenerationRequest

# Rate limits clear within a minute or so; the vendor's Retry-After overrides the backoff.
RETRY = RetryPolicy(attempts=4, backoff=2.0, multiplier=2.0, max_backoff=60.0)

MODEL = ActionArgument(
    key="model",
    label="Model",
    type=ArgumentType.DROPDOWN,
    required=True,
    source=DynamicData("models"),
    description="The model id, e.g. gpt-4o-mini, claude-sonnet-4-5, gemini-2.5-flash.",
)
SYSTEM_PROMPT = ActionArgument(
    key="system_prompt",
    label="System prompt",
    type=ArgumentType.MULTILINE,
    description="Instructions that frame every answer (tone, language, length).",
)
TEMPERATURE = ActionArgument(
    key="temperature",
    label="Temperature",
    type=ArgumentType.NUMBER,
    description="0 (focused) to 2 (varied; Anthropic accepts up to 1). Empty: the model's default.",
)
MAX_TOKENS = ActionArgument(
    key="max_tokens",
    label="Max tokens",
    type=ArgumentType.NUMBER,
    description="Upper bound of the answer's length in tokens. Empty: the provider's default "
    "(4096 for Anthropic, which requires one).",
)
CACHE = ActionArgument(
    key="cache",
    label="Reuse identical answers",
    type=ArgumentType.BOOLEAN,
    default=True,
    description="Answer an identical request (provider, model, prompts, parameters) from the "
    "flow's stored answers instead of paying for it again.",
)


def temperature_of(value: Any, where: str = "temperature") -> float | None:
    """A temperature between 0 and 2, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise StepError(f"{where}: expected a number, got {value!r}", code="invalid")
    if not 0 <= value <= 2:
        raise StepError(f"{where}: must be between 0 and 2, got {value}", code="invalid")
    return float(value)


def max_tokens_of(value: Any, where: str = "max_tokens") -> int | None:
    """A positive whole number of tokens, or None."""
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise StepError(f"{where}: expected a whole number, got {value!r}", code="invalid")
    if value < 1:
        raise StepError(f"{where}: must be at least 1, got {value}", code="invalid")
    return int(value)


def text_of(value: Any, where: str, *, required: bool = False) -> str | None:
    """A non-empty text, or None when empty and not required."""
    if value is None or (isinstance(value, str) and not value.strip()):
        if required:
            raise StepError(f"{where}: is empty; write the prompt", code="invalid")
        return None
    if not isinstance(value, str):
        raise StepError(f"{where}: expected text, got {type(value).__name__}", code="invalid")
    return value


def build_request(
    params: Mapping[str, Any],
    *,
    prompt: str,
    json_schema: Mapping[str, Any] | None = None,
    json_mode: bool = False,
    where: str = "",
) -> GenerationRequest:
    """A request from ``params`` (model, system_prompt, temperature, max_tokens)."""
    model = text_of(params.get("model"), f"{where}model", required=True)
    assert model is not None  # required=True
    return GenerationRequest(
        model=model.strip(),
        prompt=prompt,
        system_prompt=text_of(params.get("system_prompt"), f"{where}system_prompt"),
        temperature=temperature_of(params.get("temperature"), f"{where}temperature"),
        max_tokens=max_tokens_of(params.get("max_tokens"), f"{where}max_tokens"),
        json_mode=json_mode or json_schema is not None,
        json_schema=json_schema,
    )
