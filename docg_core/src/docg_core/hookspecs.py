"""The hooks a DocG plugin may implement.

A plugin is a module (or object) with functions marked ``@hookimpl`` whose names match the
specs below; its distribution declares it in the ``docg.apps`` entry point group. Hooks are
always called with keyword arguments, so a spec may gain arguments without breaking plugins.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    import typer

    from .apps import BaseApp

__all__ = ["hookimpl", "hookspec"]

hookspec = pluggy.HookspecMarker("docg")
hookimpl = pluggy.HookimplMarker("docg")


@hookspec
def docg_apps() -> Sequence[type[BaseApp]]:  # type: ignore[empty-body]
    """Return the app classes this plugin provides.

    Called once when a registry is built (:func:`docg_core.plugins.get_registry`).

    :return: a list of :class:`docg_core.apps.BaseApp` subclasses, each with a unique ``key``.
    """


@hookspec
def docg_register_commands(cli: typer.Typer) -> None:
    """Add commands to the ``docg`` command line.

    Called when the CLI starts, before arguments are parsed.

    :param cli: the root ``typer.Typer`` application; call ``cli.command()`` or
        ``cli.add_typer()`` on it.
    """


@hookspec
def docg_template_filters() -> dict[str, Callable[..., Any]]:  # type: ignore[empty-body]
    """Return Jinja filters for document templates, by name.

    Called once when a registry is built; later plugins override earlier ones on a name clash.

    :return: a mapping of filter name to a plain function ``(value, *args) -> value``.
    """
