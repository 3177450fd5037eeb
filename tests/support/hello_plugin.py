"""A one-app plugin module, loaded through a (faked) entry point by the registry tests."""

from __future__ import annotations

from collections.abc import Sequence

from docg_core import hookimpl
from docg_core.apps import ActionResult, BaseAction, BaseApp
from docg_core.context import ExecutionContext


class SayHello(BaseAction):
    key = "say-hello"
    name = "Say hello"

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        return ActionResult(data={"greeting": "hello"})


class HelloApp(BaseApp):
    key = "hello"
    name = "Hello"
    actions = (SayHello,)


@hookimpl
def docg_apps() -> Sequence[type[BaseApp]]:
    return [HelloApp]
