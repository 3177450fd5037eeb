"""One LibreOffice process per document: ``soffice --headless --convert-to pdf``.

The baseline the pool is measured against, and a fallback where a pool is not wanted (a CLI
run, a one-off script). About 1.3-1.8 s per document, nearly all of it LibreOffice starting.
"""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

from ._errors import PdfInputError, PdfTimeoutError
from ._formats import input_format as lookup_format
from ._office import office_args, office_binary, remove_office_pipes, require_soffice, tail
from ._result import PdfResult, checked_pdf
from ._worker import start_supervisor, stop_supervisor

_TIMEOUT = 120.0
_PDF_A = '{"SelectPdfVersion":{"type":"long","value":"2"}}'


async def convert_once(
    data: bytes,
    input_format: str,
    *,
    pdf_a: bool = False,
    soffice: str | None = None,
) -> PdfResult:
    """Convert one document with a LibreOffice process of its own, started and ended here.

    :param data: the source document.
    :param input_format: its extension: ``docx``, ``pptx``, ``odt``, ``html`` …
    :param pdf_a: write PDF/A-2b.
    :param soffice: the LibreOffice launcher; default ``soffice`` on PATH.

    Killed after two minutes (PdfTimeoutError); to stop it sooner, cancel the call or wrap it
    in ``asyncio.timeout`` — the process is killed and reaped either way. It runs under the
    same supervisor as the pool's workers (see ``_supervisor``), which reaps what LibreOffice
    leaves behind.
    """
    fmt = lookup_format(input_format)
    if not data:
        raise PdfInputError(f"the .{fmt.extension} document is empty", code="pdf_input_empty")
    binary = office_binary(require_soffice(soffice))
    with tempfile.TemporaryDirectory(prefix="docg-pdf-once-") as tmp:
        root = Path(tmp)
        for sub in ("out", "tmp"):
            (root / sub).mkdir()
        source = root / f"input.{fmt.extension}"
        source.write_bytes(data)
        profile_url = (root / "profile").as_uri()
        convert_to = f"pdf:{fmt.export_filter}" + (f":{_PDF_A}" if pdf_a else "")
        args = office_args(profile_url, "--convert-to", convert_to, "--outdir", str(root / "out"))
        if fmt.import_filter:
            args.append(f"--infilter={fmt.import_filter}")
        log = root / "soffice.log"
        process = await start_supervisor(
            {"office": [binary, *args, str(source)]},
            log=log,
            cwd=root,
            tmp=root / "tmp",
            pipes=False,
        )
        try:
            async with asyncio.timeout(_TIMEOUT):
                await process.wait()
        except TimeoutError:
            raise PdfTimeoutError(
                f"LibreOffice did not convert the .{fmt.extension} document within {_TIMEOUT:g} s",
                code="pdf_timeout",
            ) from None
        finally:
            await stop_supervisor(process)  # at once if it has exited
            remove_office_pipes(profile_url)
        target = root / "out" / "input.pdf"
        if not target.exists():
            raise PdfInputError(
                f"cannot convert this .{fmt.extension} document to PDF: LibreOffice could not "
                f"read it ({tail(log) or 'no output'})",
                code="pdf_input_invalid",
            )
        return checked_pdf(target.read_bytes(), fmt.extension)
