"""PowerPoint templates: built with python-pptx here, rendered, and read back with python-pptx."""

from __future__ import annotations

import io
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lxml import etree
from pptx import Presentation
from pptx.dml.color import RGBColor
from pptx.util import Inches, Pt
from pypdf import PdfReader

from docg_documents.templating import (
    TemplateRenderError,
    TemplateSyntaxProblem,
    inspect_pptx,
    inspect_template,
    render_pptx,
)

# ------------------------------------------------------------------------------ helpers


def build(*steps: Callable[[Any], object]) -> bytes:
    presentation = Presentation()
    slide = presentation.slides.add_slide(presentation.slide_layouts[6])  # blank
    for step in steps:
        step(slide)
    out = io.BytesIO()
    presentation.save(out)
    return out.getvalue()


def box(
    *paragraphs: str | list[tuple[str, dict[str, Any]]], name: str = ""
) -> Callable[[Any], Any]:
    """A text box; each paragraph is a string or a list of (text, formatting) runs."""

    def step(slide: Any) -> Any:
        shape = slide.shapes.add_textbox(Inches(1), Inches(1), Inches(6), Inches(3))
        if name:
            shape.name = name
        frame = shape.text_frame
        for number, paragraph in enumerate(paragraphs):
            p = frame.paragraphs[0] if number == 0 else frame.add_paragraph()
            runs = [(paragraph, {})] if isinstance(paragraph, str) else paragraph
            for text, formatting in runs:
                run = p.add_run()
                run.text = text
                for key, value in formatting.items():
                    if key == "color":
                        run.font.color.rgb = value
                    else:
                        setattr(run.font, key, value)
        return shape

    return step


def read(content: bytes) -> Any:
    return Presentation(io.BytesIO(content))


def frame_texts(content: bytes, slide: int = 0) -> list[list[str]]:
    shapes = read(content).slides[slide].shapes
    return [[p.text for p in s.text_frame.paragraphs] for s in shapes if s.has_text_frame]


DEAL = {
    "name": "Padaria Pão Quente",
    "amount": 12345.6,
    "discount": 10,
    "owner": {"name": "Ana"},
    "items": [{"name": "Plano Pro", "price": 199.9}, {"name": "Suporte", "price": 50}],
}


# ----------------------------------------------------------------------------- render


def test_tags_render_and_each_run_keeps_its_formatting() -> None:
    template = build(
        box(
            [
                ("Cliente: ", {"bold": True, "size": Pt(20)}),
                ("{{ deal.name }}", {"italic": True, "name": "Arial", "color": RGBColor(1, 2, 3)}),
                (" — {{ deal.amount | currency }}", {"underline": True}),
            ]
        )
    )
    result = render_pptx(template, {"deal": DEAL})

    paragraph = read(result.content).slides[0].shapes[0].text_frame.paragraphs[0]
    assert paragraph.text == "Cliente: Padaria Pão Quente — R$ 12.345,60"
    label, name, tail = paragraph.runs
    assert label.text == "Cliente: " and label.font.bold is True and label.font.size == Pt(20)
    assert name.text == "Padaria Pão Quente"
    assert name.font.italic is True and name.font.name == "Arial"
    assert name.font.color.rgb == RGBColor(1, 2, 3)
    assert tail.font.underline is True
    assert result.missing_variables == []


def test_paragraphs_without_tags_stay_byte_identical() -> None:
    template = build(box([("Sem tags", {"bold": True})], "Olá {{ deal.name }}", "Fim"))
    body = read(template).slides[0].shapes[0].text_frame._txBody
    before = [etree.tostring(p) for p in body.iterchildren("{*}p")]

    result = render_pptx(template, {"deal": DEAL})
    after_body = read(result.content).slides[0].shapes[0].text_frame._txBody
    after = [etree.tostring(p) for p in after_body.iterchildren("{*}p")]
    assert after[0] == before[0] and after[2] == before[2]
    assert after[1] != before[1]


def test_shapes_without_tags_are_not_touched() -> None:
    template = build(box("Sem tags"), box("{{ deal.name }}"))
    shape_xml = etree.tostring(read(template).slides[0].shapes[0]._element)
    result = render_pptx(template, {"deal": DEAL})
    assert etree.tostring(read(result.content).slides[0].shapes[0]._element) == shape_xml


def test_a_control_paragraph_condition_removes_paragraphs() -> None:
    template = build(
        box(
            "Antes",
            "{% if deal.discount %}",
            "Desconto: {{ deal.discount }}%",
            "{% endif %}",
            "Fim",
        )
    )
    with_discount = render_pptx(template, {"deal": DEAL})
    without = render_pptx(template, {"deal": {**DEAL, "discount": 0}})
    assert frame_texts(with_discount.content) == [["Antes", "Desconto: 10%", "Fim"]]
    assert frame_texts(without.content) == [["Antes", "Fim"]]


def test_a_loop_over_paragraphs_repeats_them_with_their_formatting() -> None:
    template = build(
        box(
            "{% for item in deal.items %}",
            [("{{ item.name }}: ", {"bold": True}), ("{{ item.price | currency }}", {})],
            "{% endfor %}",
        )
    )
    result = render_pptx(template, {"deal": DEAL})
    paragraphs = read(result.content).slides[0].shapes[0].text_frame.paragraphs
    assert [p.text for p in paragraphs] == ["Plano Pro: R$ 199,90", "Suporte: R$ 50,00"]
    assert all(p.runs[0].font.bold is True and p.runs[1].font.bold is None for p in paragraphs)


def test_inline_condition_inside_a_paragraph() -> None:
    template = build(box("Olá{% if deal.owner.name %}, {{ deal.owner.name }}{% endif %}!"))
    assert frame_texts(render_pptx(template, {"deal": DEAL}).content) == [["Olá, Ana!"]]
    assert frame_texts(render_pptx(template, {"deal": {"owner": {}}}).content) == [["Olá!"]]


def test_values_with_xml_characters_line_breaks_and_accents() -> None:
    template = build(box("{{ deal.name }}", "{{ deal.address }}"))
    data = {"deal": {"name": 'Smith & Filhos <Ltda> "Ação"', "address": "Rua A, 1\nSão Paulo"}}
    result = render_pptx(template, data)
    paragraphs = read(result.content).slides[0].shapes[0].text_frame.paragraphs
    assert paragraphs[0].text == 'Smith & Filhos <Ltda> "Ação"'
    assert paragraphs[1].text == "Rua A, 1\vSão Paulo"  # python-pptx reads a:br as \v
    assert len(paragraphs) == 2


def test_tables_notes_and_groups_are_rendered() -> None:
    def table(slide: Any) -> None:
        shape = slide.shapes.add_table(2, 2, Inches(1), Inches(4), Inches(4), Inches(1))
        shape.table.cell(0, 0).text = "Valor"
        shape.table.cell(1, 0).text = "{{ deal.amount | currency }}"
        shape.table.cell(1, 1).text = "{{ deal.name | upper }}"

    def notes(slide: Any) -> None:
        slide.notes_slide.notes_text_frame.text = "Falar com {{ deal.owner.name }}"

    def group(slide: Any) -> None:
        grouped = slide.shapes.add_group_shape()
        grouped.shapes.add_textbox(
            0, 0, Inches(1), Inches(1)
        ).text_frame.text = "{{ deal.owner.name }}"

    result = render_pptx(build(table, notes, group), {"deal": DEAL})
    slide = read(result.content).slides[0]
    cells = slide.shapes[0].table
    assert [cells.cell(1, 0).text, cells.cell(1, 1).text] == ["R$ 12.345,60", "PADARIA PÃO QUENTE"]
    assert slide.notes_slide.notes_text_frame.text == "Falar com Ana"
    assert slide.shapes[1].shapes[0].text_frame.text == "Ana"


# ------------------------------------------------------------------------------ repair


def test_a_tag_split_across_runs_takes_its_first_runs_formatting() -> None:
    template = build(
        box(
            [
                ("Cliente: {{ deal.", {"bold": True, "name": "Arial"}),
                ("na", {"italic": True}),
                ("me }", {}),
                ("} fim", {"underline": True}),
            ]
        )
    )
    result = render_pptx(template, {"deal": DEAL})
    paragraph = read(result.content).slides[0].shapes[0].text_frame.paragraphs[0]
    assert paragraph.text == "Cliente: Padaria Pão Quente fim"
    assert paragraph.runs[0].font.bold is True and paragraph.runs[0].font.name == "Arial"
    assert paragraph.runs[-1].text == " fim" and paragraph.runs[-1].font.underline is True


def test_smart_quotes_inside_tags_work() -> None:
    template = build(box("{{ deal.date | date(“d ‘de’ MMMM ‘de’ y”) }} “fora”"))
    result = render_pptx(template, {"deal": {"date": "2026-11-26"}})
    assert frame_texts(result.content) == [["26 de novembro de 2026 “fora”"]]


# ----------------------------------------------------------------------------- missing


def test_missing_variables_are_reported_and_strict_names_them_all() -> None:
    template = build(
        box("{{ deal.name }} {{ deal.owner.email }}"),
        box("{% for i in deal.items %}{{ i.sku }}{% endfor %}"),
    )
    result = render_pptx(template, {"deal": DEAL})
    assert result.missing_variables == ["deal.owner.email", "deal.items[].sku"]

    with pytest.raises(TemplateRenderError) as caught:
        render_pptx(template, {"deal": DEAL}, strict=True)
    assert caught.value.code == "missing_variables"
    assert caught.value.missing_variables == ["deal.owner.email", "deal.items[].sku"]


# --------------------------------------------------------------------- syntax, inspect


def test_a_syntax_error_is_reported_with_slide_shape_and_paragraph() -> None:
    template = build(box("ok", "{{ deal.name | }}", name="Corpo"), box("{% if x %}sem fim"))
    with pytest.raises(TemplateSyntaxProblem) as caught:
        render_pptx(template, {})
    found = {(p.location, p.tag) for p in caught.value.problems}
    assert ("slide 1, shape 'Corpo', paragraph 2", "{{ deal.name | }}") in found
    assert ("slide 1, shape 'TextBox 2', paragraph 1", "{% if x %}") in found


def test_inspect_lists_variables_and_loops() -> None:
    template = build(
        box("{{ deal.name }}", "{% for item in deal.items %}", "{{ item.name }}", "{% endfor %}")
    )
    for info in (inspect_pptx(template), inspect_template(template)):
        assert info.errors == []
        assert info.variables == ["deal.name", "deal.items", "deal.items[].name"]
        assert info.loops == ["deal.items"]


def test_the_sandbox_refuses_escapes() -> None:
    with pytest.raises(TemplateRenderError) as caught:
        render_pptx(build(box("{{ ''.__class__.__mro__ }}")), {})
    assert caught.value.code == "unsafe_template"
    assert "slide 1" in str(caught.value)


def test_rich_text_prints_plain_and_images_print_nothing() -> None:
    template = build(box("[{{ notes }}][{{ logo }}][{{ logo | image(30) }}]"))
    data = {"notes": {"rich": [{"text": "a", "bold": True}, "b"]}, "logo": {"image": b"x"}}
    assert frame_texts(render_pptx(template, data).content) == [["[ab][][]"]]


def test_a_file_that_is_not_a_pptx_is_refused() -> None:
    with pytest.raises(TemplateRenderError) as caught:
        render_pptx(b"nope", {})
    assert caught.value.code == "invalid_template"


@pytest.mark.soffice
def test_a_rendered_presentation_opens_in_libreoffice(tmp_path: Path) -> None:
    template = build(
        box(
            "{% for item in deal.items %}",
            "{{ item.name }}: {{ item.price | currency }}",
            "{% endfor %}",
        )
    )
    source = tmp_path / "out.pptx"
    source.write_bytes(render_pptx(template, {"deal": DEAL}).content)
    profile = (tmp_path / "lo-profile").as_uri()
    run = subprocess.run(
        ["soffice", "--headless", f"-env:UserInstallation={profile}", "--convert-to", "pdf",
         "--outdir", str(tmp_path), str(source)],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    pdf = tmp_path / "out.pdf"
    assert pdf.is_file(), run.stdout + run.stderr
    text = PdfReader(pdf).pages[0].extract_text()
    assert "Plano Pro: R$ 199,90" in text and "Suporte: R$ 50,00" in text
