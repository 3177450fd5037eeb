"""``ai`` / ``generate-text``: one prompt, one answer (text or JSON)."""

from __future__ import annotations

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction, DropdownOption
from docg_core.context import ExecutionContext

from ..auth import connection_of
from ..generation import generate, usage_metadata
from ..jsonout import check_schema
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


class GenerateText(BaseAction):
    key = "generate-text"
    name = "Generate text"
    description = (
        "Send a prompt to an OpenAI, Anthropic or Gemini model and return its answer as text, "
        "or as JSON checked against a JSON Schema. Identical requests are answered from the "
        "cache."
    )
    retry = RETRY
    arguments = (
        ActionArgument(
            key="prompt",
            label="Prompt",
            type=ArgumentType.MULTILINE,
            required=True,
            description="What to ask; {{variables}} are filled in first.",
        ),
        MODEL,
        SYSTEM_PROMPT,
        TEMPERATURE,
        MAX_TOKENS,
        ActionArgument(
            key="output",
            label="Output",
            type=ArgumentType.DROPDOWN,
            default="text",
            options=(DropdownOption("text", "Text"), DropdownOption("json", "JSON")),
            description="json returns the parsed answer as data.json.",
        ),
        ActionArgument(
            key="json_schema",
            label="JSON Schema",
            type=ArgumentType.JSON,
            description="The schema the JSON answer must match (implies JSON output).",
        ),
        CACHE,
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        p = ctx.step.parameters
        connection = connection_of(ctx.auth)
        schema = check_schema(p["json_schema"]) if p.get("json_schema") is not None else None
        prompt = text_of(p.get("prompt"), "prompt", required=True)
        assert prompt is not None  # required=True
        request = build_request(
            p, prompt=prompt, json_schema=schema, json_mode=p.get("output") == "json"
        )
        result = await generate(ctx, connection, request, use_cache=p.get("cache", True))
        data = {"json": result.value} if request.json_mode else {"text": result.value}
        return ActionResult(
            raw=dict(result.response.raw),
            data=data,
            metadata=usage_metadata(connection, [result]),
        )
