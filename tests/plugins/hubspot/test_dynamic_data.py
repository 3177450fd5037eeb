"""Dropdown sources read from the account: object types, properties, pipelines, owners."""

from __future__ import annotations

from typing import Any

from fakes.hubspot import FakeHubSpot, oauth_credentials

from docg_core._http import http_factory
from docg_core.apps import BaseDynamicData, DropdownOption
from docg_core.context import AppInfo, ExecutionInfo, FlowInfo, StepInfo, build_context
from docg_core.store import InMemoryStore
from docg_hubspot.app import HubSpotApp
from docg_hubspot.dynamic_data import ObjectTypes, Owners, Pipelines, PipelineStages, Properties


async def options(
    fake: FakeHubSpot, source: type[BaseDynamicData], parameters: dict[str, Any] | None = None
) -> list[DropdownOption]:
    app = HubSpotApp()
    ctx = build_context(
        store=InMemoryStore(),
        app=AppInfo(app.key, app.name),
        flow=FlowInfo(None, "t"),
        step=StepInfo("d", "d", app.key, source.key, parameters or {}, "e:d"),
        execution=ExecutionInfo("e"),
        auth=oauth_credentials(),
        http_factory=http_factory(app, transport=fake.transport()),
    )
    try:
        return await source().run(ctx)
    finally:
        await ctx.aclose()


async def test_object_types_include_custom_objects() -> None:
    fake = FakeHubSpot()
    fake.add_schema("cars", "2-1234", properties=["model"])
    found = await options(fake, ObjectTypes)
    assert DropdownOption("deals", "Deals") in found
    assert found[-1] == DropdownOption("2-1234", "Carss")
    assert fake.requests[0].url.path == "/crm/v3/schemas"


async def test_properties_of_the_chosen_type_without_hidden_ones() -> None:
    fake = FakeHubSpot()
    found = await options(fake, Properties, {"object_type": "contacts"})
    assert fake.requests[0].url.path == "/crm/v3/properties/contacts"
    assert DropdownOption("email", "Email") in found
    assert "hs_object_id" not in [o.value for o in found]


async def test_pipelines_and_their_stages() -> None:
    fake = FakeHubSpot()
    assert await options(fake, Pipelines) == [DropdownOption("default", "Sales Pipeline")]
    stages = await options(fake, PipelineStages, {"pipeline": "default"})
    assert stages[3] == DropdownOption("closedwon", "Closed Won")
    every = await options(fake, PipelineStages)
    assert every[0] == DropdownOption(
        "appointmentscheduled", "Sales Pipeline: Appointment Scheduled"
    )
    assert {r.url.path for r in fake.requests} == {"/crm/v3/pipelines/deals"}


async def test_owners_follow_every_page() -> None:
    fake = FakeHubSpot()
    fake.owners = [
        {"id": str(n), "email": f"u{n}@acme.example", "firstName": f"User{n}", "lastName": ""}
        for n in range(250)
    ]
    found = await options(fake, Owners)
    assert len(found) == 250
    assert found[0] == DropdownOption("0", "User0 <u0@acme.example>")
    assert [r.url.params.get("after") for r in fake.requests] == [None, "100", "200"]
