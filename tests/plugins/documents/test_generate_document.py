"""The documents app's actions, run as the engine runs them, on real files."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from docx.shared import Pt
from pptx import Presentation

from docg_core.errors import StepError
from docg_core.storage import LocalStorage
from docg_core.store import InMemoryStore
from docg_core.testing import run_action
from docg_documents.actions.generate_document import GenerateDocument
from docg_documents.app import DocumentsApp

APP = DocumentsApp()
DATA = {
    "deal": {"name": "Renovação Acme", "amount": 1234.5},
    "items": [{"name": "Licença", "total": 1000}, {"name": "Suporte", "total": 234.5}],
}


@pytest.fixture
def storage(tmp_path: Path) -> LocalStorage:
    return LocalStorage(tmp_path / "files", secret="test-secret")


@pytest.fixture
def template(tmp_path: Path) -> Path:
    doc = Document()
    p = doc.add_paragraph()
    run = p.add_run("Contrato de {{ deal.name }} no valor de {{ deal.amount|currency }}")
    run.bold = True
    run.font.size = Pt(14)
    doc.add_paragraph("Vendedor: {{ deal.owner }}")
    table = doc.add_table(rows=3, cols=2)
    table.rows[0].cells[0].text = "{%tr for item in items %}"
    table.rows[1].cells[0].text = "{{ item.name }}"
    table.rows[1].cells[1].text = "{{ item.total|currency }}"
    table.rows[2].cells[0].text = "{%tr endfor %}"
    path = tmp_path / "contrato.docx"
    doc.save(path)
    return path


async def generate(storage: LocalStorage, **params: Any) -> Any:
    params.setdefault("data", DATA)
    params.setdefault("formats", ["docx"])
    return await run_action(APP, GenerateDocument, params, storage=storage, **_run_kwargs(params))


def _run_kwargs(params: dict[str, Any]) -> dict[str, Any]:
    extra = {}
    for key in ("execution_id", "organization_id", "store"):
        if key in params:
            extra[key] = params.pop(key)
    return extra


async def test_a_word_template_is_rendered_and_stored(
    storage: LocalStorage, template: Path
) -> None:
    result = await generate(storage, template=str(template), output_name="Contrato Acme")
    data = result.data
    doc = Document(io.BytesIO(await storage.get(data["file_key"])))
    first = doc.paragraphs[0]
    assert first.text == "Contrato de Renovação Acme no valor de R$ 1.234,50"
    assert first.runs[0].bold is True
    assert first.runs[0].font.size == Pt(14)
    rows = [[c.text for c in row.cells] for row in doc.tables[0].rows]
    assert rows == [["Licença", "R$ 1.000,00"], ["Suporte", "R$ 234,50"]]
    assert data["missing_variables"] == ["deal.owner"]
    assert data["file_key"].startswith("docg/local/outputs/") and data["file_key"].endswith(".docx")
    assert data["file_name"] == "Contrato Acme.docx"
    assert data["pdf_key"] is None
    assert data["url"].startswith("/files/docg/local/outputs/")


async def test_lineage_records_template_data_and_execution(
    storage: LocalStorage, template: Path
) -> None:
    import hashlib

    result = await generate(storage, template=str(template), execution_id="exec-1")
    lineage = result.data["lineage"]
    assert lineage["template_sha256"] == hashlib.sha256(template.read_bytes()).hexdigest()
    assert lineage["execution_id"] == "exec-1"
    assert lineage["node_id"] == "step"
    assert len(lineage["data_sha256"]) == 64
    assert (
        result.data["sha256"]
        == hashlib.sha256(await storage.get(result.data["file_key"])).hexdigest()
    )


async def test_a_retried_step_returns_its_first_result_and_writes_no_second_file(
    storage: LocalStorage, template: Path, tmp_path: Path
) -> None:
    store = InMemoryStore()
    first = await generate(storage, template=str(template), execution_id="e1", store=store)
    again = await generate(storage, template=str(template), execution_id="e1", store=store)
    assert again.data == first.data
    assert again.metadata == {"reused": True}
    files = [p for p in (tmp_path / "files").rglob("*") if p.is_file()]
    assert len(files) == 1


async def test_the_same_step_in_another_execution_makes_another_document(
    storage: LocalStorage, template: Path
) -> None:
    one = await generate(storage, template=str(template), execution_id="e1")
    two = await generate(storage, template=str(template), execution_id="e2")
    assert one.data["document_id"] != two.data["document_id"]


async def test_strict_mode_fails_naming_every_missing_variable(
    storage: LocalStorage, template: Path
) -> None:
    with pytest.raises(StepError, match=r"deal\.owner"):
        await generate(storage, template=str(template), strict=True)


async def test_a_template_in_storage_is_used_by_key(storage: LocalStorage, template: Path) -> None:
    await storage.put("docg/org-1/templates/t.docx", template.read_bytes())
    result = await generate(
        storage, template="docg/org-1/templates/t.docx", organization_id="org-1"
    )
    assert result.data["file_key"].startswith("docg/org-1/outputs/")


async def test_local_paths_are_refused_when_running_for_an_organization(
    storage: LocalStorage, template: Path
) -> None:
    with pytest.raises(StepError, match="not one of this organization's files"):
        await generate(storage, template=str(template), organization_id="org-1")


async def test_another_organizations_template_is_refused_by_key(
    storage: LocalStorage, template: Path
) -> None:
    await storage.put("docg/org-2/templates/t.docx", template.read_bytes())
    with pytest.raises(StepError, match="not one of this organization's files"):
        await generate(storage, template="docg/org-2/templates/t.docx", organization_id="org-1")


async def test_a_missing_template_is_a_clear_error(storage: LocalStorage, tmp_path: Path) -> None:
    with pytest.raises(
        StepError, match=r"template: file '.*nope\.docx' not found in storage or on disk"
    ):
        await generate(storage, template=str(tmp_path / "nope.docx"))


async def test_an_unsupported_template_type_is_refused(
    storage: LocalStorage, tmp_path: Path
) -> None:
    (tmp_path / "t.xlsx").write_bytes(b"x")
    with pytest.raises(StepError, match="unsupported template type"):
        await generate(storage, template=str(tmp_path / "t.xlsx"))


async def test_formats_must_match_the_template(storage: LocalStorage, template: Path) -> None:
    with pytest.raises(StepError, match="cannot produce pptx"):
        await generate(storage, template=str(template), formats=["pptx"])


async def test_a_powerpoint_template_keeps_its_format(
    storage: LocalStorage, tmp_path: Path
) -> None:
    prs = Presentation()
    slide = prs.slides.add_slide(prs.slide_layouts[1])
    slide.shapes.title.text = "Proposta {{ deal.name }}"
    path = tmp_path / "deck.pptx"
    prs.save(path)
    result = await generate(storage, template=str(path), formats=["pptx"])
    deck = Presentation(io.BytesIO(await storage.get(result.data["file_key"])))
    assert deck.slides[0].shapes.title.text == "Proposta Renovação Acme"


async def test_markdown_templates_become_html(storage: LocalStorage, tmp_path: Path) -> None:
    path = tmp_path / "carta.md"
    path.write_text(
        "# Olá {{ deal.name }}\n\nValor: **{{ deal.amount|currency }}**\n", encoding="utf-8"
    )
    result = await generate(storage, template=str(path), formats=["source"])
    html = (await storage.get(result.data["file_key"])).decode()
    assert "<h1>Olá Renovação Acme</h1>" in html
    assert "<strong>R$ 1.234,50</strong>" in html


async def test_images_are_read_from_storage(storage: LocalStorage, tmp_path: Path) -> None:
    from support.images import tiny_png

    await storage.put("docg/local/assets/logo.png", tiny_png())
    doc = Document()
    doc.add_paragraph("{{ logo }}")
    path = tmp_path / "img.docx"
    doc.save(path)
    data = {"logo": {"image": "docg/local/assets/logo.png", "width_mm": 30}}
    result = await generate(storage, template=str(path), data=data)
    out = Document(io.BytesIO(await storage.get(result.data["file_key"])))
    assert len(out.inline_shapes) == 1
    assert round(out.inline_shapes[0].width.mm) == 30


async def test_image_urls_on_private_addresses_are_refused(
    storage: LocalStorage, tmp_path: Path
) -> None:
    doc = Document()
    doc.add_paragraph("{{ logo }}")
    path = tmp_path / "img.docx"
    doc.save(path)
    data = {"logo": {"image": "http://169.254.169.254/latest/meta-data", "width_mm": 30}}
    with pytest.raises(StepError, match=r"169\.254\.169\.254"):
        await generate(storage, template=str(path), data=data)


def _pdf_text(data: bytes) -> str:
    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(data)).pages)


@pytest.mark.soffice
async def test_a_pdf_is_produced_with_the_data_in_it(storage: LocalStorage, template: Path) -> None:
    result = await generate(storage, template=str(template), formats=["docx", "pdf"])
    data = result.data
    assert data["pages"] == 1
    text = _pdf_text(await storage.get(data["pdf_key"]))
    assert "Contrato de Renovação Acme no valor de R$ 1.234,50" in text
    assert "Suporte" in text
    assert data["url"].startswith(f"/files/{data['pdf_key']}?expires=")
    assert storage.verify_signed_url(
        data["pdf_key"], *(part.split("=")[1] for part in data["url"].split("?")[1].split("&"))
    )
    assert data["file_key"] is not None


@pytest.mark.soffice
async def test_convert_and_merge_pdfs(storage: LocalStorage, template: Path) -> None:
    from docg_documents.actions.convert_to_pdf import ConvertToPdf
    from docg_documents.actions.merge_pdfs import MergePdfs

    first = await generate(storage, template=str(template), formats=["docx"], execution_id="a")
    pdf = await run_action(APP, ConvertToPdf, {"file": first.data}, storage=storage)
    assert pdf.data["pages"] == 1
    merged = await run_action(
        APP, MergePdfs, {"files": [pdf.data, pdf.data["pdf_key"]]}, storage=storage
    )
    assert merged.data["pages"] == 2
    assert _pdf_text(await storage.get(merged.data["pdf_key"])).count("Renovação Acme") == 2


async def test_merging_something_that_is_not_a_pdf_names_it(storage: LocalStorage) -> None:
    from docg_documents.actions.merge_pdfs import MergePdfs

    await storage.put("docg/local/x.pdf", b"not a pdf")
    with pytest.raises(StepError, match=r"files\[0\]: 'x.pdf' is not a readable PDF"):
        await run_action(APP, MergePdfs, {"files": ["docg/local/x.pdf"]}, storage=storage)
