"""Each action's requests (method, path, query, body) and the data it returns."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fakes.hubspot import ACCESS_TOKEN, FakeHubSpot, oauth_credentials, seed_deal

from docg_core.apps import ActionResult, BaseAction
from docg_core.errors import RetryableError, StepError, ValidationError
from docg_core.storage import LocalStorage
from docg_core.store import InMemoryStore
from docg_core.testing import run_action
from docg_hubspot.actions import (
    AssociateRecords,
    AttachFile,
    CreateRecord,
    GetObject,
    SearchObjects,
    UpdateDealStage,
    UpdateRecord,
)
from docg_hubspot.app import HubSpotApp


@pytest.fixture
def fake() -> FakeHubSpot:
    return FakeHubSpot()


async def run(
    fake: FakeHubSpot, action: type[BaseAction], params: dict[str, Any], **kw: Any
) -> ActionResult:
    return await run_action(
        HubSpotApp(), action, params, auth=oauth_credentials(), transport=fake.transport(), **kw
    )


def body(fake: FakeHubSpot, index: int) -> Any:
    return json.loads(fake.requests[index].content)


async def test_get_object_reads_the_deal_and_batch_reads_its_associations(
    fake: FakeHubSpot,
) -> None:
    ids = seed_deal(fake)
    result = await run(
        fake,
        GetObject,
        {
            "object_type": "deals",
            "object_id": ids["deal"],
            "properties": "dealname, amount",
            "associations": ["contacts", "companies", "line_items"],
            "association_properties": {"contacts": ["email", "firstname"]},
        },
    )
    first = fake.requests[0]
    assert (first.method, first.url.path) == ("GET", f"/crm/v3/objects/deals/{ids['deal']}")
    assert dict(first.url.params) == {
        "archived": "false",
        "properties": "dealname,amount",
        "associations": "contacts,companies,line_items",
    }
    assert first.headers["Authorization"] == f"Bearer {ACCESS_TOKEN}"
    batch = [(r.method, r.url.path) for r in fake.requests[1:]]
    assert batch == [
        ("POST", "/crm/v3/objects/contacts/batch/read"),
        ("POST", "/crm/v3/objects/companies/batch/read"),
        ("POST", "/crm/v3/objects/line_items/batch/read"),
    ]
    assert body(fake, 1) == {
        "inputs": [{"id": i} for i in ids["contacts"]],
        "properties": ["email", "firstname"],
        "propertiesWithHistory": [],
    }
    data = result.data
    assert data["id"] == ids["deal"]
    assert data["object_type"] == "deals"
    assert data["properties"]["dealname"] == "Acme renewal"
    assert data["properties"]["amount"] == "1234.5"
    assert [c["properties"]["email"] for c in data["associations"]["contacts"]] == [
        "ana@acme.example",
        "rui@acme.example",
    ]
    assert data["associations"]["companies"][0]["properties"]["name"] == "Acme Ltda"
    assert [i["properties"]["name"] for i in data["associations"]["line_items"]] == [
        "Licence",
        "Setup",
    ]


async def test_get_object_without_associated_records_skips_the_batch_read(
    fake: FakeHubSpot,
) -> None:
    deal = fake.add_object("deals", {"dealname": "Alone"})
    result = await run(
        fake, GetObject, {"object_type": "deals", "object_id": deal, "associations": ["contacts"]}
    )
    assert len(fake.requests) == 1
    assert result.data["associations"] == {"contacts": []}


async def test_get_object_by_unique_property(fake: FakeHubSpot) -> None:
    contact = fake.add_object("contacts", {"email": "ana@acme.example"})
    result = await run(
        fake,
        GetObject,
        {"object_type": "contacts", "object_id": "ana@acme.example", "id_property": "email"},
    )
    assert fake.requests[0].url.params["idProperty"] == "email"
    assert result.data["id"] == contact


async def test_a_missing_record_is_a_permanent_error_naming_it(fake: FakeHubSpot) -> None:
    with pytest.raises(StepError) as caught:
        await run(fake, GetObject, {"object_type": "deals", "object_id": "404404"})
    assert not caught.value.retryable
    assert caught.value.code == "http_404"
    assert "deals record 404404" in caught.value.message
    assert caught.value.details["category"] == "OBJECT_NOT_FOUND"


async def test_search_follows_after_paging_up_to_the_limit(fake: FakeHubSpot) -> None:
    for n in range(450):
        fake.add_object("deals", {"dealname": f"Deal {n:03d}", "amount": str(n)})
    result = await run(
        fake,
        SearchObjects,
        {
            "object_type": "deals",
            "filters": [{"propertyName": "amount", "operator": "gte", "value": "10"}],
            "sorts": ["-amount"],
            "properties": ["dealname", "amount"],
            "limit": 420,
        },
    )
    bodies = [json.loads(r.content) for r in fake.requests]
    assert all(r.url.path == "/crm/v3/objects/deals/search" for r in fake.requests)
    assert [(b["limit"], b.get("after")) for b in bodies] == [
        (200, None),
        (200, "200"),
        (20, "400"),
    ]
    assert bodies[0]["filterGroups"] == [
        {"filters": [{"propertyName": "amount", "operator": "GTE", "value": "10"}]}
    ]
    assert bodies[0]["sorts"] == [{"propertyName": "amount", "direction": "DESCENDING"}]
    assert result.data["count"] == 420
    assert result.data["total"] == 440
    assert result.data["next_after"] == "420"
    assert result.data["results"][0]["properties"]["amount"] == "449"


async def test_search_with_or_groups(fake: FakeHubSpot) -> None:
    fake.add_object("contacts", {"email": "a@x.example", "firstname": "Ana"})
    fake.add_object("contacts", {"email": "b@x.example", "firstname": "Bia"})
    fake.add_object("contacts", {"email": "c@x.example", "firstname": "Caio"})
    result = await run(
        fake,
        SearchObjects,
        {
            "object_type": "contacts",
            "filters": [
                [{"propertyName": "firstname", "operator": "EQ", "value": "Ana"}],
                [{"propertyName": "firstname", "operator": "EQ", "value": "Caio"}],
            ],
            "properties": "firstname",
        },
    )
    assert len(body(fake, 0)["filterGroups"]) == 2
    assert [r["properties"]["firstname"] for r in result.data["results"]] == ["Ana", "Caio"]


async def test_search_refuses_an_unknown_operator_before_calling(fake: FakeHubSpot) -> None:
    with pytest.raises(ValidationError, match="unknown filter operator 'LIKE'"):
        await run(
            fake,
            SearchObjects,
            {"object_type": "deals", "filters": [{"propertyName": "a", "operator": "like"}]},
        )
    assert fake.requests == []
    assert SearchObjects.check_parameters({"filters": [{"operator": "EQ"}]}) == [
        "filters: each filter needs a propertyName: {'operator': 'EQ'}"
    ]


async def test_create_record_sends_properties_and_associations(fake: FakeHubSpot) -> None:
    contact = fake.add_object("contacts", {"email": "ana@acme.example"})
    result = await run(
        fake,
        CreateRecord,
        {
            "object_type": "deals",
            "properties": {"dealname": "New", "amount": 10, "closedate": None},
            "associations": [{"to_id": contact, "type_id": 3}],
        },
    )
    assert (fake.requests[0].method, fake.requests[0].url.path) == ("POST", "/crm/v3/objects/deals")
    assert body(fake, 0) == {
        "properties": {"dealname": "New", "amount": 10, "closedate": None},
        "associations": [
            {
                "to": {"id": contact},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 3}],
            }
        ],
    }
    assert fake.associated("deals", result.data["id"], "contacts") == [contact]


async def test_create_record_retried_returns_the_first_record(fake: FakeHubSpot) -> None:
    store = InMemoryStore()
    params = {"object_type": "deals", "properties": {"dealname": "Once"}}
    first = await run(fake, CreateRecord, params, store=store, execution_id="e1")
    again = await run(fake, CreateRecord, params, store=store, execution_id="e1", attempt=2)
    assert again.data == first.data
    assert len(fake.objects["deals"]) == 1
    other = await run(fake, CreateRecord, params, store=store, execution_id="e2")
    assert other.data["id"] != first.data["id"]


async def test_a_duplicate_contact_is_a_conflict(fake: FakeHubSpot) -> None:
    existing = fake.add_object("contacts", {"email": "ana@acme.example"})
    with pytest.raises(StepError) as caught:
        await run(
            fake,
            CreateRecord,
            {"object_type": "contacts", "properties": {"email": "ana@acme.example"}},
        )
    assert caught.value.code == "http_409"
    assert f"Existing ID: {existing}" in caught.value.message
    assert not caught.value.retryable


async def test_an_unknown_property_is_a_validation_error_naming_it(fake: FakeHubSpot) -> None:
    with pytest.raises(StepError) as caught:
        await run(fake, CreateRecord, {"object_type": "deals", "properties": {"colour": "red"}})
    assert caught.value.code == "http_400"
    assert 'Property "colour" does not exist' in caught.value.message


@pytest.mark.parametrize(
    ("status", "retryable"), [(422, False), (429, True), (500, True), (502, True), (403, False)]
)
async def test_vendor_errors_map_to_retryable_or_not(
    fake: FakeHubSpot, status: int, retryable: bool
) -> None:
    deal = fake.add_object("deals", {"dealname": "Acme"})
    fake.fail("PATCH", f"/crm/v3/objects/deals/{deal}", status)
    with pytest.raises(StepError) as caught:
        await run(fake, UpdateDealStage, {"deal_id": deal, "stage": "closedwon"})
    assert caught.value.retryable is retryable
    assert caught.value.code == f"http_{status}"


async def test_a_rate_limit_honours_retry_after(fake: FakeHubSpot) -> None:
    fake.rate_limit()
    with pytest.raises(RetryableError) as caught:
        await run(fake, GetObject, {"object_type": "deals", "object_id": "1"})
    assert caught.value.retry_after == 1.0
    assert "ten_secondly_rolling" in caught.value.message
    assert caught.value.details["policyName"] == "TEN_SECONDLY_ROLLING"


async def test_update_record_patches_only_the_given_properties(fake: FakeHubSpot) -> None:
    contact = fake.add_object("contacts", {"email": "ana@acme.example", "firstname": "Ana"})
    result = await run(
        fake,
        UpdateRecord,
        {
            "object_type": "contacts",
            "object_id": contact,
            "properties": {"phone": "123", "firstname": True},
        },
    )
    assert (fake.requests[0].method, fake.requests[0].url.path) == (
        "PATCH",
        f"/crm/v3/objects/contacts/{contact}",
    )
    assert body(fake, 0) == {"properties": {"phone": "123", "firstname": "true"}}
    assert fake.object("contacts", contact)["properties"]["phone"] == "123"
    assert result.data["properties"]["phone"] == "123"


async def test_update_deal_stage_moves_the_deal(fake: FakeHubSpot) -> None:
    deal = fake.add_object("deals", {"dealname": "Acme", "dealstage": "contractsent"})
    result = await run(
        fake, UpdateDealStage, {"deal_id": deal, "pipeline": "default", "stage": "closedwon"}
    )
    assert body(fake, 0) == {"properties": {"dealstage": "closedwon", "pipeline": "default"}}
    assert result.data["stage"] == "closedwon"
    assert fake.object("deals", deal)["properties"]["dealstage"] == "closedwon"


async def test_associate_with_the_default_type(fake: FakeHubSpot) -> None:
    deal = fake.add_object("deals", {"dealname": "Acme"})
    contact = fake.add_object("contacts", {"email": "ana@acme.example"})
    result = await run(
        fake,
        AssociateRecords,
        {
            "object_type": "deals",
            "object_id": deal,
            "to_object_type": "contacts",
            "to_object_id": contact,
        },
    )
    request = fake.requests[0]
    assert request.method == "PUT"
    assert (
        request.url.path == f"/crm/v4/objects/deals/{deal}/associations/default/contacts/{contact}"
    )
    assert request.content == b""
    assert result.data["association_types"] == [{"category": "HUBSPOT_DEFINED", "type_id": 3}]
    assert fake.associated("contacts", contact, "deals") == [deal]


async def test_associate_with_a_labelled_type(fake: FakeHubSpot) -> None:
    deal = fake.add_object("deals", {"dealname": "Acme"})
    contact = fake.add_object("contacts", {"email": "ana@acme.example"})
    await run(
        fake,
        AssociateRecords,
        {
            "object_type": "deals",
            "object_id": deal,
            "to_object_type": "contacts",
            "to_object_id": contact,
            "association_type_id": 37,
            "association_category": "USER_DEFINED",
        },
    )
    assert (
        fake.requests[0].url.path == f"/crm/v4/objects/deals/{deal}/associations/contacts/{contact}"
    )
    assert body(fake, 0) == [{"associationCategory": "USER_DEFINED", "associationTypeId": 37}]
    assert fake.links[("deals", deal)][("contacts", contact)] == 37


async def test_attach_file_uploads_then_notes_the_deal(fake: FakeHubSpot, tmp_path: Any) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("docg/org/outputs/contrato.pdf", b"%PDF-1.7 signed")
    deal = fake.add_object("deals", {"dealname": "Acme"})
    result = await run(
        fake,
        AttachFile,
        {
            "object_type": "deals",
            "object_id": deal,
            "file": {"file_key": "docg/org/outputs/contrato.pdf"},
            "file_name": "Contrato Acme.pdf",
            "note": "Contrato assinado",
        },
        storage=storage,
    )
    upload, note = fake.requests
    assert (upload.method, upload.url.path) == ("POST", "/files/v3/files")
    assert upload.headers["Content-Type"].startswith("multipart/form-data; boundary=")
    assert b'name="folderPath"\r\n\r\n/docg' in upload.content
    assert b'name="options"\r\n\r\n{"access": "PRIVATE"' in upload.content
    assert b'filename="Contrato Acme.pdf"' in upload.content
    file = fake.file(result.data["file_id"])
    assert file["content"] == b"%PDF-1.7 signed"
    assert (file["name"], file["extension"], file["access"]) == ("Contrato Acme", "pdf", "PRIVATE")
    assert (note.method, note.url.path) == ("POST", "/crm/v3/objects/notes")
    note_body = json.loads(note.content)
    assert note_body["properties"]["hs_attachment_ids"] == result.data["file_id"]
    assert note_body["properties"]["hs_note_body"] == "Contrato assinado"
    assert note_body["properties"]["hs_timestamp"].endswith("Z")
    assert note_body["associations"] == [
        {
            "to": {"id": deal},
            "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": 214}],
        }
    ]
    [timeline] = fake.notes_for("deals", deal)
    assert timeline["id"] == result.data["note_id"]


async def test_attach_file_to_a_custom_object_uses_the_default_association(
    fake: FakeHubSpot, tmp_path: Any
) -> None:
    fake.add_schema("cars", "2-1234", properties=["model"])
    car = fake.add_object("2-1234", {"model": "Fusca"})
    storage = LocalStorage(tmp_path)
    await storage.put("a.pdf", b"%PDF")
    result = await run(
        fake,
        AttachFile,
        {"object_type": "2-1234", "object_id": car, "file": "a.pdf"},
        storage=storage,
    )
    assert json.loads(fake.requests[1].content)["associations"] == []
    assert fake.requests[2].method == "PUT"
    assert fake.requests[2].url.path == (
        f"/crm/v4/objects/notes/{result.data['note_id']}/associations/default/2-1234/{car}"
    )
    assert fake.associated("2-1234", car, "notes") == [result.data["note_id"]]


async def test_attach_file_retried_after_the_note_failed_reuses_the_upload(
    fake: FakeHubSpot, tmp_path: Any
) -> None:
    storage = LocalStorage(tmp_path)
    await storage.put("a.pdf", b"%PDF")
    deal = fake.add_object("deals", {"dealname": "Acme"})
    fake.fail("POST", "/crm/v3/objects/notes", 503)
    store = InMemoryStore()
    params = {"object_type": "deals", "object_id": deal, "file": "a.pdf"}
    with pytest.raises(RetryableError):
        await run(fake, AttachFile, params, storage=storage, store=store, execution_id="e1")
    result = await run(
        fake, AttachFile, params, storage=storage, store=store, execution_id="e1", attempt=2
    )
    assert len(fake.files) == 1
    assert len(fake.requests_to("POST", "/files/v3/files")) == 1
    assert [n["id"] for n in fake.notes_for("deals", deal)] == [result.data["note_id"]]


async def test_attach_file_with_a_missing_stored_file(fake: FakeHubSpot, tmp_path: Any) -> None:
    with pytest.raises(StepError, match=r"No stored file has the key 'nope\.pdf'"):
        await run(
            fake,
            AttachFile,
            {"object_type": "deals", "object_id": "1", "file": "nope.pdf"},
            storage=LocalStorage(tmp_path),
        )
    assert fake.requests == []
