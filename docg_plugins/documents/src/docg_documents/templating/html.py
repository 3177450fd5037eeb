"""HTML and Markdown letter templates, rendered to a complete HTML document for PDF conversion.

Values are HTML-escaped; in Markdown mode they are also Markdown-escaped, so data can never
add markup (``<script>``, ``**``, ``[link](…)``). A line break in a value becomes ``<br>``.
The result is a whole UTF-8 document with a small print stylesheet (A4, 2 cm margins), ready
for LibreOffice; a template that is already a whole document (``<!DOCTYPE html>`` or
``<html>``) is returned as rendered.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import markdown as markdown_lib
from jinja2 import TemplateSyntaxError, Undefined, pass_context
from markupsafe import Markup, escape

from ._analysis import LocatedTag, analyse
from ._model import (
    Image,
    RenderResult,
    RichText,
    TemplateInfo,
    TemplateProblem,
    TemplateRenderError,
    TemplateSyntaxProblem,
    as_image,
    as_rich_text,
)
from ._runs import OPENER, TAG, clean_tag
from .environment import finalize_value, make_environment, translate_errors

__all__ = ["PRINT_STYLESHEET", "inspect_html", "render_html"]

PRINT_STYLESHEET = """\
@page { size: A4; margin: 2cm; }
html { font-family: "Liberation Sans", Arial, Helvetica, sans-serif; font-size: 11pt;
       line-height: 1.45; color: #000; background: #fff; }
body { margin: 0; }
h1, h2, h3, h4 { line-height: 1.2; page-break-after: avoid; break-after: avoid; }
p { margin: 0 0 0.6em; orphans: 3; widows: 3; }
table { border-collapse: collapse; width: 100%; margin: 0.5em 0; }
th, td { border: 1px solid #999; padding: 4px 6px; text-align: left; vertical-align: top; }
tr, img { page-break-inside: avoid; break-inside: avoid; }
img { max-width: 100%; }
a { color: #0563c1; }
"""

_MARKDOWN_EXTENSIONS = ["tables", "sane_lists", "attr_list", "fenced_code"]
_MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~])")
_WHOLE_DOCUMENT = re.compile(r"\s*(?:<!--.*?-->\s*)*(?:<!doctype\s|<html[\s>])", re.I | re.S)
_IMAGE_TYPES = (
    (b"\x89PNG\r\n\x1a\n", "image/png"),
    (b"\xff\xd8\xff", "image/jpeg"),
    (b"GIF87a", "image/gif"),
    (b"GIF89a", "image/gif"),
    (b"BM", "image/bmp"),
)


# ------------------------------------------------------------------------------ values


def _image_tag(image: Image, path: str, store: Mapping[str, bytes]) -> Markup:
    data = image.data
    if isinstance(data, str):
        if data not in store:
            raise TemplateRenderError(
                f"the image {data!r} at {path} was not provided: fetch it and pass its bytes "
                "in `images`",
                code="invalid_image",
            )
        data = store[data]
    mime = next((m for magic, m in _IMAGE_TYPES if data.startswith(magic)), None)
    if mime is None and data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        mime = "image/webp"
    if mime is None:
        raise TemplateRenderError(
            f"the value at {path} is not an image (use PNG, JPEG, GIF, BMP or WebP)",
            code="invalid_image",
        )
    style = []
    if image.width_mm:
        style.append(f"width:{image.width_mm:g}mm")
    if image.height_mm:
        style.append(f"height:{image.height_mm:g}mm")
    encoded = base64.b64encode(data).decode("ascii")
    return Markup('<img src="data:{};base64,{}" alt="{}"{}>').format(
        mime,
        encoded,
        image.description,
        Markup(' style="{}"').format(";".join(style)) if style else "",
    )


class _HtmlImage:
    def __init__(self, image: Image, path: str, store: Mapping[str, bytes]) -> None:
        self.image, self.path, self.store = image, path, store

    def __html__(self) -> str:
        return str(_image_tag(self.image, self.path, self.store))

    __str__ = __html__


def _rich_html(rich: RichText) -> Markup:
    out = Markup("")
    for segment in rich.segments:
        html = Markup("<br>").join(escape(line) for line in segment.text.split("\n"))
        for flag, wrapper in (
            (segment.bold, Markup("<strong>{}</strong>")),
            (segment.italic, Markup("<em>{}</em>")),
            (segment.underline, Markup("<u>{}</u>")),
            (segment.strike, Markup("<s>{}</s>")),
            (segment.superscript, Markup("<sup>{}</sup>")),
            (segment.subscript, Markup("<sub>{}</sub>")),
        ):
            if flag:
                html = wrapper.format(html)
        style = []
        if segment.color:
            style.append(f"color:#{segment.color}")
        if segment.highlight:
            style.append(f"background-color:#{segment.highlight}")
        if segment.size:
            style.append(f"font-size:{segment.size:g}pt")
        if segment.font:
            style.append(f"font-family:{segment.font.replace(';', '')}")
        if style:
            html = Markup('<span style="{}">{}</span>').format(";".join(style), html)
        if segment.url:
            html = Markup('<a href="{}">{}</a>').format(segment.url, html)
        out += html
    return out


def _finalizer(markdown: bool) -> Callable[[Any], Any]:
    def finalize(value: Any) -> Any:
        value = finalize_value(value)
        if isinstance(value, str) and not isinstance(value, Markup):
            if markdown:
                value = _MARKDOWN_SPECIAL.sub(r"\\\1", value)
            return Markup("<br>").join(escape(line) for line in value.split("\n"))
        return value

    return finalize


# One function each (not one per render): compiled code is cached by finalize function.
_HTML_FINALIZE = _finalizer(markdown=False)
_MARKDOWN_FINALIZE = _finalizer(markdown=True)


# ------------------------------------------------------------------------------ render


def _document(body: str, title: str, lang: str) -> str:
    return (
        "<!DOCTYPE html>\n"
        f'<html lang="{escape(lang)}">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{escape(title)}</title>\n<style>\n{PRINT_STYLESHEET}</style>\n</head>\n"
        f"<body>\n{body}\n</body>\n</html>\n"
    )


def _with_charset(document: str) -> str:
    if re.search(r"<meta[^>]+charset", document, re.I):
        return document
    return re.sub(r"(<head[^>]*>)", r'\1<meta charset="utf-8">', document, count=1, flags=re.I)


def render_html(
    template: str,
    data: Mapping[str, Any],
    *,
    filters: Mapping[str, Callable[..., Any]] | None = None,
    strict: bool = False,
    markdown: bool = False,
    images: Mapping[str, bytes] | None = None,
    title: str = "",
    lang: str = "pt-BR",
) -> RenderResult:
    """Render an HTML (or, with ``markdown=True``, Markdown) template to a whole HTML document.

    :param template: the template text.
    :param data: the template's variables.
    :param filters: extra filters (the ``docg_template_filters`` hook), overriding built-ins.
    :param strict: fail when the template uses a variable the data does not have.
    :param markdown: the template is Markdown: Jinja runs first, then Markdown (tables, lists).
    :param images: the bytes of image references in the data (see ``render_docx``); images
        are embedded as ``data:`` URIs, so the document needs nothing else to print.
    :param title: the document's ``<title>``; ``lang`` its language.
    :return: the UTF-8 document and the missing variables.
    """
    env = make_environment(filters, strict=strict, autoescape=True)
    env.trim_blocks = env.lstrip_blocks = True
    env.finalize = _MARKDOWN_FINALIZE if markdown else _HTML_FINALIZE
    store = images or {}

    @pass_context  # made per render: never folded into cached template code
    def image_filter(
        context: Any, value: Any, width_mm: float | None = None, height_mm: float | None = None
    ) -> Any:
        if value is None or isinstance(value, Undefined):
            return value
        if isinstance(value, _HtmlImage):
            source: bytes | str = value.image.data
        elif isinstance(value, bytes | str):
            source = value
        else:
            return value
        sized = as_image({"image": source, "width_mm": width_mm, "height_mm": height_mm})
        assert sized is not None
        return _HtmlImage(sized, "image()", store)

    def convert(value: Any, path: str) -> Any:
        try:
            image = as_image(value)
            if image is not None:
                return _HtmlImage(image, path, store)
            rich = as_rich_text(value)
        except ValueError as exc:
            raise TemplateRenderError(f"the value at {path} is not valid: {exc}") from exc
        return value if rich is None else _rich_html(rich)

    env.filters["image"] = image_filter
    context = env.prepare_context(data, convert)
    try:
        with translate_errors():
            body = env.from_string(template).render(context)
    except TemplateSyntaxError as exc:
        problems = inspect_html(template, filters=filters).errors or [
            TemplateProblem(str(exc.message), f"line {exc.lineno}", "")
        ]
        raise TemplateSyntaxProblem(problems) from exc
    env.check_missing()
    if markdown:
        body = markdown_lib.markdown(body, extensions=_MARKDOWN_EXTENSIONS, output_format="html")
    whole = _WHOLE_DOCUMENT.match(body)
    document = _with_charset(body) if whole else _document(body, title, lang)
    return RenderResult(content=document.encode("utf-8"), missing_variables=env.missing_variables)


# ----------------------------------------------------------------------------- inspect


def _html_tags(template: str) -> Iterator[tuple[LocatedTag | None, TemplateProblem | None]]:
    position = 0

    def line(offset: int) -> str:
        return f"line {template.count(chr(10), 0, offset) + 1}"

    for match in TAG.finditer(template):
        opener = OPENER.search(template, position, match.start())
        if opener is not None:
            yield None, _unclosed(template, opener.start(), line(opener.start()))
        yield LocatedTag(clean_tag(match.group()), line(match.start())), None
        position = match.end()
    opener = OPENER.search(template, position)
    if opener is not None:
        yield None, _unclosed(template, opener.start(), line(opener.start()))


def _unclosed(template: str, start: int, location: str) -> TemplateProblem:
    closer = {"{{": "}}", "{%": "%}", "{#": "#}"}[template[start : start + 2]]
    return TemplateProblem(
        f"the tag is not closed: add {closer!r}", location, template[start : start + 60]
    )


def inspect_html(
    template: str, *, filters: Mapping[str, Callable[..., Any]] | None = None
) -> TemplateInfo:
    """What an HTML or Markdown template needs and what is wrong with it (``line N``)."""
    tags: list[LocatedTag] = []
    problems: list[TemplateProblem] = []
    for tag, problem in _html_tags(template):
        if tag is not None:
            tags.append(tag)
        if problem is not None:
            problems.append(problem)
    lines = [f"line {n}" for n in range(1, template.count("\n") + 2)]
    return analyse([tags], problems, filters=filters, order=lines)
