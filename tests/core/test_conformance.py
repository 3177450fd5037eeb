"""The built-in apps pass the plugin conformance kit, like any plugin's app must."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from docg_core.builtin.approval import ApprovalApp
from docg_core.builtin.delay import DelayApp
from docg_core.builtin.formatter import FormatterApp
from docg_core.builtin.http import HttpApp
from docg_core.builtin.schedule import ScheduleApp
from docg_core.builtin.stop import StopApp
from docg_core.builtin.triggers import ManualApp, WebhookApp
from docg_core.testing import AppConformance, ErrorCase

# A public address literal: the HTTP app's address guard needs no DNS lookup, and the fake
# transport answers, so nothing leaves the process.
API = "https://93.184.215.14"


class TestManual(AppConformance):
    app = ManualApp


class TestWebhook(AppConformance):
    app = WebhookApp


class TestSchedule(AppConformance):
    app = ScheduleApp


class TestApproval(AppConformance):
    app = ApprovalApp
    samples = {  # noqa: RUF012 - class-level configuration of the kit
        "request-approval": {
            "title": "Contract for Acme",
            "approvers": ["ana@example.com"],
            "on_reject": "continue",
        }
    }


class TestDelay(AppConformance):
    app = DelayApp
    # A time already passed: the step finishes at once, with a deterministic result.
    samples = {"wait": {"until": "2020-01-01T00:00:00+00:00"}}  # noqa: RUF012


class TestFormatter(AppConformance):
    app = FormatterApp
    samples = {  # noqa: RUF012
        "text": {"transform": "slugify", "input": "São Paulo — Nº 5"},
        "number": {"transform": "format", "input": 1234.5, "locale": "pt-BR"},
        "date": {"transform": "format", "input": "2026-11-26", "format": "%d/%m/%Y"},
    }
    error_cases = (  # an argument the formatter refuses is the user's error: never retried
        ErrorCase("date", {"transform": "format", "input": "26/11/2026", "format": "%d"}, False),
        ErrorCase("number", {"input": "lots"}, False),
    )


def fake_api(request: httpx.Request) -> httpx.Response:
    """A small JSON API: GET /items lists, POST /items echoes, /flaky is down."""
    if request.url.path == "/items" and request.method == "GET":
        return httpx.Response(200, json={"items": [{"id": 1}]})
    if request.url.path == "/items" and request.method == "POST":
        return httpx.Response(201, json={"created": True})
    if request.url.path == "/flaky":
        return httpx.Response(503, headers={"Retry-After": "1"}, json={"error": "down"})
    return httpx.Response(404, json={"error": "not found"})


class TestHttp(AppConformance):
    app = HttpApp
    samples: dict[str, dict[str, Any]] = {  # noqa: RUF012
        "request": {
            "method": "GET",
            "url": f"{API}/items",
            "headers": {"Accept": "application/json"},
        }
    }
    transport = httpx.MockTransport(fake_api)
    error_cases = (
        ErrorCase("request", {"method": "GET", "url": f"{API}/missing"}, False),
        ErrorCase("request", {"method": "GET", "url": f"{API}/flaky"}, True),
        ErrorCase("request", {"method": "GET", "url": "http://127.0.0.1/admin"}, False),
        ErrorCase("request", {"method": "GET", "url": "file:///etc/passwd"}, False),
    )


class TestStop(AppConformance):
    app = StopApp
    samples = {"stop": {"reason": "nothing to do"}}  # noqa: RUF012


# ------------------------------------------------------------ the kit checks what it says


def test_the_kit_reports_every_metadata_problem() -> None:
    from docg_core.apps import (
        ActionArgument,
        ArgumentType,
        BaseAction,
        BaseApp,
        DynamicData,
    )

    class Bad(BaseAction):
        key = "bad"
        name = "Bad"
        arguments = (
            ActionArgument(key="pick", label="Pick", type=ArgumentType.DROPDOWN),
            ActionArgument(key="src", label="Source", source=DynamicData("nowhere")),
            ActionArgument(key="dep", label="", depends_on="ghost"),
            ActionArgument(key="dep", label="Again", required=True, default="x"),
        )

    class BadApp(BaseApp):
        key = "Bad App"
        name = "Bad"
        actions = (Bad, Bad)

    class Kit(AppConformance):  # not collected: no `Test` prefix
        app = BadApp

    kit = Kit()
    problems = "\n".join(kit.metadata_problems())
    for expected in (
        "not a lowercase slug",
        "action 'bad': `description` is empty",
        "key used by another action",
        "a DROPDOWN needs `options` or a `source`",
        "`label` is empty",
        "key used twice",
    ):
        assert expected in problems
    assert kit.required_default_problems() == [
        "action 'bad', argument 'dep': required with default 'x'",
        "action 'bad', argument 'dep': required with default 'x'",
    ]
    checked, refs = kit.reference_problems()
    assert checked == 4
    assert any("DynamicData('nowhere')" in p for p in refs)
    assert any("depends_on 'ghost'" in p for p in refs)


def test_the_kit_finds_a_secret_recorded_in_clear_and_a_non_idempotent_action() -> None:
    import itertools

    from docg_core.apps import ActionArgument, ActionResult, BaseAction, BaseApp
    from docg_core.context import ExecutionContext

    counter = itertools.count()

    class Leaky(BaseAction):
        key = "leaky"
        name = "Leaky"
        description = "Echoes its token and counts its runs."
        arguments = (ActionArgument(key="token", label="Token", secret=True),)

        async def run(self, ctx: ExecutionContext) -> ActionResult:
            return ActionResult(data={"echo": ctx.step.parameters["token"], "n": next(counter)})

    class LeakyApp(BaseApp):
        key = "leaky"
        name = "Leaky"
        actions = (Leaky,)

    class Kit(AppConformance):
        app = LeakyApp
        samples = {"leaky": {"token": "tok-123456789"}}  # noqa: RUF012

    class Tolerant(Kit):
        volatile_fields = frozenset({"n"})

    kit, tolerant = Kit(), Tolerant()
    try:
        with pytest.raises(pytest.fail.Exception, match="appears in the step's data_out"):
            kit.test_secrets_are_masked_in_data_in()
        with pytest.raises(pytest.fail.Exception, match="the retry returned"):
            kit.test_retried_actions_are_idempotent()
        tolerant.test_retried_actions_are_idempotent()
    finally:
        kit.teardown_method(None)
        tolerant.teardown_method(None)
