"""Word templates: built with python-docx here, rendered, and read back with python-docx."""

from __future__ import annotations

import io
import subprocess
import zipfile
from pathlib import Path

import pytest
from docx import Document
from docx.document import Document as DocumentObject
from docx.enum.text import WD_COLOR_INDEX
from docx.oxml.ns import qn
from docx.shared import Mm, Pt, RGBColor
from pypdf import PdfReader
from support.docx_builders import build, png, raw, text

from docg_core.errors import StepError
from docg_documents.templating import (
    Image,
    TemplateRenderError,
    TemplateSyntaxProblem,
    inspect_template,
    render_docx,
    repair_docx,
)

# ------------------------------------------------------------------------------ helpers


def read(content: bytes) -> DocumentObject:
    return Document(io.BytesIO(content))


def texts(document: DocumentObject) -> list[str]:
    return [p.text for p in document.paragraphs]


DEAL = {
    "name": "Padaria Pão Quente",
    "amount": "12345.6",
    "owner": {"name": "Ana"},
    "items": [
        {"name": "Plano Pro", "quantity": 2, "price": 199.9},
        {"name": "Implantação", "quantity": 1, "price": 1500},
        {"name": "Suporte", "quantity": 12, "price": 50},
    ],
}


def formatted_paragraph(document: DocumentObject) -> None:
    paragraph = document.add_paragraph()
    label = paragraph.add_run("Cliente: ")
    label.bold = True
    value = paragraph.add_run("{{ deal.name }}")
    value.italic = True
    value.font.name = "Arial"
    value.font.size = Pt(14)
    value.font.color.rgb = RGBColor(0x11, 0x22, 0x33)
    tail = paragraph.add_run(" — valor {{ deal.amount | currency }}.")
    tail.underline = True


# ----------------------------------------------------------------------------- variables


def test_variables_render_and_every_run_keeps_its_formatting() -> None:
    result = render_docx(build(formatted_paragraph), {"deal": DEAL})

    paragraph = read(result.content).paragraphs[0]
    assert paragraph.text == "Cliente: Padaria Pão Quente — valor R$ 12.345,60."
    runs = {run.text: run for run in paragraph.runs if run.text}
    assert runs["Cliente: "].bold is True
    name = runs["Padaria Pão Quente"]
    assert name.italic is True
    assert name.font.name == "Arial"
    assert name.font.size == Pt(14)
    assert name.font.color.rgb == RGBColor(0x11, 0x22, 0x33)
    assert runs["R$ 12.345,60"].underline is True
    assert runs[" — valor "].underline is True
    assert result.missing_variables == []


def test_values_with_xml_characters_and_accents_stay_text() -> None:
    name = "Smith & Filhos <Ltda> \"Ação\" 'ç'"
    result = render_docx(build(text("{{ deal.name }}")), {"deal": {"name": name}})
    assert texts(read(result.content))[0] == name


def test_xml_escapes_inside_tags_are_jinja_source() -> None:
    template = build(
        text(
            "{% if deal.amount < 1000 %}pequeno{% else %}grande{% endif %}",
            '{{ deal.name ~ " & Cia" }}',
        )
    )
    result = render_docx(template, {"deal": {"amount": 10, "name": "Silva"}})
    assert texts(read(result.content))[:2] == ["pequeno", "Silva & Cia"]


def test_none_prints_nothing_and_line_breaks_in_values_become_breaks() -> None:
    template = build(text("[{{ deal.note }}]", "{{ deal.address }}"))
    result = render_docx(template, {"deal": {"note": None, "address": "Rua A, 1\r\nSão Paulo"}})
    document = read(result.content)
    assert document.paragraphs[0].text == "[]"
    assert document.paragraphs[1].text == "Rua A, 1\nSão Paulo"  # a w:br, read back as \n
    assert document.paragraphs[1]._p.xpath(".//w:br")


def test_headers_and_footers_are_rendered() -> None:
    def header_and_footer(document: DocumentObject) -> None:
        section = document.sections[0]
        section.header.paragraphs[0].text = "{{ company.name | upper }}"
        section.footer.paragraphs[0].text = "CNPJ {{ company.cnpj | cnpj }}"

    result = render_docx(
        build(header_and_footer, text("corpo")),
        {"company": {"name": "DocG Ltda", "cnpj": "12345678000195"}},
    )
    section = read(result.content).sections[0]
    assert section.header.paragraphs[0].text == "DOCG LTDA"
    assert section.footer.paragraphs[0].text == "CNPJ 12.345.678/0001-95"


# -------------------------------------------------------------------- loops, conditions


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


def test_a_table_row_loop_repeats_the_row_once_per_item() -> None:
    result = render_docx(build(items_table), {"deal": DEAL})

    table = read(result.content).tables[0]
    rows = [[cell.text for cell in row.cells] for row in table.rows]
    assert rows == [
        ["Item", "Qtd", "Preço"],
        ["Plano Pro", "2", "R$ 199,90"],
        ["Implantação", "1", "R$ 1.500,00"],
        ["Suporte", "12", "R$ 50,00"],
    ]
    assert table.rows[0].cells[0].paragraphs[0].runs[0].bold is True
    assert all(row.cells[0].paragraphs[0].runs[0].italic for row in list(table.rows)[1:])


def test_an_empty_list_leaves_only_the_header_row() -> None:
    result = render_docx(build(items_table), {"deal": {**DEAL, "items": []}})
    assert len(read(result.content).tables[0].rows) == 1


def conditional(document: DocumentObject) -> None:
    document.add_paragraph("Antes")
    document.add_paragraph("{%p if deal.discount %}")
    document.add_paragraph("Desconto: {{ deal.discount }}%")
    document.add_paragraph("{%p endif %}")
    document.add_paragraph("Depois")


@pytest.mark.parametrize(
    ("discount", "expected"),
    [(None, ["Antes", "Depois"]), (10, ["Antes", "Desconto: 10%", "Depois"])],
)
def test_a_paragraph_condition_removes_its_paragraphs(
    discount: int | None, expected: list[str]
) -> None:
    result = render_docx(build(conditional), {"deal": {"discount": discount}})
    assert texts(read(result.content)) == expected


def test_inline_condition_and_loop_inside_a_paragraph() -> None:
    template = build(
        text(
            "Prezad{% if deal.owner.gender == 'f' %}a{% else %}o{% endif %} {{ deal.owner.name }},",
            "Itens: {% for i in deal.items %}{{ i.name }}{% if not loop.last %}, {% endif %}"
            "{% endfor %}.",
        )
    )
    result = render_docx(template, {"deal": {**DEAL, "owner": {"name": "Ana", "gender": "f"}}})
    assert texts(read(result.content))[:2] == [
        "Prezada Ana,",
        "Itens: Plano Pro, Implantação, Suporte.",
    ]


def test_dict_keys_named_like_dict_methods_are_data() -> None:
    template = build(text("{% for i in deal.items %}{{ i.values }};{% endfor %}"))
    result = render_docx(template, {"deal": {"items": [{"values": "a"}, {"values": "b"}]}})
    assert texts(read(result.content))[0] == "a;b;"


# ------------------------------------------------------------------------------ repair


SPLIT = (
    # What Word writes after an edit: the tag in four runs, revision ids, spell-check marks,
    # the braces of the closing }} in different runs, and the first run's formatting.
    '<w:r w:rsidR="00A1B2C3"><w:rPr><w:rFonts w:ascii="Arial" w:hAnsi="Arial"/><w:b/></w:rPr>'
    '<w:t xml:space="preserve">Cliente: {{ deal.</w:t></w:r>'
    '<w:proofErr w:type="spellStart"/>'
    '<w:r w:rsidR="00D4E5F6"><w:rPr><w:i/></w:rPr><w:t>na</w:t></w:r>'
    '<w:proofErr w:type="spellEnd"/>'
    '<w:r w:rsidRPr="00112233"><w:t>me }</w:t></w:r>'
    '<w:r><w:rPr><w:u w:val="single"/></w:rPr><w:t xml:space="preserve">} fim</w:t></w:r>'
)


def test_a_tag_word_split_across_runs_renders_with_its_first_runs_formatting() -> None:
    result = render_docx(build(raw(SPLIT)), {"deal": DEAL})

    paragraph = read(result.content).paragraphs[0]
    assert paragraph.text == "Cliente: Padaria Pão Quente fim"
    name = next(r for r in paragraph.runs if r.text == "Padaria Pão Quente")
    assert name.bold is True
    assert name.font.name == "Arial"
    assert name.italic is None
    assert next(r for r in paragraph.runs if r.text == " fim").underline is True


@pytest.mark.parametrize(
    "inner",
    [
        # a tracked insertion and a smart tag: docxtpl alone drops " fim"
        '<w:r><w:t xml:space="preserve">Cliente: {{ deal.</w:t></w:r>'
        '<w:ins w:id="1" w:author="Ana" w:date="2026-01-01T00:00:00Z">'
        '<w:r><w:t>name }}</w:t></w:r></w:ins><w:r><w:t xml:space="preserve"> fim</w:t></w:r>',
        '<w:r><w:t xml:space="preserve">Cliente: {{ deal.</w:t></w:r>'
        '<w:smartTag w:uri="urn:x" w:element="place"><w:r><w:t>name }}</w:t></w:r></w:smartTag>'
        '<w:r><w:t xml:space="preserve"> fim</w:t></w:r>',
        # the two braces of {{ in different runs
        '<w:r><w:t xml:space="preserve">Cliente: {</w:t></w:r><w:r><w:t>{ deal.name }}</w:t>'
        '</w:r><w:r><w:t xml:space="preserve"> fim</w:t></w:r>',
    ],
    ids=["tracked-insertion", "smart-tag", "split-braces"],
)
def test_tricky_splits_render_completely(inner: str) -> None:
    result = render_docx(build(raw(inner)), {"deal": DEAL})
    assert texts(read(result.content))[0] == "Cliente: Padaria Pão Quente fim"


def test_smart_quotes_and_no_break_spaces_inside_tags_work() -> None:
    template = build(
        text(
            "{{\u00a0deal.date | date(“d ‘de’ MMMM ‘de’ y”) }}",
            "{% if deal.stage == „won“ %}ganho{% endif %}",
            "Aspas “fora” das tags ficam",
        )
    )
    result = render_docx(template, {"deal": {"date": "2026-11-26", "stage": "won"}})
    assert texts(read(result.content))[:3] == [
        "26 de novembro de 2026",
        "ganho",
        "Aspas “fora” das tags ficam",
    ]


def test_repair_docx_merges_split_tags_into_the_first_run() -> None:
    repaired = repair_docx(build(raw(SPLIT), text("sem tags")))

    paragraph = read(repaired).paragraphs[0]
    assert [run.text for run in paragraph.runs] == ["Cliente: {{ deal.name }}", " fim"]
    assert paragraph.runs[0].bold is True
    assert paragraph.runs[0].font.name == "Arial"
    assert paragraph.runs[1].underline is True
    assert not paragraph._p.findall(qn("w:proofErr"))


def test_repair_docx_copies_parts_without_tags_byte_for_byte() -> None:
    original = build(text("sem tags"), raw(SPLIT))
    repaired = repair_docx(original)
    with (
        zipfile.ZipFile(io.BytesIO(original)) as before,
        zipfile.ZipFile(io.BytesIO(repaired)) as after,
    ):
        assert before.namelist() == after.namelist()
        for name in before.namelist():
            if name != "word/document.xml":
                assert before.read(name) == after.read(name), name
        assert before.read("word/document.xml") != after.read("word/document.xml")
    assert repair_docx(repaired) == repair_docx(repaired)


def test_repair_docx_rejects_a_file_that_is_not_a_docx() -> None:
    with pytest.raises(TemplateRenderError) as caught:
        repair_docx(b"not a zip")
    assert caught.value.code == "invalid_template"


# ----------------------------------------------------------------------------- missing


def test_missing_variables_are_reported_with_their_full_paths() -> None:
    template = build(
        text(
            "{{ deal.name }} / {{ deal.owner.email }} / {{ contact.phone | phone }}",
            "{% for item in deal.items %}{{ item.sku }}{% endfor %}",
            "{{ deal.coupon | default('sem cupom') }}{% if deal.extra is defined %}x{% endif %}",
        )
    )
    result = render_docx(template, {"deal": DEAL})
    assert result.missing_variables == ["deal.owner.email", "contact.phone", "deal.items[].sku"]
    assert texts(read(result.content))[0] == "Padaria Pão Quente /  / "


def test_strict_mode_fails_naming_every_missing_variable() -> None:
    template = build(text("{{ deal.name }} {{ deal.owner.email }} {{ contact.phone }}"))
    with pytest.raises(TemplateRenderError) as caught:
        render_docx(template, {"deal": DEAL}, strict=True)
    error = caught.value
    assert error.code == "missing_variables"
    assert error.missing_variables == ["deal.owner.email", "contact.phone"]
    assert "deal.owner.email" in str(error) and "contact.phone" in str(error)
    assert isinstance(error, StepError) and not error.retryable


# ------------------------------------------------------------------------------ images


def test_an_image_value_becomes_an_inline_picture_of_the_given_size() -> None:
    paragraph = raw(
        '<w:r><w:rPr><w:b/></w:rPr><w:t xml:space="preserve">Logo: {{ company.logo }} fim</w:t>'
        "</w:r>"
    )
    data = {"company": {"logo": {"image": png(200, 100), "width_mm": 40}}}
    result = render_docx(build(paragraph), data)

    document = read(result.content)
    assert len(document.inline_shapes) == 1
    shape = document.inline_shapes[0]
    assert shape.width == Mm(40)
    assert abs(shape.height - Mm(20)) <= Mm(0.1)  # aspect ratio kept
    paragraph_out = document.paragraphs[0]
    assert paragraph_out.text == "Logo:  fim"
    assert all(run.bold for run in paragraph_out.runs if run.text)  # text after the image too


def test_the_image_filter_sizes_bytes_references_and_image_values() -> None:
    template = build(
        text(
            "{{ photo | image(30) }}",
            "{{ logo_key | image(height_mm=10) }}",
            "{{ signature }}",
        )
    )
    result = render_docx(
        template,
        {
            "photo": png(100, 100),
            "logo_key": "org-1/logo.png",
            "signature": Image("sig.png", width_mm=25, description="Assinatura"),
        },
        images={"org-1/logo.png": png(300, 100), "sig.png": png(50, 50)},
    )
    shapes = read(result.content).inline_shapes
    assert [round(s.width / Mm(1)) for s in shapes] == [30, 30, 25]
    assert round(shapes[1].height / Mm(1)) == 10
    descriptions = read(result.content).element.body.xpath(".//wp:docPr/@descr")
    assert "Assinatura" in descriptions


def test_a_large_image_without_a_size_is_shrunk_to_the_page_width() -> None:
    result = render_docx(build(text("{{ banner }}")), {"banner": {"image": png(3000, 300)}})
    document = read(result.content)
    section = document.sections[0]
    usable = section.page_width - section.left_margin - section.right_margin
    assert document.inline_shapes[0].width == usable


def test_an_image_that_was_not_provided_or_is_not_an_image_fails_the_step() -> None:
    template = build(text("{{ logo }}"))
    with pytest.raises(TemplateRenderError, match="was not provided") as caught:
        render_docx(template, {"logo": {"image": "s3://bucket/logo.png"}})
    assert caught.value.code == "invalid_image"
    with pytest.raises(TemplateRenderError, match="not an image") as caught:
        render_docx(template, {"logo": {"image": b"GIF? no"}})
    assert caught.value.code == "invalid_image"


def test_a_record_with_an_image_field_is_not_an_image_value() -> None:
    template = build(text("{{ product.name }}: {{ product.image }}"))
    result = render_docx(template, {"product": {"name": "Pão", "image": "https://x/p.png"}})
    assert texts(read(result.content))[0] == "Pão: https://x/p.png"


# --------------------------------------------------------------------------- rich text


def test_rich_text_becomes_formatted_runs_that_inherit_the_tags_formatting() -> None:
    def paragraph(document: DocumentObject) -> None:
        p = document.add_paragraph()
        p.add_run("Obs: ")
        tag = p.add_run("{{ deal.notes }}")
        tag.font.name = "Georgia"
        tag.font.size = Pt(12)
        p.add_run(" fim")

    notes = {
        "rich": [
            {"text": "Urgente", "bold": True, "color": "#C00000"},
            " — ",
            {"text": "ver contrato", "italic": True, "url": "https://docg.example/c/1"},
            {"text": " & <anexo>", "highlight": "FFFF00", "size": 9, "strike": True},
        ]
    }
    result = render_docx(build(paragraph), {"deal": {"notes": notes}})

    out = read(result.content).paragraphs[0]
    assert out.text == "Obs: Urgente — ver contrato & <anexo> fim"
    runs = {run.text: run for run in out.iter_inner_content() if hasattr(run, "bold")}
    urgent = runs["Urgente"]
    assert urgent.bold is True
    assert urgent.font.color.rgb == RGBColor(0xC0, 0x00, 0x00)
    assert urgent.font.name == "Georgia" and urgent.font.size == Pt(12)  # inherited
    assert runs[" — "].bold is None and runs[" — "].font.name == "Georgia"
    last = runs[" & <anexo>"]
    assert last.font.strike is True and last.font.size == Pt(9)
    assert last._r.xpath("./w:rPr/w:shd/@w:fill") == ["FFFF00"]
    links = out.hyperlinks
    assert [link.address for link in links] == ["https://docg.example/c/1"]
    assert links[0].runs[0].italic is True
    assert WD_COLOR_INDEX  # (imported to show highlight colours use shading, not the index)


def test_malformed_rich_text_fails_with_its_path() -> None:
    with pytest.raises(TemplateRenderError, match=r"deal\.notes"):
        render_docx(build(text("{{ deal.notes }}")), {"deal": {"notes": {"rich": [{"txt": 1}]}}})


# ---------------------------------------------------------------------- syntax, inspect


def test_inspect_template_lists_variables_loops_and_images() -> None:
    template = build(
        formatted_paragraph,
        items_table,
        conditional,
        text(
            "{{ company.logo | image(40) }}",
            "{% set owner = deal.owner %}{{ owner.name }} {{ loop_free }}",
            "{% for k, v in deal.custom.items() %}{{ k }}={{ v }}{% endfor %}",
        ),
    )
    info = inspect_template(template)
    assert info.errors == []
    assert info.variables == [
        "deal.name",
        "deal.amount",
        "deal.items",
        "deal.items[].name",
        "deal.items[].quantity",
        "deal.items[].price",
        "deal.discount",
        "company.logo",
        "deal.owner",
        "deal.owner.name",
        "loop_free",
        "deal.custom",
    ]
    assert info.loops == ["deal.items", "deal.custom"]
    assert info.images == ["company.logo"]


def test_inspect_template_reports_syntax_errors_with_location_and_tag() -> None:
    def table(document: DocumentObject) -> None:
        t = document.add_table(rows=1, cols=2)
        t.cell(0, 1).text = "{{ item.price | moeda }}"

    template = build(
        text("Olá {{ deal.name }}", "Valor: {{ deal.amount | currency( }}", "{{ deal.x"),
        table,
        text("{% if deal.discount %}", "desconto"),
    )
    info = inspect_template(template)
    found = {(p.location, p.tag) for p in info.errors}
    assert ("paragraph 2", "{{ deal.amount | currency( }}") in found
    assert ("paragraph 3", "{{ deal.x") in found
    assert ("table 1, row 1, cell 2, paragraph 1", "{{ item.price | moeda }}") in found
    assert ("paragraph 4", "{% if deal.discount %}") in found
    messages = " ".join(p.message for p in info.errors)
    assert "not closed" in messages and "unknown filter 'moeda'" in messages
    assert "{% endif %}" in messages
    assert [p.location for p in info.errors] == [  # in document order
        "paragraph 2",
        "paragraph 3",
        "table 1, row 1, cell 2, paragraph 1",
        "paragraph 4",
    ]
    assert "deal.name" in info.variables  # best effort while a block is open


def test_rendering_a_template_with_a_syntax_error_names_where_it_is() -> None:
    template = build(text("ok", "{%p for item in deal.items %}", "{{ item.name }}"))
    with pytest.raises(TemplateSyntaxProblem) as caught:
        render_docx(template, {"deal": DEAL})
    error = caught.value
    assert error.code == "template_syntax" and not error.retryable
    assert [(p.location, p.tag) for p in error.problems] == [
        ("paragraph 2", "{%p for item in deal.items %}")
    ]
    assert "{%p endfor %}" in error.problems[0].message


def test_inspect_repairs_split_tags_first() -> None:
    info = inspect_template(build(raw(SPLIT)))
    assert info.variables == ["deal.name"] and info.errors == []


# ------------------------------------------------------------------------------ sandbox


@pytest.mark.parametrize(
    "expression",
    [
        "''.__class__.__mro__",
        "deal.__class__",
        "cycler.__init__.__globals__",
        "deal.clear()",
        "'{0.__class__}'.format(deal)",
        "2 ** 100000",
        "'x' * 100000000",
    ],
)
def test_the_sandbox_refuses_escapes(expression: str) -> None:
    template = build(text("{{ " + expression + " }}"))
    with pytest.raises(TemplateRenderError) as caught:
        render_docx(template, {"deal": {"name": "x"}})
    assert caught.value.code == "unsafe_template"


def test_a_file_that_is_not_a_docx_is_refused() -> None:
    with pytest.raises(TemplateRenderError) as caught:
        render_docx(b"%PDF-1.7", {})
    assert caught.value.code == "invalid_template"


def test_a_bad_filter_argument_fails_with_the_filters_message() -> None:
    with pytest.raises(TemplateRenderError, match="unknown currency code 'BRX'"):
        render_docx(build(text("{{ 1 | currency('BRX') }}")), {})


def test_templates_are_read_from_paths(tmp_path: pytest.TempPathFactory) -> None:
    path = tmp_path / "t.docx"  # type: ignore[operator]
    path.write_bytes(build(text("{{ a }}")))
    assert texts(read(render_docx(path, {"a": "b"}).content))[0] == "b"
    assert inspect_template(path).variables == ["a"]


# ------------------------------------------------------------------ compiled-code cache


def test_cached_template_code_never_carries_another_renders_images() -> None:
    # A constant expression is folded when Jinja compiles; compiled code is shared between
    # renders of the same template, so the per-render image filter must not be folded.
    template = build(text('{{ "logo.png" | image(30) }}'))
    wide = render_docx(template, {}, images={"logo.png": png(200, 100)})
    square = render_docx(template, {}, images={"logo.png": png(100, 100)})
    assert round(read(wide.content).inline_shapes[0].height / Mm(1)) == 15
    assert round(read(square.content).inline_shapes[0].height / Mm(1)) == 30


def test_cached_template_code_uses_each_renders_filters() -> None:
    template = build(text("{{ 2 | shout }}"))
    first = render_docx(template, {}, filters={"shout": lambda v: f"{v}!"})
    second = render_docx(template, {}, filters={"shout": lambda v: f"{v}?"})
    assert texts(read(first.content))[0] == "2!"
    assert texts(read(second.content))[0] == "2?"


# ----------------------------------------------------------------------------- validity


def to_pdf(source: Path) -> str:
    """Convert with LibreOffice, as production does; return the PDF's text."""
    profile = (source.parent / "lo-profile").as_uri()
    run = subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation={profile}", "--convert-to", "pdf",
         "--outdir", str(source.parent), str(source)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    pdf = source.with_suffix(".pdf")
    assert pdf.is_file(), run.stdout + run.stderr
    return "\n".join(page.extract_text() for page in PdfReader(pdf).pages)


@pytest.mark.soffice
def test_a_rendered_document_with_images_rich_text_and_loops_opens_in_libreoffice(
    tmp_path: Path,
) -> None:
    notes = {"rich": [{"text": "Urgente", "bold": True}, {"text": " ver", "url": "https://x.y"}]}
    template = build(raw(SPLIT), text("{{ notes }} {{ logo }} fim"), items_table)
    data = {"deal": DEAL, "notes": notes, "logo": {"image": png(200, 100), "width_mm": 40}}
    source = tmp_path / "out.docx"
    source.write_bytes(render_docx(template, data).content)
    pdf_text = to_pdf(source)
    assert "Cliente: Padaria Pão Quente fim" in pdf_text
    assert "Urgente ver" in pdf_text and "fim" in pdf_text
    assert "Implantação 1 R$ 1.500,00" in pdf_text
