"""``documents`` / ``convert-to-pdf``: any office document or HTML file to PDF."""

from __future__ import annotations

import uuid

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction
from docg_core.context import ExecutionContext
from docg_core.errors import StepError

from ..common.files import (
    file_reference,
    load_file,
    require_storage,
    safe_file_name,
    store_output,
)
from ..pdf import SUPPORTED_FORMATS, get_converter
from .generate_document import NAMESPACE

CONVERTIBLE = sorted(SUPPORTED_FORMATS)


class ConvertToPdf(BaseAction):
    key = "convert-to-pdf"
    name = "Convert to PDF"
    description = "Convert a Word, PowerPoint, spreadsheet, HTML or text file to PDF."
    arguments = (
        ActionArgument(
            key="file",
            label="File",
            type=ArgumentType.FILE,
            required=True,
            description="A storage key, an earlier step's output, or a local path (CLI only).",
        ),
        ActionArgument(key="output_name", label="Output name", default="document"),
        ActionArgument(key="pdf_a", label="PDF/A", type=ArgumentType.BOOLEAN, default=False),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        p = ctx.step.parameters
        source = await load_file(ctx, file_reference(p["file"], "file"), "file")
        if source.extension not in CONVERTIBLE:
            raise StepError(
                f"file: cannot convert {source.name!r} to PDF "
                f"(expected one of .{', .'.join(CONVERTIBLE)})"
            )
        converted = await get_converter().convert(
            source.data, input_format=source.extension, pdf_a=bool(p.get("pdf_a"))
        )
        document_id = str(uuid.uuid5(NAMESPACE, ctx.step.idempotency_key))
        key, digest = await store_output(ctx, document_id, "pdf", converted.pdf)
        data = {
            "document_id": document_id,
            "pdf_key": key,
            "file_key": key,
            "pdf_name": safe_file_name(str(p.get("output_name") or "document"), "pdf"),
            "url": await require_storage(ctx).signed_url(key),
            "pages": converted.pages,
            "sha256": digest,
            "source": source.source,
        }
        return ActionResult(raw=data, data=data)
