"""`docg template inspect|repair`, added to the CLI by the documents plugin's hook."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from docx import Document
from typer.testing import CliRunner

from docg_core.cli import create_app
from docg_core.plugins import get_plugin_manager


@pytest.fixture
def cli(monkeypatch: pytest.MonkeyPatch) -> object:
    monkeypatch.setenv("DOCG_PLUGINS", "documents")
    get_plugin_manager()  # the entry point must be installed for these tests
    return create_app()


def make(tmp_path: Path, *paragraphs: str) -> Path:
    doc = Document()
    for text in paragraphs:
        doc.add_paragraph(text)
    path = tmp_path / "t.docx"
    doc.save(path)
    return path


def test_inspect_lists_variables_and_loops(cli: object, tmp_path: Path) -> None:
    path = make(
        tmp_path, "Olá {{ client.name }}", "{%p for i in items %}", "{{ i.sku }}", "{%p endfor %}"
    )
    result = CliRunner().invoke(cli, ["template", "inspect", str(path), "--json"])  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert info["variables"] == ["client.name", "items", "items[].sku"]
    assert info["loops"] == ["items"]
    assert info["errors"] == []


def test_inspect_exits_2_naming_the_broken_tag_and_where(cli: object, tmp_path: Path) -> None:
    path = make(tmp_path, "ok {{ a }}", "broken {{ deal.name }")
    result = CliRunner().invoke(cli, ["template", "inspect", str(path)])  # type: ignore[arg-type]
    assert result.exit_code == 2
    assert "paragraph 2" in result.stderr
    assert "{{ deal.name }" in result.stderr


def test_repair_writes_a_file_that_renders(cli: object, tmp_path: Path) -> None:
    path = make(tmp_path, "Olá {{ “name” }}")
    out = tmp_path / "fixed.docx"
    result = CliRunner().invoke(cli, ["template", "repair", str(path), "-o", str(out)])  # type: ignore[arg-type]
    assert result.exit_code == 0, result.output
    assert '{{ "name" }}' in Document(str(out)).paragraphs[0].text
