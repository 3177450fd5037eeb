"""``/api/v1/documents``: the documents the organization's runs generated — list (by
workflow or execution), detail with lineage, and a download link for the file or its PDF.

Rows are written by :mod:`docg_server.documents` as runs finish their document steps. Every
member may read them; another organization's document answers 404 like an unknown one.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import BaseModel, Field

from ...errors import HTTPProblem, problem_responses
from ...models import GeneratedDocument
from ...models.engine import executions
from ..deps import CurrentOrg, SessionDep, StorageDep
from ..pagination import decode_cursor, encode_cursor
from .templates import DownloadLink, download_link

__all__ = ["router"]

router = APIRouter(prefix="/documents", tags=["documents"], responses=problem_responses(401))

MAX_PAGE_SIZE = 100


class TemplateLineage(BaseModel):
    """The template a document was made from, as it was at the time."""

    id: uuid.UUID | None = Field(
        description="The organization's template row, when it still exists."
    )
    key: str = Field(description="Its storage key.")
    sha256: str


class DocumentOut(BaseModel):
    """A generated document and where it came from."""

    id: uuid.UUID
    name: str | None = Field(description="The download name it was given, without extension.")
    workflow_id: str | None
    execution_id: str
    node_id: str
    step_key: str | None = Field(description="The node id, plus ``[i]`` inside a loop.")
    formats: list[Literal["file", "pdf"]] = Field(description="What ``/download`` can give.")
    file_key: str
    pdf_key: str | None
    pages: int | None
    template: TemplateLineage
    data_sha256: str = Field(description="sha256 of the data as canonical JSON.")
    lineage: dict[str, Any] = Field(description="Everything the generating step recorded.")
    created_at: datetime


class DocumentPage(BaseModel):
    items: list[DocumentOut]
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null on the last page."
    )


def _out(row: GeneratedDocument) -> DocumentOut:
    lineage = dict(row.lineage or {})
    formats: list[Literal["file", "pdf"]] = ["file"]
    if row.pdf_key:
        formats.append("pdf")
    workflow = lineage.get("workflow_id")
    return DocumentOut(
        id=row.id,
        name=lineage.get("name") if isinstance(lineage.get("name"), str) else None,
        workflow_id=str(workflow) if workflow is not None else None,
        execution_id=row.execution_id,
        node_id=row.node_id,
        step_key=str(lineage["step_key"]) if lineage.get("step_key") else None,
        formats=formats,
        file_key=row.file_key,
        pdf_key=row.pdf_key,
        pages=row.pages,
        template=TemplateLineage(
            id=row.template_id, key=row.template_key, sha256=row.template_sha256
        ),
        data_sha256=row.data_sha256,
        lineage=lineage,
        created_at=row.created_at,
    )


def get_document(document_id: uuid.UUID, session: SessionDep, org: CurrentOrg) -> GeneratedDocument:
    """The document ``document_id`` of the caller's organization; 404 for any other."""
    row = session.scalar(
        sa.select(GeneratedDocument).where(
            GeneratedDocument.id == document_id, GeneratedDocument.organization_id == org.id
        )
    )
    if row is None:
        raise HTTPProblem.not_found(f"there is no document {document_id} in your organization")
    return row


DocumentDep = Annotated[GeneratedDocument, Depends(get_document)]


@router.get("", response_model=DocumentPage, responses=problem_responses(422))
def list_documents(
    session: SessionDep,
    org: CurrentOrg,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
    workflow_id: Annotated[uuid.UUID | None, Query()] = None,
    execution_id: Annotated[str | None, Query(max_length=100)] = None,
) -> DocumentPage:
    """The organization's documents, newest first, ``limit`` at a time; ``workflow_id`` and
    ``execution_id`` narrow the list."""
    query = sa.select(GeneratedDocument).where(GeneratedDocument.organization_id == org.id)
    if workflow_id is not None:
        runs = sa.select(executions.c.id).where(executions.c.flow_id == str(workflow_id))
        query = query.where(
            sa.or_(
                GeneratedDocument.execution_id.in_(runs),
                GeneratedDocument.lineage["workflow_id"].as_string() == str(workflow_id),
            )
        )
    if execution_id is not None:
        query = query.where(GeneratedDocument.execution_id == execution_id)
    if cursor is not None:
        created, ident = decode_cursor(cursor)
        query = query.where(
            sa.or_(
                GeneratedDocument.created_at < created,
                sa.and_(GeneratedDocument.created_at == created, GeneratedDocument.id < ident),
            )
        )
    query = query.order_by(GeneratedDocument.created_at.desc(), GeneratedDocument.id.desc()).limit(
        limit + 1
    )
    found = list(session.scalars(query))
    page = found[:limit]
    more = len(found) > limit
    return DocumentPage(
        items=[_out(row) for row in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if more else None,
    )


@router.get("/{document_id}", response_model=DocumentOut, responses=problem_responses(404, 422))
def get_document_detail(document: DocumentDep) -> DocumentOut:
    """A document with its lineage: template (key, hash), data hash, execution and node."""
    return _out(document)


@router.get(
    "/{document_id}/download",
    response_model=DownloadLink,
    responses=problem_responses(404, 422),
)
async def download_document(
    document: DocumentDep,
    storage: StorageDep,
    request: Request,
    format: Annotated[Literal["pdf", "file"], Query()] = "pdf",
) -> DownloadLink:
    """A signed link, valid for an hour, to the PDF (``format=pdf``, the default) or to the
    generated file (``format=file``); 404 when the document has no such file."""
    key = document.pdf_key if format == "pdf" else document.file_key
    if not key or not await storage.exists(key):
        raise HTTPProblem.not_found(f"document {document.id} has no {format} file")
    return await download_link(storage, key, request)
