"""DocG ClickSign app: envelopes sent for e-signature, waited on until signed.

Registered through the ``docg.apps`` entry point (``clicksign = "docg_clicksign"``).
"""

from __future__ import annotations

from collections.abc import Sequence

from docg_core import hookimpl
from docg_core.apps import BaseApp

__all__ = ["docg_apps"]


@hookimpl
def docg_apps() -> Sequence[type[BaseApp]]:
    """The ClickSign app."""
    from .app import ClickSignApp

    return [ClickSignApp]
