"""The server's entry in the ``docg`` plugin system: it adds commands and no apps.

Declared as ``server = "docg_server.plugin"`` in the ``docg.apps`` entry point group, because
that group is how :func:`docg_core.plugins.get_plugin_manager` finds plugins. Importing this
module is cheap: FastAPI, uvicorn and SQLAlchemy load only when a server command runs.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from docg_core import hookimpl

if TYPE_CHECKING:
    import typer

__all__ = ["docg_register_commands"]


@hookimpl
def docg_register_commands(cli: typer.Typer) -> None:
    from . import worker
    from .cli import register

    register(cli)
    worker.register(cli)
