"""Word documents and images built in code for template tests (no binaries committed)."""

from __future__ import annotations

import io
from collections.abc import Callable

from docx import Document
from docx.document import Document as DocumentObject
from docx.oxml import parse_xml
from docx.oxml.ns import nsdecls
from support.images import tiny_png


def build(*steps: Callable[[DocumentObject], object]) -> bytes:
    """A .docx made by applying ``steps`` to a new document."""
    document = Document()
    for step in steps:
        step(document)
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def text(*paragraphs: str) -> Callable[[DocumentObject], None]:
    """A step adding one plain paragraph per string."""

    def step(document: DocumentObject) -> None:
        for paragraph in paragraphs:
            document.add_paragraph(paragraph)

    return step


def raw(inner_xml: str) -> Callable[[DocumentObject], None]:
    """A paragraph written as Word writes it (runs, rsids, spell-check marks)."""

    def step(document: DocumentObject) -> None:
        paragraph = parse_xml(f"<w:p {nsdecls('w')}>{inner_xml}</w:p>")
        body = document.element.body
        body.insert(len(body) - 1, paragraph)  # before w:sectPr

    return step


def png(width: int, height: int, red: int = 0xFF) -> bytes:
    """A PNG of ``width`` × ``height`` pixels in one shade of red (72 dpi, python-docx's default)."""
    return tiny_png(width, height, (red, 0, 0))
