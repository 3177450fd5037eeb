"""Document templates: Word, PowerPoint and HTML/Markdown filled with data in a Jinja sandbox.

The author guide is ``docs/templates.md``. The public surface:

- :func:`render_docx`, :func:`render_pptx`, :func:`render_html` → :class:`RenderResult`
  (``content`` bytes, ``missing_variables``);
- :func:`repair_docx` (run when a Word template is uploaded) and :func:`inspect_template`
  (.docx/.pptx; :func:`inspect_html` for HTML/Markdown) → :class:`TemplateInfo`;
- :func:`make_environment` and :data:`BUILTIN_FILTERS` for other text that needs the same
  filters and sandbox;
- :class:`Image`, :class:`RichText` for callers that build values in Python (in data, use the
  dict forms ``{"image": …}`` and ``{"rich": […]}``); :func:`as_image` / :func:`as_rich_text`
  recognise those forms (the action uses ``as_image`` to find image references to fetch);
- :class:`TemplateRenderError` (a non-retryable ``StepError``) and its subclass
  :class:`TemplateSyntaxProblem`.

Names are imported lazily: ``docg_documents.templating.filters`` (loaded when the plugin's
filters are registered) does not pull in python-docx, python-pptx or docxtpl.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "Image": "_model",
    "RenderResult": "_model",
    "RichText": "_model",
    "RichTextSegment": "_model",
    "TemplateInfo": "_model",
    "TemplateProblem": "_model",
    "TemplateRenderError": "_model",
    "TemplateSyntaxProblem": "_model",
    "as_image": "_model",
    "as_rich_text": "_model",
    "inspect_template": "docx",
    "render_docx": "docx",
    "repair_docx": "docx",
    "DocgEnvironment": "environment",
    "make_environment": "environment",
    "BUILTIN_FILTERS": "filters",
    "inspect_html": "html",
    "render_html": "html",
    "inspect_pptx": "pptx",
    "render_pptx": "pptx",
}

__all__ = [
    "BUILTIN_FILTERS",
    "DocgEnvironment",
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
    "inspect_html",
    "inspect_pptx",
    "inspect_template",
    "make_environment",
    "render_docx",
    "render_html",
    "render_pptx",
    "repair_docx",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:
    from ._model import (
        Image,
        RenderResult,
        RichText,
        RichTextSegment,
        TemplateInfo,
        TemplateProblem,
        TemplateRenderError,
        TemplateSyntaxProblem,
        as_image,
        as_rich_text,
    )
    from .docx import inspect_template, render_docx, repair_docx
    from .environment import DocgEnvironment, make_environment
    from .filters import BUILTIN_FILTERS
    from .html import inspect_html, render_html
    from .pptx import inspect_pptx, render_pptx
