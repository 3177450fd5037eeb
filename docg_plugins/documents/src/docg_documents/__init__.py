"""DocG documents app: templates filled with data, converted to PDF.

Registered through the ``docg.apps`` entry point (``documents = "docg_documents"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from docg_core import hookimpl
from docg_core.apps import BaseApp

if TYPE_CHECKING:
    import typer

__all__ = ["docg_apps", "docg_register_commands", "docg_template_filters"]


@hookimpl
def docg_apps() -> Sequence[type[BaseApp]]:
    from .app import DocumentsApp

    return [DocumentsApp]


@hookimpl
def docg_template_filters() -> dict[str, Callable[..., Any]]:
    from .templating.filters import BUILTIN_FILTERS

    return dict(BUILTIN_FILTERS)


@hookimpl
def docg_register_commands(cli: typer.Typer) -> None:
    from .cli import template_cli

    cli.add_typer(template_cli)
