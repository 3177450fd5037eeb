"""The contract demo: `docg demo` renders the bundled service contract to .docx and PDF."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from docx import Document
from typer.testing import CliRunner

from docg_core.cli import create_app

EXAMPLE = Path(__file__).parents[3] / "docs" / "examples" / "contract"


def pdf_text(path: Path) -> tuple[str, int]:
    from pypdf import PdfReader

    reader = PdfReader(io.BytesIO(path.read_bytes()))
    return "\n".join(p.extract_text() for p in reader.pages), len(reader.pages)


@pytest.fixture
def workdir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("DOCG_PLUGINS", "documents")
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'docg.db'}")
    monkeypatch.delenv("DOCG_STORAGE_DIR", raising=False)
    return tmp_path


@pytest.mark.soffice
def test_the_demo_renders_the_large_contract_to_docx_and_pdf(workdir: Path) -> None:
    result = CliRunner().invoke(create_app(), ["demo"])
    assert result.exit_code == 0, result.output
    pdfs = list((workdir / "docg-files").rglob("*.pdf"))
    docxs = list((workdir / "docg-files").rglob("*.docx"))
    assert len(pdfs) == 1 and len(docxs) == 1
    assert str(pdfs[0]) in result.output
    text, pages = pdf_text(pdfs[0])
    assert pages == 2
    for expected in (
        "CONTRATO DE PRESTAÇÃO DE SERVIÇOS Nº 2026-0142",
        "Acme Indústria e Comércio Ltda.",
        "11.222.333/0001-81",
        "R$ 86.450,00",
        "oitenta e seis mil quatrocentos e cinquenta reais",
        "3 parcelas mensais",
        "DA GARANTIA DE EXECUÇÃO",
        "1 de dezembro de 2026",
    ):
        assert expected in " ".join(text.split()), expected
    assert "à vista" not in text
    doc = Document(str(docxs[0]))
    rows = [[c.text for c in r.cells] for r in doc.tables[0].rows]
    assert [r[1] for r in rows[1:-1]] == [
        "Implantação da plataforma",
        "Licença anual (por usuário)",
        "Treinamento presencial (turma)",
        "Integração com o CRM",
    ]
    assert len(doc.inline_shapes) == 1  # the logo


@pytest.mark.soffice
def test_a_small_deal_gets_the_standard_contract(workdir: Path) -> None:
    deal = json.loads((EXAMPLE / "deal.json").read_text(encoding="utf-8"))
    deal["deal"].update(amount=9800.0, installments=1)
    deal["deal"]["line_items"] = [
        {"name": "Consultoria", "quantity": 1, "unit_price": 9800.0, "total": 9800.0}
    ]
    deal["templates"] = {k: str(EXAMPLE / v) for k, v in deal["templates"].items()}
    deal["company"]["logo"]["image"] = str(EXAMPLE / "logo.png")
    (workdir / "deal.json").write_text(json.dumps(deal), encoding="utf-8")
    result = CliRunner().invoke(
        create_app(), ["run", str(EXAMPLE / "workflow.yaml"), "--trigger", "deal.json", "--json"]
    )
    assert result.exit_code == 0, result.output
    record = json.loads(result.stdout)
    assert [s["node_id"] for s in record["steps"]] == ["route", "contract-standard"]
    pdf = workdir / "docg-files" / record["steps"][1]["data_out"]["data"]["pdf_key"]
    text, _ = pdf_text(pdf)
    flat = " ".join(text.split())
    assert "R$ 9.800,00" in flat
    assert "à vista" in flat
    assert "GARANTIA DE EXECUÇÃO" not in flat
