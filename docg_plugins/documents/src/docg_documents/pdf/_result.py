"""The converted PDF, checked: not empty, readable, at least one page."""

from __future__ import annotations

import io
from dataclasses import dataclass

from pypdf import PdfReader

from ._errors import PdfConversionError


@dataclass(frozen=True)
class PdfResult:
    """A converted document: the PDF bytes and its page count."""

    pdf: bytes
    pages: int

    def __repr__(self) -> str:
        return f"PdfResult(pages={self.pages}, {len(self.pdf)} bytes)"


def checked_pdf(pdf: bytes, extension: str) -> PdfResult:
    """The result if ``pdf`` is a PDF with at least one page; PdfConversionError if not."""
    what = f"LibreOffice's PDF of the .{extension} document"
    if not pdf.startswith(b"%PDF-"):
        state = "empty" if not pdf else "not a PDF"
        raise PdfConversionError(f"{what} is {state}", code="pdf_invalid_output")
    try:
        pages = len(PdfReader(io.BytesIO(pdf)).pages)
    except Exception as e:  # pypdf raises many types for a damaged file
        raise PdfConversionError(f"{what} cannot be read: {e}", code="pdf_invalid_output") from e
    if pages < 1:
        raise PdfConversionError(f"{what} has no pages", code="pdf_invalid_output")
    return PdfResult(pdf, pages)
