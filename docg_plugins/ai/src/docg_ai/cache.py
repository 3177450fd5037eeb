"""Answers kept in ``ctx.datastore`` so the same request is never paid for twice.

The key is the SHA-256 of a canonical JSON of everything that shapes the answer: provider,
endpoint, model, prompt, system prompt and parameters.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from docg_core.context import ExecutionContext

from .providers import GenerationRequest, GenerationResponse

__all__ = ["cache_key", "load_answer", "store_answer"]

_PREFIX = "ai:answer:"
_VERSION = 1


def cache_key(provider: str, base_url: str, request: GenerationRequest) -> str:
    """The datastore key of ``request`` sent to ``provider`` at ``base_url``."""
    identity: dict[str, Any] = {
        "v": _VERSION,
        "provider": provider,
        "base_url": base_url,
        "model": request.model,
        "prompt": request.prompt,
        "system_prompt": request.system_prompt,
        "temperature": request.temperature,
        "max_tokens": request.max_tokens,
        "json_mode": request.json_mode,
        "json_schema": request.json_schema,
    }
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return _PREFIX + hashlib.sha256(canonical.encode("utf-8")).hexdigest()


async def load_answer(ctx: ExecutionContext, key: str) -> GenerationResponse | None:
    """The stored answer under ``key``, or None (also for an entry of an older format)."""
    stored = await ctx.datastore.get(key)
    if not isinstance(stored, dict) or stored.get("v") != _VERSION:
        return None
    try:
        return GenerationResponse.from_dict(stored["answer"])
    except (KeyError, TypeError, ValueError):
        return None


async def store_answer(ctx: ExecutionContext, key: str, answer: GenerationResponse) -> None:
    """Keep ``answer`` under ``key``."""
    await ctx.datastore.set(key, {"v": _VERSION, "answer": answer.to_dict()})
