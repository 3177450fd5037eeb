"""DocG ZapSign app: stored PDFs sent for electronic signature, and the wait for signatures.

Registered through the ``docg.apps`` entry point (``zapsign = "docg_zapsign"``).
"""

from __future__ import annotations

from collections.abc import Sequence

from docg_core import hookimpl
from docg_core.apps import BaseApp

__all__ = ["docg_apps"]


@hookimpl
def docg_apps() -> Sequence[type[BaseApp]]:
    from .app import ZapSignApp

    return [ZapSignApp]
