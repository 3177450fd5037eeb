"""The ``greetings`` DocG plugin, found through its ``docg.apps`` entry point."""

from __future__ import annotations

from collections.abc import Sequence

from docg_core import hookimpl
from docg_core.apps import BaseApp

from .app import Greet, GreetingsApp

__all__ = ["Greet", "GreetingsApp", "docg_apps"]


@hookimpl
def docg_apps() -> Sequence[type[BaseApp]]:
    """The apps this plugin provides."""
    return [GreetingsApp]
