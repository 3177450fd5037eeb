"""``documents`` / ``generate-document``: a template filled with data, saved and/or as PDF."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction, DropdownOption
from docg_core.context import ExecutionContext
from docg_core.errors import StepError

from ..common.files import (
    LoadedFile,
    data_fingerprint,
    document_id,
    file_reference,
    load_file,
    require_storage,
    safe_file_name,
    store_output,
)
from ..common.images import fetch_images

if TYPE_CHECKING:
    from ..templating import RenderResult

TEMPLATE_KINDS = {
    "docx": "docx",
    "pptx": "pptx",
    "html": "html",
    "htm": "html",
    "md": "markdown",
    "markdown": "markdown",
}


class GenerateDocument(BaseAction):
    key = "generate-document"
    name = "Generate document"
    description = (
        "Fill a Word, PowerPoint, HTML or Markdown template with data and save it, "
        "optionally converted to PDF. A retried step returns its first result."
    )
    arguments = (
        ActionArgument(
            key="template",
            label="Template",
            type=ArgumentType.FILE,
            required=True,
            description=(
                "A storage key (an uploaded template), or a local file path when run "
                "embedded or from the CLI."
            ),
        ),
        ActionArgument(
            key="data",
            label="Data",
            type=ArgumentType.JSON,
            required=True,
            description="The template's variables, usually {{step.<id>}} or {{trigger}}.",
        ),
        ActionArgument(
            key="output_name",
            label="Output name",
            default="document",
            description="The download name, without extension; variables allowed.",
        ),
        ActionArgument(
            key="formats",
            label="Formats",
            type=ArgumentType.DROPDOWN,
            multiple=True,
            options=(
                DropdownOption("source", "The template's own format"),
                DropdownOption("docx", "Word (.docx)"),
                DropdownOption("pptx", "PowerPoint (.pptx)"),
                DropdownOption("html", "HTML"),
                DropdownOption("pdf", "PDF"),
            ),
            default=["source", "pdf"],
        ),
        ActionArgument(
            key="strict",
            label="Fail on missing variables",
            type=ArgumentType.BOOLEAN,
            default=False,
        ),
        ActionArgument(key="pdf_a", label="PDF/A", type=ArgumentType.BOOLEAN, default=False),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        p = ctx.step.parameters
        record_key = f"documents:{ctx.step.idempotency_key}"
        previous = await ctx.datastore.get(record_key)
        if previous is not None and await _outputs_exist(ctx, previous):
            return ActionResult(raw=previous, data=previous, metadata={"reused": True})

        data = p["data"]
        if not isinstance(data, Mapping):
            raise StepError(
                f"data: expected an object of template variables, got {type(data).__name__}"
            )
        formats = set(p.get("formats") or ["source", "pdf"])
        template = await load_file(ctx, file_reference(p["template"], "template"), "template")
        kind = TEMPLATE_KINDS.get(template.extension)
        if kind is None:
            raise StepError(
                f"template: unsupported template type {template.name!r} "
                f"(expected one of .{', .'.join(TEMPLATE_KINDS)})"
            )
        images = await fetch_images(ctx, data)
        rendered = await asyncio.to_thread(
            _render, kind, template, data, ctx.template_filters, bool(p.get("strict")), images
        )
        source_ext = "html" if kind in ("html", "markdown") else kind
        wrong = formats - {"source", "pdf", source_ext}
        if wrong:
            raise StepError(
                f"formats: a {source_ext} template cannot produce {', '.join(sorted(wrong))}; "
                f"choose from {source_ext} (or source) and pdf"
            )

        doc_id = document_id(ctx)
        name = str(p.get("output_name") or "document")
        result: dict[str, Any] = {
            "document_id": doc_id,
            "name": name,
            "file_key": None,
            "pdf_key": None,
            "url": None,
            "pages": None,
            "missing_variables": rendered.missing_variables,
            "sha256": None,
        }
        if formats & {"source", source_ext}:
            key, digest = await store_output(ctx, doc_id, source_ext, rendered.content)
            result.update(file_key=key, sha256=digest, file_name=safe_file_name(name, source_ext))
        if "pdf" in formats:
            from ..pdf import get_converter  # LibreOffice pool: loaded when first needed

            converted = await get_converter().convert(
                rendered.content, input_format=source_ext, pdf_a=bool(p.get("pdf_a"))
            )
            key, digest = await store_output(ctx, doc_id, "pdf", converted.pdf)
            result.update(
                pdf_key=key,
                sha256=digest,
                pages=converted.pages,
                pdf_name=safe_file_name(name, "pdf"),
            )
        main_key = result["pdf_key"] or result["file_key"]
        if main_key is None:
            raise StepError("formats: choose at least one of 'source' and 'pdf'")
        result["url"] = await require_storage(ctx).signed_url(main_key)
        result["lineage"] = {
            "template": template.source,
            "template_sha256": template.sha256,
            "data_sha256": data_fingerprint(data),
            "workflow_id": ctx.flow.id,
            "workflow_name": ctx.flow.name,
            "workflow_version": ctx.flow.version,
            "execution_id": ctx.execution.id,
            "node_id": ctx.step.id,
            "generated_at": datetime.now(UTC).isoformat(),
        }
        await ctx.datastore.set(record_key, result)
        metadata = {"missing_variables": len(rendered.missing_variables)}
        return ActionResult(raw=result, data=result, metadata=metadata)


def _render(
    kind: str,
    template: LoadedFile,
    data: Mapping[str, Any],
    filters: Mapping[str, Any],
    strict: bool,
    images: Mapping[str, bytes],
) -> RenderResult:
    # Template engines load on first render, so listing apps stays fast.
    from ..templating import render_docx, render_html, render_pptx

    if kind == "docx":
        return render_docx(template.data, data, filters=filters, strict=strict, images=images)
    if kind == "pptx":
        return render_pptx(template.data, data, filters=filters, strict=strict)
    text = template.data.decode("utf-8-sig")
    return render_html(
        text, data, filters=filters, strict=strict, markdown=kind == "markdown", images=images
    )


async def _outputs_exist(ctx: ExecutionContext, previous: Mapping[str, Any]) -> bool:
    keys = [previous.get("file_key"), previous.get("pdf_key")]
    for key in keys:
        if key and not await require_storage(ctx).exists(key):
            return False
    return any(keys)
