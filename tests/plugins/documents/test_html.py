"""HTML and Markdown letter templates."""

from __future__ import annotations

import base64

import pytest

from docg_documents.templating import (
    TemplateRenderError,
    TemplateSyntaxProblem,
    inspect_html,
    inspect_template,
    render_html,
)

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8DwHwAFBQIAX8jx0gAAAABJRU5ErkJggg=="
)
DEAL = {
    "name": "Padaria Pão Quente",
    "amount": "12345.6",
    "items": [{"name": "Plano Pro", "price": 199.9}, {"name": "Suporte", "price": 50}],
}


def html(template: str, data: dict[str, object], **options: object) -> str:
    return render_html(template, data, **options).content.decode("utf-8")  # type: ignore[arg-type]


def test_the_result_is_a_complete_printable_utf8_document() -> None:
    document = html("<p>Olá, {{ deal.name }}: {{ deal.amount | currency }}</p>", {"deal": DEAL})
    assert document.startswith('<!DOCTYPE html>\n<html lang="pt-BR">')
    assert '<meta charset="utf-8">' in document
    assert "@page { size: A4; margin: 2cm; }" in document
    assert "<p>Olá, Padaria Pão Quente: R$ 12.345,60</p>" in document


def test_title_and_language_are_set() -> None:
    document = html("x", {}, title="Proposta <1>", lang="en")
    assert '<html lang="en">' in document and "<title>Proposta &lt;1&gt;</title>" in document


def test_values_are_escaped_and_line_breaks_become_br() -> None:
    data = {"deal": {"name": "<script>alert(1)</script> & Cia", "address": "Rua A\nSP"}}
    document = html("<p>{{ deal.name }}</p><p>{{ deal.address }}</p>", data)
    assert "<script>" not in document
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; Cia" in document
    assert "<p>Rua A<br>SP</p>" in document


def test_a_whole_document_template_is_kept_and_gets_a_charset() -> None:
    template = "<!DOCTYPE html><html><head><title>t</title></head><body>{{ a }}</body></html>"
    document = html(template, {"a": "ç"})
    assert document.startswith('<!DOCTYPE html><html><head><meta charset="utf-8"><title>')
    assert "<body>ç</body>" in document
    assert document.count("<html") == 1


def test_markdown_is_rendered_after_jinja() -> None:
    template = """# Proposta para {{ deal.name }}

| Item | Preço |
| --- | --- |
{% for item in deal.items %}
| {{ item.name }} | {{ item.price | currency }} |
{% endfor %}

**Total:** {{ deal.amount | currency }}

- um
- dois
"""
    document = html(template, {"deal": DEAL}, markdown=True)
    assert "<h1>Proposta para Padaria Pão Quente</h1>" in document
    assert "<td>Plano Pro</td>" in document and "<td>R$ 199,90</td>" in document
    assert "<td>Suporte</td>" in document
    assert "<strong>Total:</strong> R$ 12.345,60" in document
    assert "<li>um</li>" in document


def test_values_cannot_add_markdown_or_html() -> None:
    template = "Cliente: {{ name }}\n\n[site]({{ url }})"
    data = {"name": "**ACME** _x_ <b>y</b> [z](http://evil) # 1. - a|b", "url": "https://a.b/c_d"}
    document = html(template, data, markdown=True)
    assert "<strong>" not in document and "<em>" not in document and "<b>" not in document
    assert "evil" in document and 'href="http://evil"' not in document
    assert "**ACME** _x_ &lt;b&gt;y&lt;/b&gt; [z](http://evil) # 1. - a|b" in document
    assert '<a href="https://a.b/c_d">site</a>' in document


def test_images_are_embedded_as_data_uris() -> None:
    template = "{{ logo }}{{ raw | image(30) }}{{ ref }}"
    data = {
        "logo": {"image": PNG, "width_mm": 40, "description": "Logo <ACME>"},
        "raw": PNG,
        "ref": {"image": "org/logo.png"},
    }
    document = html(template, data, images={"org/logo.png": PNG})
    encoded = base64.b64encode(PNG).decode()
    assert (
        f'<img src="data:image/png;base64,{encoded}" alt="Logo &lt;ACME&gt;" style="width:40mm">'
        in document
    )
    assert 'style="width:30mm"' in document
    assert document.count("<img ") == 3


def test_an_unreadable_image_fails() -> None:
    with pytest.raises(TemplateRenderError) as caught:
        html("{{ logo }}", {"logo": {"image": b"%PDF"}})
    assert caught.value.code == "invalid_image"


def test_rich_text_becomes_inline_html() -> None:
    notes = {
        "rich": [
            {"text": "Urgente", "bold": True, "color": "#c00000"},
            " <e> ",
            {"text": "contrato", "italic": True, "url": "https://docg.example/c?a=1&b=2"},
        ]
    }
    document = html("<p>{{ notes }}</p>", {"notes": notes})
    assert (
        '<p><span style="color:#C00000"><strong>Urgente</strong></span> &lt;e&gt; '
        '<a href="https://docg.example/c?a=1&amp;b=2"><em>contrato</em></a></p>'
    ) in document


def test_rich_text_refuses_unsafe_links() -> None:
    with pytest.raises(TemplateRenderError, match="url must start with"):
        html("{{ n }}", {"n": {"rich": [{"text": "x", "url": "javascript:alert(1)"}]}})


def test_missing_variables_and_strict_mode() -> None:
    template = (
        "{{ deal.name }} {{ deal.owner.name }} {% for i in deal.items %}{{ i.sku }}{% endfor %}"
    )
    result = render_html(template, {"deal": DEAL})
    assert result.missing_variables == ["deal.owner.name", "deal.items[].sku"]
    with pytest.raises(TemplateRenderError) as caught:
        render_html(template, {"deal": DEAL}, strict=True)
    assert caught.value.missing_variables == ["deal.owner.name", "deal.items[].sku"]


def test_syntax_errors_are_reported_by_line() -> None:
    template = "<p>{{ deal.name }}</p>\n<p>{{ deal.amount | currency( }}</p>\n{% if x %}\n"
    with pytest.raises(TemplateSyntaxProblem) as caught:
        render_html(template, {})
    found = {(p.location, p.tag) for p in caught.value.problems}
    assert ("line 2", "{{ deal.amount | currency( }}") in found
    assert ("line 3", "{% if x %}") in found


def test_inspect_html_and_markdown_files(tmp_path: pytest.TempPathFactory) -> None:
    info = inspect_html(
        "{{ a.b }}{% for x in a.items %}{{ x.c | upper }}{% endfor %}{{ d | image }}"
    )
    assert info.variables == ["a.b", "a.items", "a.items[].c", "d"]
    assert info.loops == ["a.items"] and info.images == ["d"]
    path = tmp_path / "letter.md"  # type: ignore[operator]
    path.write_text("# {{ deal.name }}", encoding="utf-8")
    assert inspect_template(path).variables == ["deal.name"]


def test_the_sandbox_refuses_escapes() -> None:
    with pytest.raises(TemplateRenderError) as caught:
        render_html("{{ cycler.__init__.__globals__.os }}", {})
    assert caught.value.code == "unsafe_template"


def test_html_and_markdown_renders_of_one_template_do_not_share_escaping() -> None:
    template = "{{ v }}"
    assert "<p>*x*</p>" in html(template, {"v": "*x*"}, markdown=True)
    assert "<body>\n*x*\n</body>" in html(template, {"v": "*x*"})
    assert "<p>*x*</p>" in html(template, {"v": "*x*"}, markdown=True)
