"""Results, problems, errors and the special values (images, rich text) of document templates.

::

    StepError (docg_core.errors)
    └── TemplateRenderError        a template could not be rendered; the step fails (not retried)
        └── TemplateSyntaxProblem  the template itself is malformed; ``.problems`` says where
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from docg_core.errors import StepError

__all__ = [
    "Image",
    "RenderResult",
    "RichText",
    "RichTextSegment",
    "TemplateInfo",
    "TemplateProblem",
    "TemplateRenderError",
    "TemplateSyntaxProblem",
    "as_image",
    "as_rich_text",
]


# --------------------------------------------------------------------------------- results


@dataclass(frozen=True)
class RenderResult:
    """A rendered document and the variables the template used but the data did not have.

    ``missing_variables`` holds dotted paths (``deal.owner.name``; ``items[].sku`` for a field of
    a list element), each once, in the order the renderer met them.
    """

    content: bytes
    missing_variables: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class TemplateProblem:
    """One thing wrong with a template: what, where (``paragraph 3``, ``table 1, row 2, cell 1``,
    ``slide 2, shape 'Title 1'``, ``line 4``) and the offending tag text."""

    message: str
    location: str
    tag: str

    def __str__(self) -> str:
        return f"{self.location}: {self.message} (in {self.tag!r})"

    def to_dict(self) -> dict[str, str]:
        return {"message": self.message, "location": self.location, "tag": self.tag}


@dataclass(frozen=True)
class TemplateInfo:
    """What a template needs, found without rendering it.

    - ``variables``: every data path the template reads, in document order; a field of a loop
      variable is written relative to the list it walks: ``deal.items[].name``.
    - ``loops``: the paths the template iterates (``deal.items``).
    - ``images``: the paths passed through the ``image`` filter (``company.logo``).
    - ``errors``: syntax problems; a template with errors cannot be rendered.
    """

    variables: list[str] = field(default_factory=list)
    loops: list[str] = field(default_factory=list)
    images: list[str] = field(default_factory=list)
    errors: list[TemplateProblem] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors


# ---------------------------------------------------------------------------------- errors


class TemplateRenderError(StepError):
    """A template could not be rendered with the data; the step fails with this message.

    ``code`` is one of ``missing_variables`` (strict mode), ``template_syntax``,
    ``unsafe_template`` (the sandbox refused an expression), ``invalid_image``,
    ``invalid_template`` (not a readable .docx/.pptx) or ``render_failed``.
    """

    def __init__(
        self,
        message: str,
        *,
        code: str = "render_failed",
        missing_variables: Sequence[str] = (),
        problems: Sequence[TemplateProblem] = (),
        details: dict[str, object] | None = None,
    ) -> None:
        self.missing_variables = list(missing_variables)
        self.problems = list(problems)
        extra: dict[str, object] = dict(details or {})
        if self.missing_variables:
            extra["missing_variables"] = list(self.missing_variables)
        if self.problems:
            extra["problems"] = [p.to_dict() for p in self.problems]
        super().__init__(message, code=code, details=extra)


class TemplateSyntaxProblem(TemplateRenderError):
    """The template is malformed (an unclosed tag, a bad expression, an unknown filter).

    ``problems`` lists each one with its location and tag, as :func:`inspect_template` reports.
    """

    def __init__(self, problems: Sequence[TemplateProblem]) -> None:
        listed = "; ".join(str(p) for p in problems) or "syntax error"
        super().__init__(
            f"the template has syntax errors: {listed}. Fix the tags in the template and upload "
            "it again",
            code="template_syntax",
            problems=problems,
        )


# ---------------------------------------------------------------------------- image values


@dataclass(frozen=True)
class Image:
    """An image to place at a template tag.

    ``data`` is the image file (PNG, JPEG, GIF, BMP or TIFF) or a reference (a storage key or
    URL) that the caller resolved beforehand and passes in the renderer's ``images`` mapping.
    With only one of ``width_mm``/``height_mm`` the other follows the aspect ratio; with neither
    the image keeps its own size, shrunk to the page width if wider.

    In data, the same thing is written as a dict: ``{"image": <bytes or reference>,
    "width_mm": 40}`` (keys: ``image``, ``width_mm``, ``height_mm``, ``description``).
    """

    data: bytes | str
    width_mm: float | None = None
    height_mm: float | None = None
    description: str = ""


_IMAGE_KEYS = frozenset({"image", "width_mm", "height_mm", "description"})


def _size(value: object, key: str) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"{key} must be a number of millimetres, not {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"{key} must be a number of millimetres, not {value!r}") from None
    if not 0 < number <= 2000:
        raise ValueError(f"{key} must be between 0 and 2000 mm, not {value!r}")
    return number


def as_image(value: object) -> Image | None:
    """Return ``value`` as an :class:`Image` when it is one (an ``Image`` or an image dict).

    A dict is an image only when it has an ``image`` key and no keys other than ``image``,
    ``width_mm``, ``height_mm`` and ``description`` — so a CRM record that merely has an
    ``image`` field stays a record.
    """
    if isinstance(value, Image):
        return value
    if not isinstance(value, Mapping) or "image" not in value or not set(value) <= _IMAGE_KEYS:
        return None
    data = value["image"]
    if isinstance(data, bytearray | memoryview):
        data = bytes(data)
    if not isinstance(data, bytes | str):
        return None
    return Image(
        data=data,
        width_mm=_size(value.get("width_mm"), "width_mm"),
        height_mm=_size(value.get("height_mm"), "height_mm"),
        description=str(value.get("description") or ""),
    )


# ------------------------------------------------------------------------ rich text values

_COLOR = re.compile(r"#?[0-9A-Fa-f]{6}")


@dataclass(frozen=True)
class RichTextSegment:
    """A piece of text with its own formatting; unset attributes inherit the tag's formatting."""

    text: str
    bold: bool | None = None
    italic: bool | None = None
    underline: bool | None = None
    strike: bool | None = None
    color: str | None = None  # "RRGGBB"
    highlight: str | None = None  # "RRGGBB" background
    size: float | None = None  # points
    font: str | None = None
    superscript: bool | None = None
    subscript: bool | None = None
    url: str | None = None


@dataclass(frozen=True)
class RichText:
    """Formatted text for one tag: ``{"rich": [{"text": "Total: ", "bold": true}, "R$ 10"]}``.

    Each segment is a string or a dict with ``text`` and any of ``bold``, ``italic``,
    ``underline``, ``strike``, ``superscript``, ``subscript`` (booleans), ``color`` and
    ``highlight`` (``"#RRGGBB"``), ``size`` (points), ``font`` (a font name) and ``url``
    (``http(s)://``, ``mailto:`` or ``tel:``, making the segment a link).
    """

    segments: tuple[RichTextSegment, ...]

    @property
    def plain_text(self) -> str:
        return "".join(s.text for s in self.segments)


_SEGMENT_FLAGS = ("bold", "italic", "underline", "strike", "superscript", "subscript")
_SEGMENT_KEYS = frozenset({"text", "color", "highlight", "size", "font", "url", *_SEGMENT_FLAGS})
_SAFE_URL = re.compile(r"(?:https?://|mailto:|tel:)\S+", re.IGNORECASE)


def _segment(item: object, index: int) -> RichTextSegment:
    if isinstance(item, RichTextSegment):
        return item
    if isinstance(item, str):
        return RichTextSegment(text=item)
    if not isinstance(item, Mapping):
        raise ValueError(f"rich text segment {index} must be a string or an object, not {item!r}")
    unknown = set(item) - _SEGMENT_KEYS
    if unknown:
        raise ValueError(
            f"rich text segment {index} has unknown keys {sorted(unknown)}; "
            f"allowed: {sorted(_SEGMENT_KEYS)}"
        )
    text = item.get("text")
    flags: dict[str, bool | None] = {}
    for key in _SEGMENT_FLAGS:
        flag = item.get(key)
        flags[key] = None if flag is None else bool(flag)
    colors: dict[str, str | None] = {}
    for key in ("color", "highlight"):
        color = item.get(key)
        if color is not None and not (isinstance(color, str) and _COLOR.fullmatch(color)):
            raise ValueError(f"rich text segment {index}: {key} must be '#RRGGBB', not {color!r}")
        colors[key] = color.lstrip("#").upper() if isinstance(color, str) else None
    size = item.get("size")
    if size is not None and (
        isinstance(size, bool) or not isinstance(size, int | float) or not 1 <= size <= 400
    ):
        raise ValueError(f"rich text segment {index}: size must be 1-400 points, not {size!r}")
    url = item.get("url")
    if url is not None and not (isinstance(url, str) and _SAFE_URL.fullmatch(url)):
        raise ValueError(
            f"rich text segment {index}: url must start with http://, https://, mailto: or tel:"
        )
    font = item.get("font")
    return RichTextSegment(
        text="" if text is None else str(text),
        color=colors["color"],
        highlight=colors["highlight"],
        size=float(size) if size is not None else None,
        font=str(font) if font else None,
        url=url,
        **flags,
    )


def as_rich_text(value: object) -> RichText | None:
    """Return ``value`` as :class:`RichText` when it is one (a ``RichText`` or ``{"rich": [...]}``).

    :raises ValueError: a ``{"rich": ...}`` dict whose segments are malformed.
    """
    if isinstance(value, RichText):
        return value
    if not isinstance(value, Mapping) or set(value) != {"rich"}:
        return None
    items: Any = value["rich"]
    if isinstance(items, str | Mapping):
        items = [items]
    if not isinstance(items, Sequence):
        raise ValueError(f"'rich' must be a list of segments, not {items!r}")
    return RichText(tuple(_segment(item, i) for i, item in enumerate(items)))
