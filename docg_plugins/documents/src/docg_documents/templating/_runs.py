"""Make tags that Word or PowerPoint split across runs whole again.

Word stores ``{{ deal.name }}`` typed in one go as one run, but an edit, a spell-check mark
(``w:proofErr``), a revision id (``w:rsidR``) or a formatting change splits it::

    <w:r><w:t>{{ deal.</w:t></w:r><w:proofErr/><w:r w:rsidR="00A1"><w:t>name }}</w:t></w:r>

:func:`merge_split_tags` gives every character of a tag to the text element where the tag
starts — so the tag keeps the formatting of its first run — and leaves every other character
where it was. Inside tags it also turns typographic quotes and no-break spaces (Word's
autocorrect) into plain ones. Paragraphs without a split or dirty tag are not touched.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from copy import deepcopy
from dataclasses import dataclass

from lxml import etree

__all__ = [
    "DRAWING",
    "TAG",
    "WORD",
    "Dialect",
    "isolate_expressions",
    "merge_split_tags",
    "paragraph_text",
]

W = "http://schemas.openxmlformats.org/wordprocessingml/2006/main"
A = "http://schemas.openxmlformats.org/drawingml/2006/main"
XML_SPACE = "{http://www.w3.org/XML/1998/namespace}space"

TAG = re.compile(r"\{\{.*?\}\}|\{%.*?%\}|\{#.*?#\}", re.DOTALL)
"""A complete tag: ``{{ expression }}``, ``{% statement %}`` or ``{# comment #}``."""

OPENER = re.compile(r"\{\{|\{%|\{#")

# An expression tag that prints inline; docxtpl's {{p x}}, {{tr x}}, {{tc x}} replace their
# whole paragraph, row or cell and are left alone.
_INLINE_EXPRESSION = re.compile(r"(\{\{(?!(?:p|tr|tc)\s).*?\}\})", re.DOTALL)

_CLEAN = str.maketrans(
    {
        "“": '"',
        "”": '"',
        "„": '"',
        "‟": '"',
        "‘": "'",
        "’": "'",
        "‚": "'",
        "‛": "'",
        "\xa0": " ",
        "\u2007": " ",
        "\u202f": " ",
    }
)


@dataclass(frozen=True)
class Dialect:
    """The element names of one XML vocabulary's paragraphs and runs."""

    paragraph: str
    run: str
    text: str
    run_properties: str
    noise: frozenset[str] = frozenset()  # dropped from a paragraph whose tags were repaired
    preserve_space: bool = False


WORD = Dialect(
    paragraph=f"{{{W}}}p",
    run=f"{{{W}}}r",
    text=f"{{{W}}}t",
    run_properties=f"{{{W}}}rPr",
    noise=frozenset({f"{{{W}}}proofErr"}),
    preserve_space=True,
)
DRAWING = Dialect(
    paragraph=f"{{{A}}}p", run=f"{{{A}}}r", text=f"{{{A}}}t", run_properties=f"{{{A}}}rPr"
)


def text_elements(paragraph: etree._Element, dialect: Dialect) -> list[etree._Element]:
    """The run text elements of ``paragraph``, in order, not those of paragraphs nested in it
    (Word text boxes); text inside fields (``a:fld``) is not run text."""
    found: list[etree._Element] = []
    stack: list[Iterator[etree._Element]] = [iter(paragraph)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
            continue
        if child.tag == dialect.paragraph or not isinstance(child.tag, str):
            continue
        if child.tag == dialect.text:
            parent = child.getparent()
            if parent is not None and parent.tag == dialect.run:
                found.append(child)
            continue
        stack.append(iter(child))
    return found


def paragraph_text(paragraph: etree._Element, dialect: Dialect) -> str:
    return "".join(t.text or "" for t in text_elements(paragraph, dialect))


def _set_text(element: etree._Element, text: str, dialect: Dialect) -> None:
    element.text = text
    if dialect.preserve_space:
        if text != text.strip():
            element.set(XML_SPACE, "preserve")
        elif XML_SPACE in element.attrib:
            del element.attrib[XML_SPACE]


def merge_split_tags(paragraph: etree._Element, dialect: Dialect) -> bool:
    """Put each tag of ``paragraph`` into the text element where it starts; clean its quotes.

    :return: whether the paragraph changed.
    """
    elements = text_elements(paragraph, dialect)
    texts = [t.text or "" for t in elements]
    full = "".join(texts)
    if "{" not in full:
        return False
    spans = [m.span() for m in TAG.finditer(full)]
    if not spans:
        return False
    owner = [i for i, text in enumerate(texts) for _ in text]
    chars = list(full)
    changed = False
    for start, end in spans:
        first = owner[start]
        for k in range(start, end):
            if owner[k] != first:
                owner[k] = first
                changed = True
            clean = chars[k].translate(_CLEAN)
            if clean != chars[k]:
                chars[k] = clean
                changed = True
    if not changed:
        return False
    parts: list[list[str]] = [[] for _ in texts]
    for char, index in zip(chars, owner, strict=True):
        parts[index].append(char)
    for element, pieces, old in zip(elements, parts, texts, strict=True):
        text = "".join(pieces)
        if text == old:
            continue
        if text:
            _set_text(element, text, dialect)
            continue
        run = element.getparent()
        assert run is not None
        run.remove(element)
        if all(child.tag == dialect.run_properties for child in run):
            holder = run.getparent()
            if holder is not None:
                holder.remove(run)
    for noise in [child for child in paragraph if child.tag in dialect.noise]:
        paragraph.remove(noise)
    return True


def isolate_expressions(paragraph: etree._Element, dialect: Dialect) -> None:
    """Give every inline ``{{ … }}`` of ``paragraph`` a run of its own, with the same formatting.

    A value that closes the current run to insert its own (an image, rich text) then leaves
    the text after the tag in its own, still formatted, run. Call after
    :func:`merge_split_tags`.
    """
    runs = {t.getparent() for t in text_elements(paragraph, dialect)}
    for run in [r for r in paragraph.iter(dialect.run) if r in runs]:
        content = [child for child in run if child.tag != dialect.run_properties]
        if not any(
            child.tag == dialect.text and _INLINE_EXPRESSION.search(child.text or "")
            for child in content
        ):
            continue
        pieces: list[str | etree._Element] = []
        for child in content:
            if child.tag == dialect.text:
                pieces.extend(p for p in _INLINE_EXPRESSION.split(child.text or "") if p)
            else:
                pieces.append(child)
        if len(pieces) <= 1:
            continue
        properties = run.find(dialect.run_properties)
        holder = run.getparent()
        assert holder is not None
        position = holder.index(run)
        holder.remove(run)
        for offset, piece in enumerate(pieces):
            # Made inside the paragraph so it shares its namespace prefixes, then moved.
            new_run = etree.SubElement(holder, run.tag, attrib=dict(run.attrib))
            if properties is not None:
                new_run.append(deepcopy(properties))
            if isinstance(piece, str):
                text = etree.SubElement(new_run, dialect.text)
                text.text = piece
                if dialect.preserve_space:
                    text.set(XML_SPACE, "preserve")
            else:
                new_run.append(piece)
            holder.insert(position + offset, new_run)


def clean_tag(tag: str) -> str:
    """``{{ “x” }}`` → ``{{ "x" }}``: the quote and space cleaning applied inside tags."""
    return tag.translate(_CLEAN)
