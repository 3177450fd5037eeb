"""``documents`` / ``merge-pdfs``: several PDFs into one, in order."""

from __future__ import annotations

import asyncio
import io

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction
from docg_core.context import ExecutionContext
from docg_core.errors import StepError

from ..common.files import file_reference, load_file, pdf_result


class MergePdfs(BaseAction):
    key = "merge-pdfs"
    name = "Merge PDFs"
    description = "Join PDFs into one document, in the order given."
    arguments = (
        ActionArgument(
            key="files",
            label="PDFs",
            type=ArgumentType.JSON,
            required=True,
            description="A list of storage keys or earlier steps' outputs, in order.",
        ),
        ActionArgument(key="output_name", label="Output name", default="merged"),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        p = ctx.step.parameters
        refs = p["files"]
        if not isinstance(refs, list) or len(refs) < 1:
            raise StepError("files: expected a list of at least one PDF")
        parts = [
            await load_file(ctx, file_reference(ref, f"files[{i}]"), f"files[{i}]")
            for i, ref in enumerate(refs)
        ]
        merged, pages = await asyncio.to_thread(_merge, [(f.name, f.data) for f in parts])
        data = await pdf_result(ctx, merged, pages, str(p.get("output_name") or "merged"))
        return ActionResult(raw=data, data=data)


def _merge(parts: list[tuple[str, bytes]]) -> tuple[bytes, int]:
    from pypdf import PdfReader, PdfWriter
    from pypdf.errors import PdfReadError

    writer = PdfWriter()
    for i, (name, data) in enumerate(parts):
        try:
            writer.append(PdfReader(io.BytesIO(data)))
        except (PdfReadError, ValueError) as exc:
            raise StepError(f"files[{i}]: {name!r} is not a readable PDF ({exc})") from None
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue(), len(writer.pages)
