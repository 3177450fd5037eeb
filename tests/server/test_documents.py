"""Recording generated documents (docg_server.documents) from real generate-document output,
and /api/v1/documents: list, filters, detail with lineage, download links, tenancy."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from server.apikit import Api, assert_problem
from server.test_templates import signed_in, uploaded, use_local_storage

from docg_core.records import ExecutionRecord, StepRecord
from docg_core.storage import LocalStorage
from docg_core.testing import run_action
from docg_documents.actions.generate_document import GenerateDocument
from docg_documents.app import DocumentsApp
from docg_server.documents import (
    document_row_id,
    generated_document_from_step,
    record_documents,
)
from docg_server.models import GeneratedDocument
from docg_server.models.engine import executions

DOCUMENTS = "/api/v1/documents"
DATA = {"client": {"name": "Ana"}, "items": [{"name": "Plano Pro"}]}


@pytest.fixture
def storage(app: FastAPI, tmp_path: Path) -> LocalStorage:
    return use_local_storage(app, tmp_path)


async def generate(
    storage: LocalStorage, org_id: str, template: str, execution_id: str, node_id: str = "gen"
) -> StepRecord:
    """Run the real generate-document action; the step the engine would record."""
    result = await run_action(
        DocumentsApp(),
        GenerateDocument,
        {"template": template, "data": DATA, "formats": ["source"], "output_name": "Contrato"},
        storage=storage,
        organization_id=org_id,
        execution_id=execution_id,
        node_id=node_id,
    )
    return StepRecord(
        key=node_id,
        node_id=node_id,
        app="documents",
        action="generate-document",
        status="success",
        data_out={"raw": result.raw, "data": result.data, "metadata": result.metadata},
    )


async def converted(
    storage: LocalStorage, org_id: str, source: str, execution_id: str, key: str = "pdf"
) -> StepRecord:
    """A convert-to-pdf step shaped like the action's output (no LibreOffice needed)."""
    pdf_key = f"docg/{org_id}/outputs/{uuid.uuid4()}.pdf"
    stored = await storage.put(pdf_key, b"%PDF-1.7 converted")
    data = {
        "document_id": str(uuid.uuid4()),
        "pdf_key": pdf_key,
        "file_key": pdf_key,
        "pdf_name": "Contrato.pdf",
        "url": "ignored",
        "pages": 2,
        "sha256": stored.sha256,
        "source": source,
    }
    return StepRecord(
        key=key,
        node_id=key,
        app="documents",
        action="convert-to-pdf",
        status="success",
        data_out={"raw": data, "data": data, "metadata": {}},
    )


def execution_of(org_id: str, *steps: StepRecord, ident: str | None = None) -> ExecutionRecord:
    return ExecutionRecord(
        id=ident or str(uuid.uuid4()), organization_id=org_id, status="completed", steps=[*steps]
    )


def save_execution(app: FastAPI, execution: ExecutionRecord, workflow_id: str) -> None:
    """The engine's row for the execution (what the runs API writes), for the workflow filter."""
    with app.state.session_factory() as session:
        session.execute(
            sa.insert(executions).values(
                id=execution.id,
                flow_id=workflow_id,
                flow_name="Propostas",
                organization_id=execution.organization_id,
                workflow={},
                status=execution.status,
                test_run=False,
                started_at=datetime.now(UTC),
            )
        )
        session.commit()


def rows(app: FastAPI) -> list[GeneratedDocument]:
    with app.state.session_factory() as session:
        return list(session.scalars(sa.select(GeneratedDocument)))


async def org_with_document(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> tuple[Any, str, dict[str, Any], ExecutionRecord]:
    headers, org_id = await signed_in(api)
    template = await uploaded(client, headers, name="Contrato")
    execution_id = str(uuid.uuid4())
    step = await generate(storage, org_id, template["storage_key"], execution_id)
    execution = execution_of(org_id, step, ident=execution_id)
    await record_documents(app.state.session_factory, execution)
    return headers, org_id, template, execution


# -- recording -------------------------------------------------------------------------------


async def test_a_generate_step_is_recorded_with_its_template_and_hashes(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, org_id = await signed_in(api)
    template = await uploaded(client, headers)
    execution_id = str(uuid.uuid4())
    step = await generate(storage, org_id, template["storage_key"], execution_id)
    data = step.data_out["data"]  # type: ignore[index]

    execution = execution_of(org_id, step, ident=execution_id)
    inserted = await record_documents(app.state.session_factory, execution)

    assert len(inserted) == 1
    [row] = rows(app)
    assert row.id == document_row_id(execution_id, "gen")
    assert row.organization_id == uuid.UUID(org_id)
    assert (row.execution_id, row.node_id) == (execution_id, "gen")
    assert row.template_id == uuid.UUID(template["id"])
    assert row.template_key == template["storage_key"]
    assert row.template_sha256 == template["sha256"]
    canonical = '{"client":{"name":"Ana"},"items":[{"name":"Plano Pro"}]}'
    assert row.data_sha256 == hashlib.sha256(canonical.encode()).hexdigest()
    assert row.file_key == data["file_key"]
    assert row.file_key.startswith(f"docg/{org_id}/outputs/")
    assert row.pdf_key is None
    assert row.lineage["step_key"] == "gen"
    assert row.lineage["name"] == "Contrato"


async def test_recording_twice_leaves_one_row(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    *_, execution = await org_with_document(api, app, client, storage)
    again = await record_documents(app.state.session_factory, execution)
    assert again == []
    assert len(rows(app)) == 1


async def test_steps_inside_a_loop_are_one_document_each(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, org_id = await signed_in(api)
    template = await uploaded(client, headers)
    execution_id = str(uuid.uuid4())
    steps = []
    for i in range(3):
        step = await generate(storage, org_id, template["storage_key"], execution_id, f"gen[{i}]")
        steps.append(step.model_copy(update={"node_id": "gen"}))
    await record_documents(
        app.state.session_factory, execution_of(org_id, *steps, ident=execution_id)
    )
    assert sorted(r.lineage["step_key"] for r in rows(app)) == ["gen[0]", "gen[1]", "gen[2]"]


async def test_failed_and_other_steps_record_nothing(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, org_id = await signed_in(api)
    template = await uploaded(client, headers)
    good = await generate(storage, org_id, template["storage_key"], str(uuid.uuid4()))
    failed = good.model_copy(update={"status": "failed", "key": "f", "node_id": "f"})
    other = StepRecord(
        key="fmt",
        node_id="fmt",
        app="formatter",
        action="text",
        status="success",
        data_out={"data": {"file_key": good.data_out["data"]["file_key"]}},  # type: ignore[index]
    )
    execution = execution_of(org_id, failed, other)
    assert generated_document_from_step(org_id, execution, failed) is None
    assert generated_document_from_step(org_id, execution, other) is None
    assert await record_documents(app.state.session_factory, execution) == []


async def test_a_file_outside_the_organizations_prefix_is_never_recorded(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, org_id = await signed_in(api)
    template = await uploaded(client, headers)
    step = await generate(storage, org_id, template["storage_key"], str(uuid.uuid4()))
    data = dict(step.data_out["data"])  # type: ignore[index]
    data["file_key"] = f"docg/{uuid.uuid4()}/outputs/someone-elses.docx"
    forged = step.model_copy(update={"data_out": {"data": data}})
    execution = execution_of(org_id, forged)
    assert generated_document_from_step(org_id, execution, forged) is None
    # and an execution of another organization is not recorded for this one
    theirs = execution_of(str(uuid.uuid4()), step)
    assert generated_document_from_step(org_id, theirs, step) is None


async def test_a_pdf_converted_from_a_generated_document_is_a_derived_document(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, org_id = await signed_in(api)
    template = await uploaded(client, headers)
    execution_id = str(uuid.uuid4())
    gen = await generate(storage, org_id, template["storage_key"], execution_id)
    source = gen.data_out["data"]["file_key"]  # type: ignore[index]
    pdf = await converted(storage, org_id, source, execution_id)
    unrelated_key = f"docg/{org_id}/imports/other.docx"
    unrelated = await converted(storage, org_id, unrelated_key, execution_id, key="pdf2")

    await record_documents(
        app.state.session_factory, execution_of(org_id, gen, pdf, unrelated, ident=execution_id)
    )

    by_step = {r.lineage["step_key"]: r for r in rows(app)}
    assert set(by_step) == {"gen", "pdf"}
    derived = by_step["pdf"]
    assert derived.file_key == source
    assert derived.pdf_key == pdf.data_out["data"]["pdf_key"]  # type: ignore[index]
    assert derived.pages == 2
    assert derived.template_id == uuid.UUID(template["id"])
    assert derived.data_sha256 == by_step["gen"].data_sha256
    assert derived.lineage["derived_from"] == str(by_step["gen"].id)


# -- the API ---------------------------------------------------------------------------------


async def test_detail_shows_the_lineage(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, _, template, execution = await org_with_document(api, app, client, storage)
    [row] = rows(app)

    response = await client.get(f"{DOCUMENTS}/{row.id}", headers=headers)

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["execution_id"] == execution.id
    assert body["node_id"] == "gen"
    assert body["name"] == "Contrato"
    assert body["formats"] == ["file"]
    assert body["template"] == {
        "id": template["id"],
        "key": template["storage_key"],
        "sha256": template["sha256"],
    }
    assert body["data_sha256"] == row.data_sha256
    assert body["lineage"]["execution_id"] == execution.id


async def test_download_gives_a_working_link_to_the_file_and_404_without_a_pdf(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, *_ = await org_with_document(api, app, client, storage)
    [row] = rows(app)

    link = await client.get(
        f"{DOCUMENTS}/{row.id}/download", params={"format": "file"}, headers=headers
    )
    assert link.status_code == 200, link.text
    downloaded = await client.get(link.json()["url"])
    assert downloaded.status_code == 200
    assert downloaded.content == await storage.get(row.file_key)
    assert downloaded.headers["content-disposition"].startswith("attachment;")

    no_pdf = await client.get(f"{DOCUMENTS}/{row.id}/download", headers=headers)
    assert_problem(no_pdf, 404, "not-found")
    bad = await client.get(f"{DOCUMENTS}/{row.id}/download?format=exe", headers=headers)
    assert_problem(bad, 422, "validation-error")


async def test_download_of_the_pdf(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, org_id = await signed_in(api)
    template = await uploaded(client, headers)
    execution_id = str(uuid.uuid4())
    gen = await generate(storage, org_id, template["storage_key"], execution_id)
    pdf = await converted(storage, org_id, gen.data_out["data"]["file_key"], execution_id)  # type: ignore[index]
    await record_documents(
        app.state.session_factory, execution_of(org_id, gen, pdf, ident=execution_id)
    )
    derived = document_row_id(execution_id, "pdf")

    link = await client.get(f"{DOCUMENTS}/{derived}/download?format=pdf", headers=headers)

    assert link.status_code == 200, link.text
    assert (await client.get(link.json()["url"])).content == b"%PDF-1.7 converted"


async def test_list_filters_by_execution_and_workflow_and_paginates(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    headers, org_id = await signed_in(api)
    template = await uploaded(client, headers)
    workflow_id = str(uuid.uuid4())
    runs = []
    for _ in range(3):
        execution_id = str(uuid.uuid4())
        step = await generate(storage, org_id, template["storage_key"], execution_id)
        runs.append(execution_of(org_id, step, ident=execution_id))
        await record_documents(app.state.session_factory, runs[-1])
    save_execution(app, runs[0], workflow_id)
    save_execution(app, runs[2], workflow_id)

    everything = (await client.get(DOCUMENTS, headers=headers)).json()
    assert [d["execution_id"] for d in everything["items"]] == [r.id for r in reversed(runs)]

    one = await client.get(DOCUMENTS, params={"execution_id": runs[1].id}, headers=headers)
    assert [d["execution_id"] for d in one.json()["items"]] == [runs[1].id]

    by_workflow = await client.get(DOCUMENTS, params={"workflow_id": workflow_id}, headers=headers)
    assert [d["execution_id"] for d in by_workflow.json()["items"]] == [runs[2].id, runs[0].id]

    page = (await client.get(DOCUMENTS, params={"limit": 2}, headers=headers)).json()
    assert len(page["items"]) == 2
    rest = await client.get(
        DOCUMENTS, params={"limit": 2, "cursor": page["next_cursor"]}, headers=headers
    )
    assert [d["execution_id"] for d in rest.json()["items"]] == [runs[0].id]
    assert rest.json()["next_cursor"] is None


async def test_another_organizations_document_answers_404(
    api: Api, app: FastAPI, client: httpx.AsyncClient, storage: LocalStorage
) -> None:
    await org_with_document(api, app, client, storage)
    [row] = rows(app)
    other, _ = await signed_in(api, "eve@evil.example", "Evil")

    assert_problem(await client.get(f"{DOCUMENTS}/{row.id}", headers=other), 404, "not-found")
    download = await client.get(f"{DOCUMENTS}/{row.id}/download?format=file", headers=other)
    assert_problem(download, 404, "not-found")
    listed = await client.get(DOCUMENTS, params={"execution_id": row.execution_id}, headers=other)
    assert listed.json()["items"] == []


@pytest.mark.parametrize("path", [DOCUMENTS, f"{DOCUMENTS}/{uuid.uuid4()}"])
async def test_documents_need_a_token(client: httpx.AsyncClient, path: str) -> None:
    assert_problem(await client.get(path), 401, "unauthorized")
