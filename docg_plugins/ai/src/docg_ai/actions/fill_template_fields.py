"""``ai`` / ``fill-template-fields``: template variables each written by a prompt.

The output ``data`` is ``{variable: text}``, ready for ``documents`` / ``generate-document``'s
``data``. Fields run concurrently (bounded); identical prompts are asked once.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Any

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction
from docg_core.context import ExecutionContext
from docg_core.errors import RetryableError, StepError

from ..auth import Connection, connection_of
from ..cache import cache_key
from ..generation import Generation, generate, usage_metadata
from ..providers import GenerationRequest
from ._common import (
    CACHE,
    MAX_TOKENS,
    MODEL,
    RETRY,
    SYSTEM_PROMPT,
    TEMPERATURE,
    build_request,
    text_of,
)

# A template variable: what {{ name }} can read in a Word, PowerPoint or HTML template.
_VARIABLE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_FIELD_OPTIONS = frozenset({"prompt", "model", "system_prompt", "temperature", "max_tokens"})
MAX_CONCURRENCY = 16


class FillTemplateFields(BaseAction):
    key = "fill-template-fields"
    name = "Fill template fields"
    description = (
        "Write template variables with AI: each variable has its own prompt; the answers are "
        "returned as {variable: text}, ready for documents/generate-document's data."
    )
    retry = RETRY
    arguments = (
        ActionArgument(
            key="fields",
            label="Fields",
            type=ArgumentType.JSON,
            required=True,
            description=(
                "{variable: prompt} or {variable: {prompt, model, system_prompt, temperature, "
                "max_tokens}}; a field's own options override the step's."
            ),
        ),
        MODEL,
        SYSTEM_PROMPT,
        TEMPERATURE,
        MAX_TOKENS,
        ActionArgument(
            key="concurrency",
            label="Concurrent requests",
            type=ArgumentType.NUMBER,
            default=4,
            description=f"How many fields are asked at once (1 to {MAX_CONCURRENCY}).",
        ),
        CACHE,
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        p = ctx.step.parameters
        connection = connection_of(ctx.auth)
        requests = field_requests(p)
        limit = _concurrency(p.get("concurrency"))
        use_cache = bool(p.get("cache", True))
        # Identical requests (same cache key) are asked once and shared.
        keys = {
            name: cache_key(connection.provider.key, connection.base_url, r)
            for name, r in requests.items()
        }
        distinct = {keys[name]: (f"fields.{name}", r) for name, r in requests.items()}
        answers = await _generate_all(ctx, connection, distinct, limit, use_cache)
        results = {name: answers[keys[name]] for name in requests}
        metadata = usage_metadata(connection, list(answers.values()))
        metadata["fields"] = {
            name: {
                "model": g.response.model,
                "usage": {
                    "input_tokens": g.response.input_tokens,
                    "output_tokens": g.response.output_tokens,
                },
                "cost_usd": g.cost_usd,
                "cached": g.cached,
                "truncated": g.response.truncated,
            }
            for name, g in results.items()
        }
        return ActionResult(
            raw={name: dict(g.response.raw) for name, g in results.items()},
            data={name: g.value for name, g in results.items()},
            metadata=metadata,
        )


def field_requests(params: Mapping[str, Any]) -> dict[str, GenerationRequest]:
    """One request per field of ``params["fields"]``, the step's options as defaults."""
    fields = params.get("fields")
    if not isinstance(fields, Mapping) or not fields:
        raise StepError(
            "fields: expected an object mapping each template variable to its prompt, e.g. "
            '{"clausula_pagamento": "Write the payment clause for ..."}',
            code="invalid",
        )
    requests: dict[str, GenerationRequest] = {}
    for name, spec in fields.items():
        where = f"fields.{name}"
        if not isinstance(name, str) or not _VARIABLE.match(name):
            raise StepError(
                f"{where}: {name!r} is not a template variable name (letters, digits and _, "
                "not starting with a digit)",
                code="invalid",
            )
        options: dict[str, Any]
        if isinstance(spec, str):
            options = {"prompt": spec}
        elif isinstance(spec, Mapping):
            unknown = sorted(set(spec) - _FIELD_OPTIONS)
            if unknown:
                raise StepError(
                    f"{where}: unknown option(s) {', '.join(unknown)} (allowed: "
                    f"{', '.join(sorted(_FIELD_OPTIONS))})",
                    code="invalid",
                )
            options = dict(spec)
        else:
            raise StepError(
                f"{where}: expected a prompt or an object with a prompt, got {type(spec).__name__}",
                code="invalid",
            )
        prompt = text_of(options.get("prompt"), f"{where}.prompt", required=True)
        assert prompt is not None  # required=True
        merged = {**params, **{k: v for k, v in options.items() if k != "prompt"}}
        requests[name] = build_request(merged, prompt=prompt, where=f"{where}: ")
    return requests


def _concurrency(value: Any) -> int:
    if value is None:
        return 4
    if isinstance(value, bool) or not isinstance(value, int | float) or value != int(value):
        raise StepError(f"concurrency: expected a whole number, got {value!r}", code="invalid")
    if not 1 <= value <= MAX_CONCURRENCY:
        raise StepError(
            f"concurrency: must be between 1 and {MAX_CONCURRENCY}, got {value}", code="invalid"
        )
    return int(value)


async def _generate_all(
    ctx: ExecutionContext,
    connection: Connection,
    requests: Mapping[str, tuple[str, GenerationRequest]],
    limit: int,
    use_cache: bool,
) -> dict[str, Generation]:
    """Every answer by key, at most ``limit`` at a time; each request comes with the label
    its errors start with. All requests run to the end even when one fails, so each answer
    received is cached and a retry pays only for the failed ones."""
    semaphore = asyncio.Semaphore(limit)

    async def one(label: str, request: GenerationRequest) -> Generation:
        async with semaphore:
            try:
                return await generate(ctx, connection, request, use_cache=use_cache)
            except RetryableError as exc:
                raise RetryableError(
                    f"{label}: {exc.message}", retry_after=exc.retry_after, code=exc.code
                ) from None
            except StepError as exc:
                raise StepError(f"{label}: {exc.message}", code=exc.code) from None

    keys = list(requests)
    outcomes = await asyncio.gather(*(one(*requests[k]) for k in keys), return_exceptions=True)
    answers: dict[str, Generation] = {}
    failures: list[BaseException] = []
    for key, outcome in zip(keys, outcomes, strict=True):
        if isinstance(outcome, BaseException):
            failures.append(outcome)
        else:
            answers[key] = outcome
    if failures:
        raise _combined(failures, answered=len(answers), total=len(keys))
    return answers


def _combined(failures: list[BaseException], *, answered: int, total: int) -> BaseException:
    """One error for the step: a permanent failure wins (retrying cannot help); otherwise a
    retryable one that waits as long as the longest Retry-After."""
    for failure in failures:
        if not isinstance(failure, StepError):
            return failure
    note = f" ({answered} of {total} fields answered"
    note += ", kept for the retry)" if answered else ")"
    permanent = [f for f in failures if isinstance(f, StepError) and not f.retryable]
    if permanent:
        first = permanent[0]
        assert isinstance(first, StepError)
        return StepError(first.message + note, code=first.code, details=first.details)
    retryable = [f for f in failures if isinstance(f, RetryableError)]
    waits = [f.retry_after for f in retryable if f.retry_after is not None]
    first_retryable = retryable[0]
    return RetryableError(
        first_retryable.message + note,
        retry_after=max(waits) if waits else None,
        code=first_retryable.code,
    )
