"""DocG AI app: text and JSON from OpenAI, Anthropic or Google Gemini models.

Registered through the ``docg.apps`` entry point (``ai = "docg_ai"``).
"""

from __future__ import annotations

from collections.abc import Sequence

from docg_core import hookimpl
from docg_core.apps import BaseApp

__all__ = ["docg_apps"]


@hookimpl
def docg_apps() -> Sequence[type[BaseApp]]:
    from .app import AIApp

    return [AIApp]
