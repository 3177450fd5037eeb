"""The ``greetings`` app: one action, ``greet``, that greets someone by name."""

from __future__ import annotations

from docg_core.apps import (
    ActionArgument,
    ActionResult,
    ArgumentType,
    BaseAction,
    BaseApp,
    DropdownOption,
)
from docg_core.context import ExecutionContext

TEMPLATES = {"en": "Hello, {name}!", "pt": "Olá, {name}!"}


class Greet(BaseAction):
    """Greet someone in English or Portuguese."""

    key = "greet"
    name = "Greet"
    description = "Greet someone by name, in English or Portuguese."
    arguments = (
        ActionArgument(
            key="name",
            label="Name",
            type=ArgumentType.STRING,
            required=True,
            description="Who to greet.",
        ),
        ActionArgument(
            key="language",
            label="Language",
            type=ArgumentType.DROPDOWN,
            default="en",
            options=(DropdownOption("en", "English"), DropdownOption("pt", "Português")),
            description="The language of the greeting.",
        ),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        """Data ``{"greeting": "Olá, Maria!"}``."""
        # Parameters are resolved, validated and coerced: `name` is a non-empty string and
        # `language` is "en" or "pt" (the default fills it in when left empty).
        params = ctx.step.parameters
        greeting = TEMPLATES[params["language"]].format(name=params["name"].strip())
        return ActionResult(raw=dict(params), data={"greeting": greeting})


class GreetingsApp(BaseApp):
    """An app with no connection: nothing to authenticate, no HTTP calls."""

    key = "greetings"
    name = "Greetings"
    description = "Say hello in English or Portuguese."
    actions = (Greet,)
