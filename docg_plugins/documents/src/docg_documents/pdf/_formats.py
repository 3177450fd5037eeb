"""Input formats the PDF converter accepts, and the LibreOffice filters for each."""

from __future__ import annotations

from dataclasses import dataclass

from ._errors import PdfInputError


@dataclass(frozen=True)
class InputFormat:
    """How LibreOffice reads one input format and which filter writes it as PDF."""

    extension: str
    # Forced so that a corrupt or mislabelled file fails to load instead of being read as
    # plain text. None lets LibreOffice detect it (text formats, where detection is safe).
    import_filter: str | None
    export_filter: str
    # The LibreOffice module that reads it, named in errors when it is not installed.
    module: str


_WRITER = ("writer_pdf_Export", "Writer (Debian: libreoffice-writer-nogui)")
_IMPRESS = ("impress_pdf_Export", "Impress (Debian: libreoffice-impress-nogui)")
_CALC = ("calc_pdf_Export", "Calc (Debian: libreoffice-calc-nogui)")
_DRAW = ("draw_pdf_Export", "Draw (Debian: libreoffice-draw-nogui)")

FORMATS: dict[str, InputFormat] = {
    ext: InputFormat(ext, import_filter, *module)
    for ext, import_filter, module in (
        ("docx", "MS Word 2007 XML", _WRITER),
        ("doc", "MS Word 97", _WRITER),
        ("odt", "writer8", _WRITER),
        ("rtf", "Rich Text Format", _WRITER),
        ("txt", None, _WRITER),
        # Writer, not Writer/Web: print layout with real pages.
        ("html", "HTML (StarWriter)", _WRITER),
        ("htm", "HTML (StarWriter)", _WRITER),
        ("pptx", "Impress MS PowerPoint 2007 XML", _IMPRESS),
        ("ppt", "MS PowerPoint 97", _IMPRESS),
        ("odp", "impress8", _IMPRESS),
        ("xlsx", "Calc MS Excel 2007 XML", _CALC),
        ("xls", "MS Excel 97", _CALC),
        ("ods", "calc8", _CALC),
        ("csv", None, _CALC),
        ("odg", "draw8", _DRAW),
    )
}


def input_format(name: str) -> InputFormat:
    """The format for a source extension (``"docx"``, ``".PPTX"``); PdfInputError if unknown."""
    key = name.strip().lower().removeprefix(".")
    try:
        return FORMATS[key]
    except KeyError:
        raise PdfInputError(
            f"cannot convert a {name!r} file to PDF: input_format must be one of "
            f"{', '.join(sorted(FORMATS))}",
            code="pdf_unsupported_format",
        ) from None
