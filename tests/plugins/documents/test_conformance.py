"""The documents app passes the plugin conformance kit (docx only: no LibreOffice needed)."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from pypdf import PdfWriter

from docg_core.testing import AppConformance, ErrorCase
from docg_documents.app import DocumentsApp


def _pdf(pages: int) -> bytes:
    writer = PdfWriter()
    for _ in range(pages):
        writer.add_blank_page(width=200, height=200)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


class TestDocuments(AppConformance):
    app = DocumentsApp
    # A signed URL carries its expiry time: a retry a second later signs a different one.
    volatile_fields = frozenset({"url"})
    error_cases = (
        ErrorCase("generate-document", {"template": "no/such/template.docx", "data": {}}, False),
        ErrorCase("merge-pdfs", {"files": []}, False),
    )

    @pytest.fixture(autouse=True)
    def _files(self, tmp_path: Path) -> None:
        doc = Document()
        doc.add_paragraph("Contrato de {{ deal.name }} no valor de {{ deal.amount }}")
        self.template = tmp_path / "contrato.docx"
        doc.save(self.template)
        self.pdfs = []
        for pages in (1, 2):
            path = tmp_path / f"part{pages}.pdf"
            path.write_bytes(_pdf(pages))
            self.pdfs.append(str(path))

    def make_samples(self) -> Mapping[str, Mapping[str, Any]]:
        return {
            "generate-document": {
                "template": str(self.template),
                "data": {"deal": {"name": "Renovação Acme", "amount": 1234.5}},
                "output_name": "contrato-acme",
                "formats": ["docx"],
            },
            "merge-pdfs": {"files": self.pdfs, "output_name": "merged"},
        }

    async def test_generate_document_retried_writes_one_document(self) -> None:
        first, again = await self.retry_sample("generate-document")
        assert again.data == first.data
        assert again.metadata == {"reused": True}
        assert self.stored_files() == {first.data["file_key"]}
