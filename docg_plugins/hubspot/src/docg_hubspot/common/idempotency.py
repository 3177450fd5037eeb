"""What a side-effecting step already did, kept in the flow's datastore by idempotency key.

A retried step (same ``ctx.step.idempotency_key``) finds what its first attempt created and
returns it instead of creating a second record, file or note.
"""

from __future__ import annotations

from typing import Any

from docg_core.context import ExecutionContext

__all__ = ["recall", "remember"]


def _key(ctx: ExecutionContext, what: str) -> str:
    return f"hubspot:{what}:{ctx.step.idempotency_key}"


async def recall(ctx: ExecutionContext, what: str) -> Any:
    """What this step recorded under ``what`` on an earlier attempt, or None."""
    return await ctx.datastore.get(_key(ctx, what))


async def remember(ctx: ExecutionContext, what: str, value: Any) -> None:
    """Record ``value`` (JSON-serialisable) for later attempts of this step."""
    await ctx.datastore.set(_key(ctx, what), value)
