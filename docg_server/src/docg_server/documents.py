"""Recording the documents a run produced as ``generated_documents`` rows, with lineage.

A successful ``documents`` / ``generate-document`` step is one document: its file and PDF
keys, page count, the template (and, when the template was uploaded to this organization,
its ``templates`` row), the template's and the data's sha256, the execution and the node.
A ``documents`` / ``convert-to-pdf`` step whose input is a document generated earlier in the
same execution is a new document derived from it (same template and data hashes; ``file_key``
is the converted file, ``pdf_key`` the new PDF); converting any other file records nothing.

Recording is idempotent: a row's id is derived from the execution id and the step key
(``gen`` or ``gen[2]`` inside a loop), so recording the same step twice — a replayed
observer, two processes — leaves one row. A step whose files are not under the
organization's own ``docg/{organization_id}/`` prefix is never recorded, so a download link
can only ever point at the organization's own files.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Mapping
from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from docg_core.records import ExecutionRecord, StepRecord

from .models import GeneratedDocument, Template

__all__ = [
    "GENERATE_ACTION",
    "PDF_ACTION",
    "document_row_id",
    "generated_document_from_step",
    "record_documents",
    "record_documents_in",
]

GENERATE_ACTION = ("documents", "generate-document")
PDF_ACTION = ("documents", "convert-to-pdf")

_ROW_NAMESPACE = uuid.UUID("0b7a6f5e-3c1d-4f0e-9a8b-6d2c1e4f5a70")
_KEY_LENGTH = 1024  # generated_documents.*_key
_ID_LENGTH = 100  # generated_documents.execution_id / node_id


def document_row_id(execution_id: str, step_key: str) -> uuid.UUID:
    """The ``generated_documents.id`` of the document made by one step of one execution."""
    return uuid.uuid5(_ROW_NAMESPACE, f"{execution_id}:{step_key}")


def _output(step: StepRecord) -> Mapping[str, Any] | None:
    """The step's ``data`` (what later steps see), if it succeeded and has one."""
    if step.status != "success" or not isinstance(step.data_out, Mapping):
        return None
    data = step.data_out.get("data")
    return data if isinstance(data, Mapping) else None


def _own_key(value: Any, organization_id: str) -> str | None:
    """``value`` if it is a storage key of the organization's own files, else None."""
    if (
        isinstance(value, str)
        and value.startswith(f"docg/{organization_id}/")
        and ".." not in value.split("/")
        and len(value) <= _KEY_LENGTH
    ):
        return value
    return None


def _text(value: Any, length: int) -> str:
    return str(value or "")[:length]


def _pages(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _template_id(session: Session | None, organization_id: str, key: str) -> uuid.UUID | None:
    if session is None or not key:
        return None
    found: uuid.UUID | None = session.scalar(
        sa.select(Template.id)
        .where(Template.organization_id == uuid.UUID(organization_id), Template.storage_key == key)
        .order_by(Template.created_at.desc())
        .limit(1)
    )
    return found


def _generated(
    org: str, execution: ExecutionRecord, step: StepRecord, data: Mapping[str, Any]
) -> GeneratedDocument | None:
    file_key = _own_key(data.get("file_key"), org)
    pdf_key = _own_key(data.get("pdf_key"), org)
    if (data.get("file_key") and file_key is None) or (data.get("pdf_key") and pdf_key is None):
        return None  # a file outside the organization's prefix: never link to it
    main = file_key or pdf_key
    lineage = data.get("lineage")
    if main is None or not isinstance(lineage, Mapping):
        return None
    return GeneratedDocument(
        id=document_row_id(execution.id, step.key),
        organization_id=uuid.UUID(org),
        execution_id=_text(execution.id, _ID_LENGTH),
        node_id=_text(step.node_id, _ID_LENGTH),
        template_key=_text(lineage.get("template"), _KEY_LENGTH),
        template_sha256=_text(lineage.get("template_sha256"), 64),
        data_sha256=_text(lineage.get("data_sha256"), 64),
        file_key=main,
        pdf_key=pdf_key,
        pages=_pages(data.get("pages")),
        lineage={
            **{str(k): v for k, v in lineage.items()},
            "step_key": step.key,
            "action": "/".join(GENERATE_ACTION),
            "document_id": data.get("document_id"),
            "name": data.get("name"),
            "file_name": data.get("file_name"),
            "pdf_name": data.get("pdf_name"),
            "sha256": data.get("sha256"),
            "missing_variables": data.get("missing_variables") or [],
        },
    )


def _converted(
    org: str, execution: ExecutionRecord, step: StepRecord, data: Mapping[str, Any]
) -> GeneratedDocument | None:
    source = _own_key(data.get("source"), org)
    pdf_key = _own_key(data.get("pdf_key"), org)
    if source is None or pdf_key is None:
        return None
    for earlier in execution.steps:
        if (earlier.app, earlier.action) != GENERATE_ACTION or earlier.key == step.key:
            continue
        earlier_data = _output(earlier)
        if earlier_data is None or source not in (
            earlier_data.get("file_key"),
            earlier_data.get("pdf_key"),
        ):
            continue
        origin = _generated(org, execution, earlier, earlier_data)
        if origin is None:
            return None
        return GeneratedDocument(
            id=document_row_id(execution.id, step.key),
            organization_id=origin.organization_id,
            execution_id=origin.execution_id,
            node_id=_text(step.node_id, _ID_LENGTH),
            template_key=origin.template_key,
            template_sha256=origin.template_sha256,
            data_sha256=origin.data_sha256,
            file_key=source,
            pdf_key=pdf_key,
            pages=_pages(data.get("pages")),
            lineage={
                **origin.lineage,
                "node_id": step.node_id,
                "step_key": step.key,
                "action": "/".join(PDF_ACTION),
                "document_id": data.get("document_id"),
                "pdf_name": data.get("pdf_name"),
                "sha256": data.get("sha256"),
                "derived_from": str(origin.id),
            },
        )
    return None


def generated_document_from_step(
    organization_id: uuid.UUID | str,
    execution: ExecutionRecord,
    step: StepRecord,
    *,
    session: Session | None = None,
) -> GeneratedDocument | None:
    """The row for a document ``step`` produced, or None if it produced none to record.

    Not added to any session. With ``session``, ``template_id`` is the organization's
    template stored under the lineage's template key (the newest, if several).

    :param organization_id: the organization the execution ran for.
    :param execution: the execution (needed to find the document a conversion started from).
    :param step: a step of ``execution``; only successful generate/convert steps count.
    """
    org = str(uuid.UUID(str(organization_id)))
    if execution.organization_id is not None and execution.organization_id != org:
        return None
    data = _output(step)
    if data is None:
        return None
    action = (step.app, step.action)
    if action == GENERATE_ACTION:
        row = _generated(org, execution, step, data)
    elif action == PDF_ACTION:
        row = _converted(org, execution, step, data)
    else:
        return None
    if row is not None:
        row.template_id = _template_id(session, org, row.template_key)
    return row


def record_documents_in(
    session: Session, organization_id: uuid.UUID | str, execution: ExecutionRecord
) -> list[GeneratedDocument]:
    """Add (not commit) a row for every document of ``execution`` not yet recorded; the new
    rows."""
    rows = [
        row
        for step in execution.steps
        if (row := generated_document_from_step(organization_id, execution, step, session=session))
        is not None
    ]
    if not rows:
        return []
    existing = set(
        session.scalars(
            sa.select(GeneratedDocument.id).where(
                GeneratedDocument.id.in_([row.id for row in rows])
            )
        )
    )
    new = [row for row in rows if row.id not in existing]
    session.add_all(new)
    return new


def _record(
    session_factory: sessionmaker[Session],
    organization_id: uuid.UUID | str,
    execution: ExecutionRecord,
) -> list[GeneratedDocument]:
    for attempt in range(3):
        with session_factory() as session:
            try:
                new = record_documents_in(session, organization_id, execution)
                session.commit()
                return new
            except IntegrityError:
                # Another process recorded some of them meanwhile: read again, add the rest.
                session.rollback()
                if attempt == 2:
                    raise
    return []  # pragma: no cover - the loop returns or raises


async def record_documents(
    session_factory: sessionmaker[Session],
    execution: ExecutionRecord,
    *,
    organization_id: uuid.UUID | str | None = None,
) -> list[GeneratedDocument]:
    """Insert a ``generated_documents`` row for every successful document step of
    ``execution`` not recorded yet (in a worker thread); the rows inserted by this call.

    :param organization_id: defaults to ``execution.organization_id``; an execution without
        an organization (embedded, CLI) records nothing.
    """
    org = organization_id or execution.organization_id
    if org is None:
        return []
    return await asyncio.to_thread(_record, session_factory, org, execution)
