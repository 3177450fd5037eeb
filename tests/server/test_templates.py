"""/api/v1/templates: upload (size, type, inspection), register, list, available, detail,
download link, delete, roles and tenancy — on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import io
import re
import uuid
import zipfile
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from server.apikit import Api, assert_problem, bearer
from server.test_organizations import add_user
from support.docx_builders import build, raw, text

from docg_core.storage import LocalStorage
from docg_server.models import Role
from docg_server.storage import build_storage

TEMPLATES = "/api/v1/templates"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def use_local_storage(app: FastAPI, tmp_path: Path) -> LocalStorage:
    """Point the app's storage at a folder of this test's own (not ./docg-files)."""
    settings = app.state.settings.model_copy(update={"DOCG_STORAGE_DIR": str(tmp_path / "files")})
    built = build_storage(settings)
    assert isinstance(built, LocalStorage)
    app.state.storage = built
    return built


@pytest.fixture
def storage(app: FastAPI, tmp_path: Path) -> LocalStorage:
    return use_local_storage(app, tmp_path)


async def signed_in(api: Api, email: str = "ana@acme.example", org: str = "Acme") -> Any:
    """Register an organization's owner; (headers, organization id)."""
    registered = await api.register(email, org)
    tokens = await api.login(email)
    return bearer(tokens["access_token"]), registered["organization"]["id"]


def contract() -> bytes:
    return build(
        text("Contrato {{ client.name }}", "{% for item in items %}{{ item.name }}{% endfor %}")
    )


async def upload(
    client: httpx.AsyncClient,
    headers: Any,
    content: bytes,
    filename: str = "contract.docx",
    name: str | None = None,
) -> httpx.Response:
    data = {"name": name} if name is not None else None
    return await client.post(
        TEMPLATES, files={"file": (filename, content, DOCX)}, data=data, headers=headers
    )


async def uploaded(client: httpx.AsyncClient, headers: Any, **kwargs: Any) -> dict[str, Any]:
    response = await upload(client, headers, kwargs.pop("content", None) or contract(), **kwargs)
    assert response.status_code == 201, response.text
    body: dict[str, Any] = response.json()
    return body


# -- upload ----------------------------------------------------------------------------------


async def test_upload_stores_the_template_and_answers_its_inspection(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, org_id = await signed_in(api)
    response = await upload(client, headers, contract(), name="Contrato padrão")

    assert response.status_code == 201, response.text
    body = response.json()
    assert body["name"] == "Contrato padrão"
    assert body["kind"] == "docx"
    assert body["storage_key"].startswith(f"docg/{org_id}/templates/")
    assert body["storage_key"].endswith(".docx")
    stored = await storage.get(body["storage_key"])
    assert body["sha256"] == hashlib.sha256(stored).hexdigest()
    assert body["inspection"]["variables"] == ["client.name", "items", "items[].name"]
    assert body["inspection"]["loops"] == ["items"]
    assert body["inspection"]["problems"] == []
    assert body["variables"] == body["inspection"]["variables"]


async def test_upload_without_a_name_uses_the_file_name(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, _ = await signed_in(api)
    body = await uploaded(client, headers, filename="Proposta Comercial.docx")
    assert body["name"] == "Proposta Comercial"


async def test_upload_lists_template_syntax_problems_with_their_place(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, _ = await signed_in(api)
    body = await uploaded(client, headers, content=build(text("{% if deal.discount %}oops")))
    problems = body["inspection"]["problems"]
    assert len(problems) == 1
    assert problems[0]["location"] == "paragraph 1"
    assert "endif" in problems[0]["message"]


async def test_html_and_markdown_templates_are_accepted(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, _ = await signed_in(api)
    html = await upload(client, headers, b"<h1>{{ deal.name }}</h1>", filename="p.html")
    markdown = await upload(client, headers, "# {{ deal.título }}".encode(), filename="p.md")
    assert html.status_code == 201, html.text
    assert (html.json()["kind"], html.json()["variables"]) == ("html", ["deal.name"])
    assert markdown.status_code == 201, markdown.text
    assert markdown.json()["kind"] == "markdown"
    assert markdown.json()["storage_key"].endswith(".md")


async def test_a_word_template_is_stored_repaired(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, _ = await signed_in(api)
    # Word split the tag across two runs: the stored file has it whole again.
    broken = build(raw("<w:r><w:t>{{ client.</w:t></w:r><w:r><w:t>name }}</w:t></w:r>"))
    body = await uploaded(client, headers, content=broken)
    with zipfile.ZipFile(io.BytesIO(await storage.get(body["storage_key"]))) as archive:
        document = archive.read("word/document.xml").decode()
    assert "{{ client.name }}" in document
    assert body["variables"] == ["client.name"]


async def test_a_template_over_the_size_limit_is_refused_with_413(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"DOCG_MAX_TEMPLATE_BYTES": 4096})
    headers, _ = await signed_in(api)
    big = build(text("x" * 50_000))  # compressed, still well over 4 KiB
    assert len(big) > 4096
    body = assert_problem(await upload(client, headers, big), 413, "payload-too-large")
    assert body["max_bytes"] == 4096
    assert list(storage.root.rglob("*.docx")) == []


async def test_a_body_far_over_the_limit_is_refused_before_it_is_read(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"DOCG_MAX_TEMPLATE_BYTES": 1024})
    headers, _ = await signed_in(api)
    response = await upload(client, headers, b"<p>" + b"x" * 200_000 + b"</p>", "big.html")
    assert_problem(response, 413, "payload-too-large")


@pytest.mark.parametrize(
    ("filename", "content"),
    [
        ("contract.pdf", b"%PDF-1.7\n..."),
        ("contract.exe", b"MZ\x90\x00"),
        ("contract", b"<p>{{ x }}</p>"),
        ("contract.docx", b"<p>{{ x }}</p>"),  # named .docx, but HTML inside
        ("slides.pptx", None),  # a real .docx: not a presentation
        ("page.html", b"PK\x03\x04 a zip pretending to be HTML"),
    ],
)
async def test_an_unsupported_type_is_refused_with_415(
    api: Api,
    client: httpx.AsyncClient,
    storage: LocalStorage,
    filename: str,
    content: bytes | None,
) -> None:
    headers, _ = await signed_in(api)
    response = await upload(client, headers, content or contract(), filename)
    body = assert_problem(response, 415, "unsupported-media-type")
    assert "docx" in body["supported"]


async def test_a_template_that_cannot_be_parsed_is_refused_with_422_and_the_reason(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, _ = await signed_in(api)
    not_utf8 = await upload(client, headers, "<p>{{ nome }} ação</p>".encode("latin-1"), "p.html")
    body = assert_problem(not_utf8, 422, "invalid-template")
    assert "UTF-8" in body["detail"]

    broken_xml = io.BytesIO()
    with (
        zipfile.ZipFile(io.BytesIO(contract())) as source,
        zipfile.ZipFile(broken_xml, "w") as target,
    ):
        for item in source.infolist():
            data = source.read(item)
            if item.filename == "word/document.xml":
                data = data[: len(data) // 2]  # cut in the middle: not XML any more
            target.writestr(item, data)
    body = assert_problem(
        await upload(client, headers, broken_xml.getvalue()), 422, "invalid-template"
    )
    assert body["detail"].startswith("the template cannot be read")


async def test_an_upload_without_a_file_part_is_a_validation_error(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, _ = await signed_in(api)
    response = await client.post(TEMPLATES, data={"name": "x"}, files={}, headers=headers)
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["field"] == "file"
    json_body = await client.post(TEMPLATES, json={"name": "x"}, headers=headers)
    assert_problem(json_body, 422, "validation-error")


# -- register --------------------------------------------------------------------------------


async def test_register_uses_a_file_already_in_the_organizations_storage(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, org_id = await signed_in(api)
    key = f"docg/{org_id}/imports/proposal.docx"
    stored = await storage.put(key, contract())

    response = await client.post(
        f"{TEMPLATES}/register", json={"storage_key": key, "name": "Proposta"}, headers=headers
    )

    assert response.status_code == 201, response.text
    body = response.json()
    assert (body["storage_key"], body["name"], body["kind"]) == (key, "Proposta", "docx")
    assert body["sha256"] == stored.sha256
    assert body["inspection"]["loops"] == ["items"]


async def test_register_refuses_other_organizations_and_missing_files_with_404(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, org_id = await signed_in(api)
    other = f"docg/{uuid.uuid4()}/templates/theirs.docx"
    await storage.put(other, contract())
    for key in (other, f"docg/{org_id}/templates/missing.docx", "elsewhere/file.docx"):
        response = await client.post(
            f"{TEMPLATES}/register", json={"storage_key": key}, headers=headers
        )
        assert_problem(response, 404, "not-found")


async def test_register_checks_the_key_and_the_type(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, org_id = await signed_in(api)
    bad = await client.post(
        f"{TEMPLATES}/register", json={"storage_key": f"docg/{org_id}/../x.docx"}, headers=headers
    )
    assert assert_problem(bad, 422, "validation-error")["errors"][0]["field"] == "storage_key"
    key = f"docg/{org_id}/imports/report.pdf"
    await storage.put(key, b"%PDF-1.7")
    pdf = await client.post(f"{TEMPLATES}/register", json={"storage_key": key}, headers=headers)
    assert_problem(pdf, 415, "unsupported-media-type")


# -- read: list, available, detail, download --------------------------------------------------


async def test_list_is_newest_first_and_paginates(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, _ = await signed_in(api)
    ids = [(await uploaded(client, headers, name=f"t{i}"))["id"] for i in range(3)]

    first = (await client.get(TEMPLATES, params={"limit": 2}, headers=headers)).json()
    assert [t["id"] for t in first["items"]] == [ids[2], ids[1]]
    assert "inspection" not in first["items"][0]
    second = await client.get(
        TEMPLATES, params={"limit": 2, "cursor": first["next_cursor"]}, headers=headers
    )
    assert [t["id"] for t in second.json()["items"]] == [ids[0]]
    assert second.json()["next_cursor"] is None
    bad = await client.get(TEMPLATES, params={"cursor": "nonsense"}, headers=headers)
    assert_problem(bad, 422, "validation-error")


async def test_available_lists_every_template_with_its_source(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, _ = await signed_in(api)
    created = await uploaded(client, headers, name="Contrato")
    body = (await client.get(f"{TEMPLATES}/available", headers=headers)).json()
    assert body["sources"] == ["storage"]
    assert body["items"] == [
        {
            "source": "storage",
            "id": created["id"],
            "name": "Contrato",
            "kind": "docx",
            "variables": ["client.name", "items", "items[].name"],
        }
    ]


async def test_detail_and_a_download_link_that_works(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, _ = await signed_in(api)
    created = await uploaded(client, headers)
    detail = await client.get(f"{TEMPLATES}/{created['id']}", headers=headers)
    assert detail.status_code == 200
    assert detail.json() == {k: v for k, v in created.items() if k != "inspection"}

    link = await client.get(f"{TEMPLATES}/{created['id']}/download", headers=headers)
    assert link.status_code == 200, link.text
    url = link.json()["url"]
    assert url.startswith("http://testserver/api/v1/files/docg/")
    assert link.json()["expires_at"]
    downloaded = await client.get(url)  # no token: the signature is the authorisation
    assert downloaded.status_code == 200
    assert hashlib.sha256(downloaded.content).hexdigest() == created["sha256"]


# -- delete, roles, tenancy --------------------------------------------------------------------


async def test_delete_removes_the_row_and_the_stored_file(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, _ = await signed_in(api)
    created = await uploaded(client, headers)
    assert await storage.exists(created["storage_key"])

    response = await client.delete(f"{TEMPLATES}/{created['id']}", headers=headers)

    assert response.status_code == 204
    assert not await storage.exists(created["storage_key"])
    gone = await client.get(f"{TEMPLATES}/{created['id']}", headers=headers)
    assert_problem(gone, 404, "not-found")


async def test_deleting_one_of_two_registrations_keeps_the_shared_file(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, org_id = await signed_in(api)
    key = f"docg/{org_id}/imports/shared.docx"
    await storage.put(key, contract())
    first, second = [
        (await client.post(f"{TEMPLATES}/register", json={"storage_key": key}, headers=headers))
        for _ in range(2)
    ]
    await client.delete(f"{TEMPLATES}/{first.json()['id']}", headers=headers)
    assert await storage.exists(key)
    await client.delete(f"{TEMPLATES}/{second.json()['id']}", headers=headers)
    assert not await storage.exists(key)


async def test_members_read_but_only_owners_and_admins_write(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    owner, org_id = await signed_in(api)
    created = await uploaded(client, owner)
    add_user(app, org_id, "bia@acme.example", Role.MEMBER)
    member = bearer((await api.login("bia@acme.example"))["access_token"])

    assert (await client.get(TEMPLATES, headers=member)).status_code == 200
    assert (await client.get(f"{TEMPLATES}/{created['id']}", headers=member)).status_code == 200
    assert_problem(await upload(client, member, contract()), 403, "forbidden")
    assert_problem(
        await client.post(
            f"{TEMPLATES}/register", json={"storage_key": created["storage_key"]}, headers=member
        ),
        403,
        "forbidden",
    )
    assert_problem(
        await client.delete(f"{TEMPLATES}/{created['id']}", headers=member), 403, "forbidden"
    )
    assert await storage.exists(created["storage_key"])


async def test_another_organizations_template_answers_404_everywhere(
    api: Api, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    acme, _ = await signed_in(api)
    created = await uploaded(client, acme)
    other, _ = await signed_in(api, "eve@evil.example", "Evil")

    for method, path in (
        ("GET", f"{TEMPLATES}/{created['id']}"),
        ("GET", f"{TEMPLATES}/{created['id']}/download"),
        ("DELETE", f"{TEMPLATES}/{created['id']}"),
    ):
        assert_problem(await client.request(method, path, headers=other), 404, "not-found")
    assert (await client.get(TEMPLATES, headers=other)).json()["items"] == []
    assert (await client.get(f"{TEMPLATES}/available", headers=other)).json()["items"] == []
    assert await storage.exists(created["storage_key"])


async def test_every_route_needs_a_token(client: httpx.AsyncClient) -> None:
    for method, path in (
        ("GET", TEMPLATES),
        ("GET", f"{TEMPLATES}/available"),
        ("POST", TEMPLATES),
        ("GET", f"{TEMPLATES}/{uuid.uuid4()}/download"),
    ):
        assert_problem(await client.request(method, path), 401, "unauthorized")


def test_every_template_document_and_file_route_is_documented(app: FastAPI) -> None:
    doc = (Path(__file__).parents[2] / "docs" / "server-documents.md").read_text()
    prefixes = ("/api/v1/templates", "/api/v1/documents", "/api/v1/files")
    paths = {p: ops for p, ops in app.openapi()["paths"].items() if p.startswith(prefixes)}
    routes = [(method.upper(), path) for path, ops in paths.items() for method in ops]
    assert len(routes) == 11
    for method, path in routes:
        path = re.sub(r"\{\w+_id\}", "{id}", path)
        assert f"`{method} {path}" in doc, f"{method} {path} is not in server-documents.md"
