"""The greetings app passes the DocG plugin conformance kit.

Run with the plugin installed (``pip install ./docs/examples/plugin``) or its ``src`` on
``PYTHONPATH``::

    pytest docs/examples/plugin/tests
"""

from __future__ import annotations

from docg_greetings.app import GreetingsApp

from docg_core.testing import AppConformance, ErrorCase


class TestGreetings(AppConformance):
    app = GreetingsApp
    entry_point = "greetings"  # checked when the distribution is installed
    samples = {"greet": {"name": "Ana", "language": "pt"}}  # noqa: RUF012
    error_cases = (ErrorCase("greet", {"name": "Ana", "language": "fr"}, retryable=False),)

    async def test_greets_in_portuguese(self) -> None:
        result = await self.run_sample("greet")
        assert result.data == {"greeting": "Olá, Ana!"}

    async def test_the_default_language_is_english(self) -> None:
        result = await self.run_sample("greet", language=None)
        assert result.data == {"greeting": "Hello, Ana!"}
