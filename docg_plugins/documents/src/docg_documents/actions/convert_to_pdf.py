"""``documents`` / ``convert-to-pdf``: any office document or HTML file to PDF."""

from __future__ import annotations

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction
from docg_core.context import ExecutionContext
from docg_core.errors import StepError

from ..common.files import file_reference, load_file, pdf_result


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
        from ..pdf import SUPPORTED_FORMATS, get_converter  # loaded when first needed

        if source.extension not in SUPPORTED_FORMATS:
            raise StepError(
                f"file: cannot convert {source.name!r} to PDF "
                f"(expected one of .{', .'.join(sorted(SUPPORTED_FORMATS))})"
            )
        converted = await get_converter().convert(
            source.data, input_format=source.extension, pdf_a=bool(p.get("pdf_a"))
        )
        name = str(p.get("output_name") or "document")
        data = await pdf_result(ctx, converted.pdf, converted.pages, name)
        data["source"] = source.source
        return ActionResult(raw=data, data=data)
