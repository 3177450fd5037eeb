"""The maintained list of models and their prices (USD per million tokens).

Used when a provider's models endpoint cannot be read, and to turn token usage into a cost.
Prices are the vendors' published standard (non-batch, non-cached) rates as of
:data:`PRICES_AS_OF`; a model missing here has no cost (``cost_usd`` is null).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["MODELS", "PRICES", "PRICES_AS_OF", "Price", "cost_usd", "price_for"]

PRICES_AS_OF = "2025-09"


@dataclass(frozen=True)
class Price:
    """USD per million input and output tokens."""

    input: float
    output: float


PRICES: dict[str, dict[str, Price]] = {
    "openai": {
        "gpt-5": Price(1.25, 10.00),
        "gpt-5-mini": Price(0.25, 2.00),
        "gpt-5-nano": Price(0.05, 0.40),
        "gpt-4.1": Price(2.00, 8.00),
        "gpt-4.1-mini": Price(0.40, 1.60),
        "gpt-4.1-nano": Price(0.10, 0.40),
        "gpt-4o": Price(2.50, 10.00),
        "gpt-4o-mini": Price(0.15, 0.60),
        "o3": Price(2.00, 8.00),
        "o4-mini": Price(1.10, 4.40),
        "gpt-4-turbo": Price(10.00, 30.00),
        "gpt-4": Price(30.00, 60.00),
        "gpt-3.5-turbo": Price(0.50, 1.50),
    },
    "anthropic": {
        "claude-opus-4-1": Price(15.00, 75.00),
        "claude-opus-4": Price(15.00, 75.00),
        "claude-sonnet-4-5": Price(3.00, 15.00),
        "claude-sonnet-4": Price(3.00, 15.00),
        "claude-3-7-sonnet": Price(3.00, 15.00),
        "claude-3-5-sonnet": Price(3.00, 15.00),
        "claude-haiku-4-5": Price(1.00, 5.00),
        "claude-3-5-haiku": Price(0.80, 4.00),
        "claude-3-opus": Price(15.00, 75.00),
        "claude-3-sonnet": Price(3.00, 15.00),
        "claude-3-haiku": Price(0.25, 1.25),
    },
    "gemini": {
        "gemini-2.5-pro": Price(1.25, 10.00),
        "gemini-2.5-flash": Price(0.30, 2.50),
        "gemini-2.5-flash-lite": Price(0.10, 0.40),
        "gemini-2.0-flash": Price(0.10, 0.40),
        "gemini-2.0-flash-lite": Price(0.075, 0.30),
        "gemini-1.5-pro": Price(1.25, 5.00),
        "gemini-1.5-flash": Price(0.075, 0.30),
    },
}

# The dropdown when the models endpoint cannot be read: current models first.
MODELS: dict[str, tuple[str, ...]] = {
    "openai": (
        "gpt-5",
        "gpt-5-mini",
        "gpt-5-nano",
        "gpt-4.1",
        "gpt-4.1-mini",
        "gpt-4o",
        "gpt-4o-mini",
        "o4-mini",
    ),
    "anthropic": (
        "claude-opus-4-1",
        "claude-sonnet-4-5",
        "claude-sonnet-4-0",
        "claude-haiku-4-5",
        "claude-3-5-haiku-latest",
    ),
    "gemini": (
        "gemini-2.5-pro",
        "gemini-2.5-flash",
        "gemini-2.5-flash-lite",
        "gemini-2.0-flash",
        "gemini-2.0-flash-lite",
    ),
}


def price_for(provider: str, model: str) -> Price | None:
    """The price of ``model``, matched by its longest listed prefix followed by ``-`` or
    nothing (``gpt-4o-2024-08-06`` is ``gpt-4o``; ``gpt-4.5`` is not ``gpt-4``)."""
    name = model.removeprefix("models/")
    best: str | None = None
    for listed in PRICES.get(provider, {}):
        if (name == listed or name.startswith(listed + "-")) and (
            best is None or len(listed) > len(best)
        ):
            best = listed
    return PRICES[provider][best] if best is not None else None


def cost_usd(provider: str, model: str, input_tokens: int, output_tokens: int) -> float | None:
    """What the tokens cost in USD (rounded to 1e-10), or None for an unlisted model."""
    price = price_for(provider, model)
    if price is None:
        return None
    return round((input_tokens * price.input + output_tokens * price.output) / 1_000_000, 10)
