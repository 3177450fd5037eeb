"""The ``documents`` app."""

from __future__ import annotations

from docg_core.apps import BaseApp

from .actions.convert_to_pdf import ConvertToPdf
from .actions.generate_document import GenerateDocument
from .actions.merge_pdfs import MergePdfs


class DocumentsApp(BaseApp):
    key = "documents"
    name = "Documents"
    description = (
        "Fill Word, PowerPoint, HTML and Markdown templates with data; convert and merge PDFs."
    )
    actions = (GenerateDocument, ConvertToPdf, MergePdfs)
