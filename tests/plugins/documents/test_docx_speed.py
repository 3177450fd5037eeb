"""The fast path of ``render_docx`` makes the document the full path makes.

The full path (``_render_full``) is docxtpl and python-docx on the whole package; the fast
path prepares each template once and rewrites only the zip members a render changes. Each
test renders with both and compares: every zip member's content byte for byte, the member
order, the missing variables, and what python-docx reads back (text, tables, run
formatting, pictures, headers, properties) — or, when rendering fails, the error.
No timings here: speed is measured by ``tests/benchmarks/bench_render.py``.
"""

from __future__ import annotations

import io
import json
import re
import threading
import zipfile
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import pytest
from docx import Document
from docx.document import Document as DocumentObject
from docx.oxml.ns import nsdecls
from docx.shared import Mm, Pt, RGBColor
from docxtpl import DocxTemplate, InlineImage
from docxtpl import RichText as DocxtplRichText
from support.docx_builders import build, png, raw, text

from docg_documents.templating import (
    Image,
    RenderResult,
    TemplateRenderError,
    environment,
    render_docx,
)
from docg_documents.templating import docx as docx_module
from docg_documents.templating._package import LruCache

EXAMPLE = Path(__file__).parents[3] / "docs" / "examples" / "contract"

# ------------------------------------------------------------------------------ helpers


_NOTES = {
    "footnotes": "application/vnd.openxmlformats-officedocument.wordprocessingml.footnotes+xml",
    "endnotes": "application/vnd.openxmlformats-officedocument.wordprocessingml.endnotes+xml",
}
_RELS = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def with_notes(docx: bytes, footnote: str, endnote: str) -> bytes:
    """``docx`` with a footnotes and an endnotes part (python-docx cannot add them)."""
    source = zipfile.ZipFile(io.BytesIO(docx))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            content = source.read(item)
            if item.filename == "[Content_Types].xml":
                overrides = "".join(
                    f'<Override PartName="/word/{kind}.xml" ContentType="{ct}"/>'
                    for kind, ct in _NOTES.items()
                )
                content = content.replace(b"</Types>", overrides.encode() + b"</Types>")
            elif item.filename == "word/_rels/document.xml.rels":
                rels = "".join(
                    f'<Relationship Id="rIdNote{kind}" Type="{_RELS}/{kind}" Target="{kind}.xml"/>'
                    for kind in _NOTES
                )
                content = content.replace(b"</Relationships>", rels.encode() + b"</Relationships>")
            target.writestr(item, content)
        for kind, inner in (("footnotes", footnote), ("endnotes", endnote)):
            note = kind[:-1]
            target.writestr(
                f"word/{kind}.xml",
                f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                f'<w:{kind} {nsdecls("w")}><w:{note} w:id="1"><w:p>{inner}</w:p></w:{note}>'
                f"</w:{kind}>",
            )
    return out.getvalue()


def members(content: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.testzip() is None
        return [(name, archive.read(name)) for name in archive.namelist()]


def readback(content: bytes) -> dict[str, Any]:
    """What python-docx reads: text, run formatting, tables, pictures, headers, properties."""
    document = Document(io.BytesIO(content))

    def runs(paragraph: Any) -> list[tuple[Any, ...]]:
        return [
            (
                run.text,
                run.bold,
                run.italic,
                run.underline,
                run.font.strike,
                run.font.name,
                run.font.size,
                run.font.color.rgb if run.font.color.type is not None else None,
            )
            for run in paragraph.runs
        ]

    def story(container: Any) -> list[Any]:
        return [(p.text, p.style.name if p.style else None, runs(p)) for p in container.paragraphs]

    properties = document.core_properties
    return {
        "body": story(document),
        "tables": [
            [
                [(cell.text, [runs(p) for p in cell.paragraphs]) for cell in row.cells]
                for row in table.rows
            ]
            for table in document.tables
        ],
        "pictures": [(shape.width, shape.height) for shape in document.inline_shapes],
        "links": [(link.address, link.text) for p in document.paragraphs for link in p.hyperlinks],
        "headers": [
            (story(section.header), story(section.footer)) for section in document.sections
        ],
        "properties": (properties.title, properties.subject, properties.author),
    }


def fast(
    template: bytes,
    data: Mapping[str, Any],
    *,
    filters: Mapping[str, Callable[..., Any]] | None = None,
    strict: bool = False,
    images: Mapping[str, bytes] | None = None,
) -> RenderResult | None:
    prepared = docx_module._prepared(template)
    assert prepared is not None, "the fast path cannot prepare this template"
    return docx_module._render_fast(prepared, data, filters, strict, images)


def assert_same(template: bytes, data: Mapping[str, Any], **options: Any) -> RenderResult:
    """Render with both paths; assert the documents are the same. Returns the fast one."""
    quick = fast(template, data, **options)
    assert quick is not None, "the fast path fell back to the full path"
    full = docx_module._render_full(template, data, **options)
    assert members(quick.content) == members(full.content)
    assert quick.missing_variables == full.missing_variables
    assert readback(quick.content) == readback(full.content)
    assert render_docx(template, data, **options).content == quick.content
    return quick


def outcome(render: Callable[[], RenderResult]) -> tuple[Any, ...]:
    try:
        result = render()
    except TemplateRenderError as exc:
        return ("error", type(exc).__name__, exc.code, str(exc))
    return ("ok", members(result.content), result.missing_variables)


def demo_data(items: int = 20) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((EXAMPLE / "deal.json").read_text(encoding="utf-8"))
    item = data["deal"]["line_items"][0]
    data["deal"]["line_items"] = [dict(item, name=f"Item {i + 1}") for i in range(items)]
    return data


DEAL: dict[str, Any] = {
    "name": "Padaria Pão Quente",
    "amount": "12345.6",
    "owner": {"name": "Ana"},
    "address": "Rua A, 1\nSão Paulo\tSP",
    "items": [
        {"name": "Plano Pro", "quantity": 2, "price": 199.9},
        {"name": "Implantação", "quantity": 1, "price": 1500},
        {"name": "Suporte & <extras>", "quantity": 12, "price": 50},
    ],
}

SPLIT = (
    '<w:r w:rsidR="00A1B2C3"><w:rPr><w:rFonts w:ascii="Arial" w:hAnsi="Arial"/><w:b/></w:rPr>'
    '<w:t xml:space="preserve">Cliente: {{ deal.</w:t></w:r>'
    '<w:proofErr w:type="spellStart"/>'
    '<w:r w:rsidR="00D4E5F6"><w:rPr><w:i/></w:rPr><w:t>na</w:t></w:r>'
    '<w:proofErr w:type="spellEnd"/>'
    '<w:r w:rsidRPr="00112233"><w:t>me }</w:t></w:r>'
    '<w:r><w:rPr><w:u w:val="single"/></w:rPr><w:t xml:space="preserve">} fim</w:t></w:r>'
)


def formatted(document: DocumentObject) -> None:
    paragraph = document.add_paragraph()
    paragraph.add_run("Cliente: ").bold = True
    value = paragraph.add_run("{{ deal.name }}")
    value.italic = True
    value.font.name = "Arial"
    value.font.size = Pt(14)
    value.font.color.rgb = RGBColor(0x11, 0x22, 0x33)
    paragraph.add_run(" — valor “{{ deal.amount | currency }}”.").underline = True


def items_table(document: DocumentObject) -> None:
    table = document.add_table(rows=4, cols=3)
    for cell, header in zip(table.rows[0].cells, ("Item", "Qtd", "Preço"), strict=True):
        cell.paragraphs[0].add_run(header).bold = True
    table.cell(1, 0).text = "{%tr for item in deal.items %}"
    row = table.rows[2].cells
    row[0].paragraphs[0].add_run("{{ item.name }}").italic = True
    row[1].text = "{{ item.quantity }}"
    row[2].text = "{{ item.price | currency }}"
    table.cell(3, 0).text = "{%tr endfor %}"


def conditions(document: DocumentObject) -> None:
    document.add_paragraph("{%p if deal.discount %}")
    document.add_paragraph("Desconto: {{ deal.discount }}%")
    document.add_paragraph("{%p endif %}")
    document.add_paragraph("Endereço: {{ deal.address }} — {{ deal.owner.nome }}")
    document.add_paragraph(
        "Itens: {% for i in deal.items %}{{ i.name }}{% if not loop.last %}, {% endif %}"
        "{% endfor %}."
    )


def header_and_footer(document: DocumentObject) -> None:
    section = document.sections[0]
    section.header.paragraphs[0].text = "{{ company.name | upper }} {{ company.missing }}"
    section.footer.paragraphs[0].text = "CNPJ {{ company.cnpj | cnpj }} {{ notes }}"


# ---------------------------------------------------------------------- the demo contract


@pytest.mark.parametrize("name", ["contrato-grande.docx", "contrato-padrao.docx"])
def test_the_demo_contract_renders_the_same(name: str) -> None:
    template = (EXAMPLE / name).read_bytes()
    data = demo_data()
    data["company"]["logo"] = None
    result = assert_same(template, data)
    assert not result.missing_variables
    document = Document(io.BytesIO(result.content))
    assert len(document.tables[0].rows) >= 20


def test_the_demo_contract_with_its_logo_renders_the_same() -> None:
    template = (EXAMPLE / "contrato-grande.docx").read_bytes()
    images = {"logo.png": (EXAMPLE / "logo.png").read_bytes()}
    result = assert_same(template, demo_data(3), images=images)
    assert len(Document(io.BytesIO(result.content)).inline_shapes) == 1


def test_rendering_again_gives_the_same_bytes() -> None:
    template = (EXAMPLE / "contrato-grande.docx").read_bytes()
    data = demo_data(5)
    data["company"]["logo"] = None
    assert render_docx(template, data).content == render_docx(template, data).content


# ------------------------------------------------------------------- templates and values


def test_formatting_split_tags_loops_conditions_and_headers_render_the_same() -> None:
    template = build(formatted, raw(SPLIT), items_table, conditions, header_and_footer)
    data = {
        "deal": {**DEAL, "discount": 10},
        "company": {"name": "DocG Ltda", "cnpj": "12345678000195"},
        "notes": "a\nb",
    }
    result = assert_same(template, data)
    assert result.missing_variables == ["deal.owner.nome", "company.missing"]
    assert_same(template, {"deal": {**DEAL, "items": []}})


def test_images_in_the_body_and_a_header_render_the_same() -> None:
    logo = png(200, 100)

    def pictures(document: DocumentObject) -> None:
        document.add_picture(io.BytesIO(logo), width=Mm(20))  # already in the template
        document.sections[0].header.paragraphs[0].text = "{{ logo | image(15) }} {{ stamp }}"
        document.add_paragraph("{{ logo }} e {{ other | image(height_mm=10) }} {{ same }}")
        document.add_paragraph("{{ banner }} {{ signature }} {{ key | image }}")

    data = {
        "logo": {"image": logo, "width_mm": 40},  # the template's picture: its part is reused
        "other": png(50, 50, red=0x10),
        "same": {"image": png(50, 50, red=0x10)},
        "banner": {"image": png(3000, 300)},  # shrunk to the page width
        "signature": Image("sig.png", width_mm=25, description="Assinatura"),
        "key": "org-1/logo.png",
        "stamp": {"image": png(30, 30, red=0x20)},
    }
    images = {"sig.png": png(40, 40, red=0x30), "org-1/logo.png": png(60, 20)}
    result = assert_same(build(pictures), data, images=images)
    names = [name for name, _ in members(result.content)]
    # the template's own picture (reused for logo), other and same (one part), and 4 more
    assert sum(name.startswith("word/media/") for name in names) == 6


def test_rich_text_with_links_in_the_body_header_and_footnotes_renders_the_same() -> None:
    notes = {
        "rich": [
            {"text": "Urgente", "bold": True, "color": "#C00000"},
            " — ",
            {"text": "ver contrato", "italic": True, "url": "https://docg.example/c/1"},
            {"text": " & <anexo>", "highlight": "FFFF00", "size": 9, "strike": True},
            {"text": " de novo", "url": "https://docg.example/c/1"},
        ]
    }

    def paragraph(document: DocumentObject) -> None:
        p = document.add_paragraph()
        p.add_run("Obs: ")
        tag = p.add_run("{{ deal.notes }}")
        tag.font.name = "Georgia"
        p.add_run(" fim")
        document.sections[0].header.paragraphs[0].text = "Cab: {{ deal.notes }}"

    template = with_notes(
        build(paragraph),
        '<w:r><w:t xml:space="preserve">Nota {{ deal.notes }} {{ deal.name }}</w:t></w:r>',
        "<w:r><w:t>Fim {{ deal.name }}</w:t></w:r>",
    )
    tpl_rich = DocxtplRichText("docxtpl", bold=True)
    result = assert_same(template, {"deal": {"notes": notes, "name": "Pão", "tpl": tpl_rich}})
    footnotes = dict(members(result.content))["word/footnotes.xml"].decode()
    assert "Urgente" in footnotes and "Pão" in footnotes
    assert "Fim {{ deal.name }}" in dict(members(result.content))["word/endnotes.xml"].decode()


def test_footnotes_render_once_per_section_as_docxtpl_does() -> None:
    def sections(document: DocumentObject) -> None:
        document.add_paragraph("um")
        document.add_section()
        document.add_paragraph("dois")

    template = with_notes(
        build(sections),
        "<w:r><w:t xml:space=\"preserve\">{{ '{{' }} x }} {{ deal.name }} {{ nota.falta }}</w:t>"
        "</w:r>",
        "<w:r><w:t>fim</w:t></w:r>",
    )
    result = assert_same(template, {"deal": {"name": "Pão"}, "x": 1})
    assert result.missing_variables == ["nota.falta"]
    # two sections: rendered twice, so the {{ x }} the first pass printed is rendered too
    assert "1 Pão" in dict(members(result.content))["word/footnotes.xml"].decode()


def test_document_properties_with_tags_render_the_same() -> None:
    def properties(document: DocumentObject) -> None:
        document.core_properties.title = "Contrato {{ deal.name }}"
        document.core_properties.subject = "{{ deal.missing }} & <x>"
        document.core_properties.comments = "linha\n"
        document.add_paragraph("{{ deal.name }}")

    result = assert_same(build(properties), {"deal": DEAL})
    assert Document(io.BytesIO(result.content)).core_properties.title == (
        "Contrato Padaria Pão Quente"
    )
    assert result.missing_variables == ["deal.missing"]


def test_plain_document_properties_render_the_same() -> None:
    def properties(document: DocumentObject) -> None:
        document.core_properties.title = "Contrato"
        document.core_properties.author = "Ana"
        document.add_paragraph("{{ deal.name }}")

    assert_same(build(properties), {"deal": DEAL})


# -------------------------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("paragraph", "data", "options"),
    [
        ("{{ deal.name }} {{ deal.nope }} {{ other }}", {"deal": DEAL}, {"strict": True}),
        ("{{ deal.__class__.__mro__ }}", {"deal": DEAL}, {}),
        ("{{ logo }}", {"logo": {"image": "s3://bucket/logo.png"}}, {}),
        ("{{ logo }}", {"logo": {"image": b"GIF? no"}}, {}),
        ("{{ 1 | currency('BRX') }}", {}, {}),
        ("{{ deal.notes }}", {"deal": {"notes": {"rich": [{"txt": 1}]}}}, {}),
        ("{{ 2 | shout }}", {}, {"filters": {"shout": lambda v: f"{v}!"}}),
    ],
    ids=["strict", "sandbox", "image-not-given", "not-an-image", "bad-filter-argument",
         "bad-rich-text", "custom-filter"],
)  # fmt: skip
def test_errors_and_results_are_the_same(
    paragraph: str, data: dict[str, Any], options: dict[str, Any]
) -> None:
    template = build(text(paragraph))
    quick = outcome(lambda: render_docx(template, data, **options))
    full = outcome(lambda: docx_module._render_full(template, data, **options))
    assert quick == full


def test_a_syntax_error_is_reported_by_the_full_path() -> None:
    template = build(text("ok", "{{ deal.name "), header_and_footer)
    assert fast(template, {}) is None
    quick = outcome(lambda: render_docx(template, {}))
    assert quick[0] == "error" and quick[1] == "TemplateSyntaxProblem"
    assert quick == outcome(lambda: docx_module._render_full(template, {}))


@pytest.mark.parametrize(
    "where",
    ["properties", "footnotes", "inline-image"],
)
def test_values_only_the_full_path_can_render_fall_back_to_it(where: str) -> None:
    image = {"image": png(10, 10)}
    base = build(text("{{ deal.name }}"))
    template = base
    data: dict[str, Any] = {"deal": DEAL, "logo": image}
    if where == "properties":

        def title(document: DocumentObject) -> None:
            document.core_properties.title = "{{ logo }}"

        template = build(title, text("x"))
    elif where == "footnotes":
        template = with_notes(base, "<w:r><w:t>{{ logo }}</w:t></w:r>", "<w:r><w:t>x</w:t></w:r>")
    else:
        data["logo"] = InlineImage(DocxTemplate(io.BytesIO(base)), io.BytesIO(png(10, 10)))
    assert fast(template, data) is None
    assert outcome(lambda: render_docx(template, data)) == outcome(
        lambda: docx_module._render_full(template, data)
    )


def test_a_file_that_is_not_a_docx_is_not_prepared() -> None:
    assert docx_module._prepared(b"not a zip") is None
    with pytest.raises(TemplateRenderError) as caught:
        render_docx(b"not a zip", {})
    assert caught.value.code == "invalid_template"


# ------------------------------------------------------------------------- cache, threads


def test_a_template_is_prepared_once(monkeypatch: pytest.MonkeyPatch) -> None:
    template = build(text("{{ a }} único"))
    calls: list[bytes] = []
    prepare = docx_module._prepare

    def counting(blob: bytes) -> Any:
        calls.append(blob)
        return prepare(blob)

    monkeypatch.setattr(docx_module, "_prepare", counting)
    first = render_docx(template, {"a": "1"})
    second = render_docx(bytearray(template), {"a": "2"})
    assert len(calls) == 1
    assert Document(io.BytesIO(first.content)).paragraphs[0].text == "1 único"
    assert Document(io.BytesIO(second.content)).paragraphs[0].text == "2 único"


def test_the_cache_is_bounded_by_entries_and_weight() -> None:
    cache: LruCache[str, bytes] = LruCache(2, 10, len)
    cache.put("a", b"1234")
    cache.put("b", b"1234")
    assert cache.get("a") == (True, b"1234")  # a is now the most recent
    cache.put("c", b"12")
    assert cache.get("b") == (False, None)
    assert len(cache) == 2
    cache.put("d", b"12345678")  # over the weight with a: a goes
    assert cache.get("a") == (False, None)
    assert cache.get("d") == (True, b"12345678")
    cache.put("huge", b"x" * 11)  # heavier than the whole cache: not kept
    assert cache.get("huge") == (False, None)


def test_concurrent_renders_give_each_their_own_document() -> None:
    template = build(formatted, items_table, header_and_footer)
    datas = [
        {"deal": {**DEAL, "name": f"Cliente {n}", "items": DEAL["items"][: n % 3 + 1]},
         "company": {"name": f"Empresa {n}", "cnpj": "12345678000195"},
         "notes": {"rich": [{"text": f"nota {n}", "url": f"https://x.y/{n}"}]}}
        for n in range(12)
    ]  # fmt: skip
    expected = [members(docx_module._render_full(template, d).content) for d in datas]
    results: dict[int, list[tuple[str, bytes]]] = {}
    errors: list[BaseException] = []

    def work(n: int) -> None:
        try:
            for _ in range(3):
                results[n] = members(render_docx(template, datas[n]).content)
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(datas))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    assert [results[n] for n in range(len(datas))] == expected


def test_untouched_members_are_copied_compressed_as_they_are() -> None:
    template = (EXAMPLE / "contrato-grande.docx").read_bytes()
    data = demo_data(2)
    data["company"]["logo"] = None
    result = render_docx(template, data)
    prepared = docx_module._prepared(template)
    assert prepared is not None
    with zipfile.ZipFile(io.BytesIO(result.content)) as archive:
        styles = archive.getinfo("word/styles.xml")
        stored = prepared.package.members["word/styles.xml"]
        assert (styles.CRC, styles.compress_size) == (stored.crc, len(stored.raw))
        assert re.search(rb"Item 2", archive.read("word/document.xml"))


def test_compiled_code_is_kept_with_the_template(monkeypatch: pytest.MonkeyPatch) -> None:
    template = build(text("{{ a }} código"), header_and_footer)
    render_docx(template, {"a": 1})
    environment._CODE_CACHE._entries.clear()  # as if other templates had filled it
    compiled: list[str] = []
    compile_ = environment.DocgEnvironment.compile

    def counting(self: environment.DocgEnvironment, source: Any, *args: Any, **kwargs: Any) -> Any:
        compiled.append(source)
        return compile_(self, source, *args, **kwargs)

    monkeypatch.setattr(environment.DocgEnvironment, "compile", counting)
    result = render_docx(template, {"a": 2, "company": {"name": "X"}})
    assert compiled == []
    assert Document(io.BytesIO(result.content)).paragraphs[0].text == "2 código"
    other = render_docx(template, {"a": 3, "company": {"name": "X"}}, filters={"upper": str.lower})
    assert len(compiled) == 3  # other filters, other code: the body, the header, the footer
    assert Document(io.BytesIO(other.content)).sections[0].header.paragraphs[0].text == "x "
