"""PowerPoint (.pptx) templates: ``{{ }}`` and simple ``{% %}`` in text frames, tables, notes.

Each text frame (a text box, a placeholder, a table cell, a notes page) is one template, so an
``{% if %}`` may span its paragraphs; a paragraph holding nothing but ``{% … %}`` tags
disappears from the output, like docxtpl's ``{%p … %}``. Tags split across runs are made
whole first (the tag takes the formatting of its first run). Then only the runs that hold a
tag are rewritten — each keeps its own formatting — and the runs and paragraphs around them
are kept as they were: a paragraph without tags stays byte-identical.

Images are not placed in PowerPoint templates (an image value prints nothing); rich text
prints its plain text.
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Callable, Iterator, Mapping
from copy import deepcopy
from pathlib import Path
from typing import Any

from jinja2 import TemplateSyntaxError
from lxml import etree
from pptx import Presentation
from pptx.shapes.group import GroupShape

from ._analysis import LocatedTag, analyse, find_tags
from ._model import (
    RenderResult,
    TemplateInfo,
    TemplateProblem,
    TemplateRenderError,
    TemplateSyntaxProblem,
    as_image,
    as_rich_text,
)
from ._runs import DRAWING, OPENER, TAG, merge_split_tags, paragraph_text
from .environment import DocgEnvironment, make_environment, translate_errors

__all__ = ["inspect_pptx", "render_pptx"]

Template = bytes | bytearray | os.PathLike[str]

_A = "http://schemas.openxmlformats.org/drawingml/2006/main"
_A_P, _A_R, _A_T, _A_BR, _A_FLD, _A_RPR, _A_END = (
    f"{{{_A}}}{name}" for name in ("p", "r", "t", "br", "fld", "rPr", "endParaRPr")
)
# Markers around the pieces of a frame's source; XML text cannot hold these characters, and
# the environment drops them from printed values.
_PIECE = re.compile("\x02([PSRC])(\\d+)(?:\\.(\\d+))?\x03|\x04")


def _read(template: Template) -> bytes:
    if isinstance(template, bytes | bytearray):
        return bytes(template)
    return Path(template).read_bytes()


def _load(blob: bytes) -> Any:
    error = TemplateRenderError(
        "the template is not a PowerPoint .pptx file (save it from PowerPoint as .pptx)",
        code="invalid_template",
    )
    if not zipfile.is_zipfile(io.BytesIO(blob)):
        raise error
    try:
        return Presentation(io.BytesIO(blob))
    except Exception as exc:
        raise error from exc


def _shape_frames(shape: Any, prefix: str) -> Iterator[tuple[str, etree._Element]]:
    where = f"{prefix}shape {shape.name!r}"
    if isinstance(shape, GroupShape):
        for inner in shape.shapes:
            yield from _shape_frames(inner, prefix)
        return
    if shape.has_text_frame:
        yield where, shape.text_frame._txBody
    if getattr(shape, "has_table", False) and shape.has_table:
        for row_number, row in enumerate(shape.table.rows, 1):
            for cell_number, cell in enumerate(row.cells, 1):
                body = cell._tc.txBody
                if body is not None:
                    yield f"{where}, row {row_number}, cell {cell_number}", body


def _frames(presentation: Any) -> Iterator[tuple[str, etree._Element]]:
    """Every text frame of the slides and their notes, with its location."""
    for number, slide in enumerate(presentation.slides, 1):
        for shape in slide.shapes:
            yield from _shape_frames(shape, f"slide {number}, ")
        if slide.has_notes_slide:
            for shape in slide.notes_slide.shapes:
                yield from _shape_frames(shape, f"slide {number} notes, ")


def _has_tag(text: str) -> bool:
    return OPENER.search(text) is not None


def _control_only(text: str) -> bool:
    """A paragraph of only ``{% %}``/``{# #}`` tags: it drives the others, and goes away."""
    tags = TAG.findall(text)
    return bool(tags) and not TAG.sub("", text).strip() and not any(t[1] == "{" for t in tags)


def _frame_source(paragraphs: list[etree._Element]) -> str | None:
    texts = [paragraph_text(p, DRAWING) for p in paragraphs]
    if not any(_has_tag(t) for t in texts):
        return None
    source: list[str] = []
    for i, (paragraph, text) in enumerate(zip(paragraphs, texts, strict=True)):
        if not _has_tag(text):
            source.append(f"\x02P{i}\x03")
        elif _control_only(text):
            source.append(text)
        else:
            source.append(f"\x02S{i}\x03")
            for j, child in enumerate(paragraph):
                if child.tag == _A_R:
                    run_text = child.findtext(_A_T) or ""
                    if _has_tag(run_text):
                        source.append(f"\x02R{i}.{j}\x03{run_text}\x04")
                    else:
                        source.append(f"\x02C{i}.{j}\x03")
                elif child.tag in (_A_BR, _A_FLD):
                    source.append(f"\x02C{i}.{j}\x03")
    return "".join(source)


def _append(paragraph: etree._Element, element: etree._Element) -> None:
    end = paragraph.find(_A_END)
    if end is not None:
        end.addprevious(element)
    else:
        paragraph.append(element)


def _emptied(paragraph: etree._Element) -> etree._Element:
    copy = deepcopy(paragraph)
    for child in [c for c in copy if c.tag in (_A_R, _A_BR, _A_FLD)]:
        copy.remove(child)
    return copy


def _add_text(paragraph: etree._Element, template_run: etree._Element, text: str) -> None:
    """Copies of ``template_run`` holding ``text``; each line break becomes an ``a:br``."""
    properties = template_run.find(_A_RPR)
    for number, line in enumerate(text.split("\n")):
        if number:
            brk = etree.SubElement(paragraph, _A_BR)
            if properties is not None:
                brk.append(deepcopy(properties))
            _append(paragraph, brk)
        if not line:
            continue
        run = deepcopy(template_run)
        target = run.find(_A_T)
        if target is None:
            target = etree.SubElement(run, _A_T)
        target.text = line
        _append(paragraph, run)


def _rebuild(paragraphs: list[etree._Element], output: str) -> list[etree._Element]:
    result: list[etree._Element] = []
    used: set[int] = set()
    current: etree._Element | None = None
    open_run: tuple[int, int] | None = None
    position = 0
    for match in _PIECE.finditer(output):
        between = output[position : match.start()]
        position = match.end()
        if match.group(0) == "\x04":
            if open_run is not None:
                i, j = open_run
                if current is None:
                    current = _emptied(paragraphs[i])
                    result.append(current)
                _add_text(current, paragraphs[i][j], between)
                open_run = None
            continue
        kind, i = match.group(1), int(match.group(2))
        if kind == "P":
            result.append(paragraphs[i] if i not in used else deepcopy(paragraphs[i]))
            used.add(i)
            current = None
        elif kind == "S":
            current = _emptied(paragraphs[i])
            result.append(current)
        else:
            j = int(match.group(3))
            if kind == "R":
                open_run = (i, j)
            else:
                if current is None:
                    current = _emptied(paragraphs[i])
                    result.append(current)
                _append(current, deepcopy(paragraphs[i][j]))
    return result


def _render_frame(env: DocgEnvironment, context: Mapping[str, Any], body: etree._Element) -> None:
    paragraphs = [p for p in body if p.tag == _A_P]
    for paragraph in paragraphs:
        merge_split_tags(paragraph, DRAWING)
    source = _frame_source(paragraphs)
    if source is None:
        return
    output = env.from_string(source).render(context)
    rendered = _rebuild(paragraphs, output) or [_emptied(paragraphs[0])]
    for paragraph in paragraphs:
        body.remove(paragraph)
    for paragraph in rendered:
        body.append(paragraph)


def _no_image(value: Any, *args: Any, **kwargs: Any) -> str:
    """PowerPoint templates do not place images: ``{{ x | image }}`` prints nothing."""
    return ""


def _convert(value: Any, path: str) -> Any:
    try:
        if as_image(value) is not None:
            return ""
        rich = as_rich_text(value)
    except ValueError as exc:
        raise TemplateRenderError(f"the value at {path} is not valid: {exc}") from exc
    return value if rich is None else rich.plain_text


def render_pptx(
    template: Template,
    data: Mapping[str, Any],
    *,
    filters: Mapping[str, Callable[..., Any]] | None = None,
    strict: bool = False,
) -> RenderResult:
    """Render a PowerPoint template with ``data``.

    :param template: the .pptx file, as bytes or a path.
    :param data: the template's variables.
    :param filters: extra filters (the ``docg_template_filters`` hook), overriding built-ins.
    :param strict: fail when the template uses a variable the data does not have.
    :return: the .pptx bytes and the missing variables.
    :raises TemplateSyntaxProblem: the template is malformed; ``problems`` say where.
    :raises TemplateRenderError: as :func:`~docg_documents.templating.render_docx`.
    """
    blob = _read(template)
    presentation = _load(blob)
    env = make_environment(filters, strict=strict)
    env.filters["image"] = _no_image
    context = env.prepare_context(data, _convert)
    for location, body in _frames(presentation):
        try:
            with translate_errors(location):
                _render_frame(env, context, body)
        except TemplateSyntaxError as exc:
            problems = inspect_pptx(blob, filters=filters).errors or [
                TemplateProblem(str(exc.message), location, "")
            ]
            raise TemplateSyntaxProblem(problems) from exc
    env.check_missing()
    out = io.BytesIO()
    presentation.save(out)
    return RenderResult(content=out.getvalue(), missing_variables=env.missing_variables)


def inspect_pptx(
    template: Template, *, filters: Mapping[str, Callable[..., Any]] | None = None
) -> TemplateInfo:
    """What a .pptx template needs and what is wrong with it, without rendering it.

    Locations read ``slide 2, shape 'Title 1', paragraph 1``.
    """
    presentation = _load(_read(template))
    groups: list[list[LocatedTag]] = []
    problems: list[TemplateProblem] = []
    order: list[str] = []
    for location, body in _frames(presentation):
        group: list[LocatedTag] = []
        for number, paragraph in enumerate((p for p in body if p.tag == _A_P), 1):
            merge_split_tags(paragraph, DRAWING)
            text = paragraph_text(paragraph, DRAWING)
            order.append(f"{location}, paragraph {number}")
            tags, unclosed = find_tags(text, order[-1])
            group.extend(tags)
            problems.extend(unclosed)
        if group:
            groups.append(group)
    return analyse(groups, problems, filters=filters, order=order)
