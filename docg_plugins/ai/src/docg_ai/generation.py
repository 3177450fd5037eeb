"""One generation as both actions run it: cache lookup, provider call, JSON check, cost."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from docg_core.context import ExecutionContext
from docg_core.errors import RetryableError, StepError

from .auth import Connection
from .cache import cache_key, load_answer, store_answer
from .catalog import cost_usd
from .jsonout import parse_json_answer
from .providers import GenerationRequest, GenerationResponse

__all__ = ["Generation", "generate", "usage_metadata"]


@dataclass(frozen=True)
class Generation:
    """A checked answer: ``value`` is the parsed JSON in JSON mode, else the text."""

    request: GenerationRequest
    response: GenerationResponse
    value: Any
    cached: bool
    cost_usd: float | None


async def generate(
    ctx: ExecutionContext, connection: Connection, request: GenerationRequest, *, use_cache: bool
) -> Generation:
    """The answer to ``request``: from the cache when allowed and present, else from the
    provider (and then cached, once it passed the JSON check)."""
    key = cache_key(connection.provider.key, connection.base_url, request)
    answer = await load_answer(ctx, key) if use_cache else None
    cached = answer is not None
    if answer is None:
        try:
            answer = await connection.provider.generate(
                ctx.http, request, custom_endpoint=connection.custom
            )
        except RetryableError as exc:
            raise RetryableError(
                connection.scrub(exc.message), retry_after=exc.retry_after, code=exc.code
            ) from None
        except StepError as exc:
            raise StepError(connection.scrub(exc.message), code=exc.code) from None
    value: Any = answer.text
    if request.json_mode:
        value = parse_json_answer(
            answer.text, request.json_schema, truncated=answer.truncated, model=answer.model
        )
    if not cached and use_cache:
        await store_answer(ctx, key, answer)
    # What this step paid: nothing for a cached answer, unknown for an unlisted model.
    cost: float | None = 0.0 if cached else None
    if not cached and not connection.custom:
        cost = cost_usd(
            connection.provider.key, answer.model, answer.input_tokens, answer.output_tokens
        )
    return Generation(request, answer, value, cached, cost)


def usage_metadata(connection: Connection, generations: Sequence[Generation]) -> dict[str, Any]:
    """``{provider, model, usage, cost_usd, cached, truncated}`` summed over ``generations``.

    ``cost_usd`` is what was paid, null when a paid answer's model has no price; ``cached`` is
    true when every answer came from the cache; ``model`` lists distinct models by comma.
    """
    models = list(dict.fromkeys(g.response.model for g in generations))
    costs = [g.cost_usd for g in generations]
    total = None if not costs or any(c is None for c in costs) else sum(c for c in costs if c)
    return {
        "provider": connection.provider.key,
        "model": ", ".join(models),
        "usage": {
            "input_tokens": sum(g.response.input_tokens for g in generations),
            "output_tokens": sum(g.response.output_tokens for g in generations),
        },
        "cost_usd": round(total, 10) if total is not None else None,
        "cached": bool(generations) and all(g.cached for g in generations),
        "truncated": any(g.response.truncated for g in generations),
    }
