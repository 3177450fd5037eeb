"""The HubSpot app passes the plugin conformance kit against the HubSpot fake."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any, ClassVar

import httpx
import pytest
from fakes.hubspot import FakeHubSpot, oauth_credentials, seed_deal

from docg_core.testing import AppConformance, ErrorCase
from docg_hubspot.app import HubSpotApp

CONTRACT_KEY = "docg/org-1/outputs/contrato.pdf"


class TestHubSpot(AppConformance):
    app = HubSpotApp
    entry_point = "hubspot"
    auth_sample: ClassVar[Mapping[str, Any]] = oauth_credentials(expires_in=10 * 365 * 86400)
    # The seeded records are created in this order, so their ids are known: deal 1001,
    # contacts 1002 and 1003, company 1004, line items 1005 and 1006.
    error_cases = (
        ErrorCase("get-object", {"object_type": "deals", "object_id": "999999"}, False),
        ErrorCase(
            "create-record",
            {"object_type": "contacts", "properties": {"email": "ana@acme.example"}},
            False,
        ),
        ErrorCase("create-record", {"object_type": "deals", "properties": {"no_such": "x"}}, False),
        ErrorCase("update-deal-stage", {"deal_id": "1001", "stage": "nowhere"}, False),
        ErrorCase("search-objects", {"object_type": "deals", "filters": [{"x": 1}]}, False),
    )

    def make_transport(self) -> httpx.AsyncBaseTransport:
        self.fake = FakeHubSpot()
        self.ids = seed_deal(self.fake)
        return self.fake.transport()

    @pytest.fixture(autouse=True)
    def _contract(self) -> None:
        asyncio.run(self.storage.put(CONTRACT_KEY, b"%PDF-1.7 contrato"))

    def make_samples(self) -> Mapping[str, Mapping[str, Any]]:
        return {
            "get-object": {
                "object_type": "deals",
                "object_id": "1001",
                "properties": ["dealname", "amount"],
                "associations": ["contacts", "companies", "line_items"],
            },
            "search-objects": {
                "object_type": "contacts",
                "filters": [
                    {"propertyName": "email", "operator": "CONTAINS_TOKEN", "value": "*acme*"}
                ],
                "sorts": "email",
                "limit": 10,
            },
            "create-record": {"object_type": "deals", "properties": {"dealname": "New deal"}},
            "update-record": {
                "object_type": "contacts",
                "object_id": "1002",
                "properties": {"phone": "+55 11 5555-0000"},
            },
            "associate-records": {
                "object_type": "contacts",
                "object_id": "1002",
                "to_object_type": "companies",
                "to_object_id": "1004",
            },
            "upload-file": {"file": CONTRACT_KEY},
            "attach-file": {
                "object_type": "deals",
                "object_id": "1001",
                "file": CONTRACT_KEY,
                "note": "Contrato gerado",
            },
            "update-deal-stage": {"deal_id": "1001", "stage": "closedwon"},
        }

    # A PATCH answers the record's new modification time, which a retry moves on.
    volatile_fields = frozenset(
        {"updated_at", "properties.hs_lastmodifieddate", "properties.lastmodifieddate"}
    )

    async def test_every_action_has_a_sample(self) -> None:
        assert {a.key for a in self.sampled_actions()} == {a.key for a in HubSpotApp.actions}

    async def test_retried_attach_file_creates_one_file_and_one_note(self) -> None:
        first, again = await self.retry_sample("attach-file")
        assert again.data == first.data
        assert len(self.fake.files) == 1
        assert len(self.fake.notes_for("deals", "1001")) == 1
        assert len(self.fake.requests_to("POST", "/files/v3/files")) == 1
