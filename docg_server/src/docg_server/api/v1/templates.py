"""``/api/v1/templates``: the organization's document templates — list, every template it can
use (``/available``), upload, register a stored file, detail, download link, delete.

- Upload (``POST /templates``, multipart ``file`` + optional ``name``): at most
  ``DOCG_MAX_TEMPLATE_BYTES`` (default 20 MiB; larger → 413). The type must agree by
  extension *and* content: ``.docx``/``.pptx`` (an Office zip with its main part),
  ``.html``/``.htm`` and ``.md``/``.markdown`` (UTF-8 text); anything else → 415. Word
  templates are repaired (split tags joined) before they are stored. The template is
  inspected (variables, loops, images, problems); one that cannot be read → 422
  ``invalid-template``. Stored at ``docg/{organization_id}/templates/{uuid}.{ext}``.
- Register (``POST /templates/register``): a file already in storage, under the
  organization's own ``docg/{organization_id}/`` prefix (anything else, or a missing file,
  → 404); checked and inspected like an upload.
- Members read; owners and admins upload, register and delete. Another organization's
  template answers 404, exactly like an unknown one.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import uuid
import zipfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Annotated, Any, Protocol

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field
from sqlalchemy.orm import Session
from starlette.datastructures import UploadFile
from starlette.types import Message

from docg_core.storage import FileNotFound, Storage, check_key, template_key

from ...config import Settings
from ...errors import HTTPProblem, problem_responses
from ...models import Organization, Role, Template, User
from ..deps import (
    AppSettings,
    CurrentOrg,
    RegistryDep,
    SessionDep,
    StorageDep,
    require_role,
)
from ..pagination import decode_cursor, encode_cursor

__all__ = [
    "DEFAULT_MAX_TEMPLATE_BYTES",
    "DOWNLOAD_SECONDS",
    "TEMPLATE_SOURCES",
    "DownloadLink",
    "TemplateSource",
    "decode_cursor",
    "download_link",
    "encode_cursor",
    "max_template_bytes",
    "router",
]

router = APIRouter(prefix="/templates", tags=["templates"], responses=problem_responses(401))

TemplateEditor = Annotated[User, Depends(require_role(Role.OWNER, Role.ADMIN))]

DEFAULT_MAX_TEMPLATE_BYTES = 20 * 1024 * 1024
"""The largest template accepted when ``DOCG_MAX_TEMPLATE_BYTES`` is not set."""
DOWNLOAD_SECONDS = 3600
"""How long a download link works."""
MAX_PAGE_SIZE = 100
_MULTIPART_SLACK = 64 * 1024  # boundaries, part headers and the name field around the file

# extension → (kind stored in templates.kind, extension of the stored file)
_KINDS: Mapping[str, tuple[str, str]] = {
    "docx": ("docx", "docx"),
    "pptx": ("pptx", "pptx"),
    "html": ("html", "html"),
    "htm": ("html", "html"),
    "md": ("markdown", "md"),
    "markdown": ("markdown", "md"),
}
_CONTENT_TYPES: Mapping[str, str] = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "html": "text/html; charset=utf-8",
    "markdown": "text/markdown; charset=utf-8",
}
_OFFICE_MAIN_PART = {"docx": "word/document.xml", "pptx": "ppt/presentation.xml"}


# -- shapes ----------------------------------------------------------------------------------


class TemplateProblemOut(BaseModel):
    """Something wrong in a template, where, and the tag it is in."""

    message: str
    location: str
    tag: str


class Inspection(BaseModel):
    """What the template needs, found without rendering it (see docs/templates.md)."""

    variables: list[str]
    loops: list[str]
    images: list[str]
    problems: list[TemplateProblemOut] = Field(
        description="Syntax problems; a template with problems fails when it is rendered."
    )


class TemplateOut(BaseModel):
    """A template stored for the organization."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    kind: str = Field(description="docx, pptx, html or markdown.")
    storage_key: str = Field(description="Pass as a generate-document step's `template`.")
    sha256: str
    variables: list[str]
    created_at: datetime
    updated_at: datetime


class TemplateCreated(TemplateOut):
    """The stored template and what inspecting it found."""

    inspection: Inspection


class TemplatePage(BaseModel):
    items: list[TemplateOut]
    next_cursor: str | None = Field(
        description="Pass as ``cursor`` for the next page; null on the last page."
    )


class AvailableTemplate(BaseModel):
    """A template the organization can use, from any source."""

    source: str = Field(description="Where it lives: 'storage' (uploaded or registered).")
    id: str = Field(description="Its id within the source.")
    name: str
    kind: str
    variables: list[str]


class AvailableTemplates(BaseModel):
    items: list[AvailableTemplate]
    sources: list[str] = Field(description="The sources that were listed.")


class RegisterIn(BaseModel):
    """A file already in the organization's storage, to use as a template."""

    model_config = ConfigDict(extra="forbid")

    storage_key: str = Field(min_length=1, max_length=1024)
    name: str | None = Field(default=None, min_length=1, max_length=200)


class DownloadLink(BaseModel):
    """A link that downloads the file without credentials until ``expires_at``."""

    url: str
    expires_at: datetime


# -- sources of templates (uploads now; Google Drive, OneDrive through apps later) -----------


class TemplateSource(Protocol):
    """A place templates come from, listed by ``GET /templates/available``."""

    name: str

    def available(self, session: Session, org: Organization) -> list[AvailableTemplate]:
        """Every template of this source the organization can use."""
        ...


class StoredTemplates:
    """Templates uploaded or registered in the server's storage (the ``templates`` table)."""

    name = "storage"

    def available(self, session: Session, org: Organization) -> list[AvailableTemplate]:
        rows = session.scalars(
            sa.select(Template)
            .where(Template.organization_id == org.id)
            .order_by(Template.created_at.desc(), Template.id.desc())
        )
        return [
            AvailableTemplate(
                source=self.name,
                id=str(row.id),
                name=row.name,
                kind=row.kind,
                variables=[str(v) for v in row.variables],
            )
            for row in rows
        ]


TEMPLATE_SOURCES: tuple[TemplateSource, ...] = (StoredTemplates(),)


# -- helpers ---------------------------------------------------------------------------------


def max_template_bytes(settings: Settings) -> int:
    """``DOCG_MAX_TEMPLATE_BYTES`` when the settings have it, else 20 MiB."""
    value = getattr(settings, "DOCG_MAX_TEMPLATE_BYTES", None)
    return value if isinstance(value, int) and value > 0 else DEFAULT_MAX_TEMPLATE_BYTES


def _invalid_field(location: str, field: str, message: str, code: str) -> HTTPProblem:
    return HTTPProblem(
        422,
        f"invalid field: {location}.{field}: {message}",
        slug="validation-error",
        title="Your request is not valid",
        extensions={
            "errors": [{"location": location, "field": field, "message": message, "code": code}]
        },
    )


def _too_large(limit: int) -> HTTPProblem:
    return HTTPProblem(
        413,
        f"a template may be at most {limit} bytes ({limit / 1024 / 1024:.0f} MiB)",
        extensions={"max_bytes": limit},
    )


def _unsupported(detail: str) -> HTTPProblem:
    return HTTPProblem(
        415,
        f"{detail}; upload a .docx, .pptx, .html, .htm, .md or .markdown template",
        extensions={"supported": sorted(_KINDS)},
    )


def _invalid_template(reason: str) -> HTTPProblem:
    return HTTPProblem(
        422,
        f"the template cannot be read: {reason}",
        slug="invalid-template",
        title="The template is not valid",
    )


async def download_link(storage: Storage, key: str, request: Request) -> DownloadLink:
    """A signed link to ``key``; a link relative to this server is made absolute."""
    expires_at = datetime.now(UTC) + timedelta(seconds=DOWNLOAD_SECONDS)
    url = await storage.signed_url(key, expires=DOWNLOAD_SECONDS)
    if url.startswith("/"):
        url = str(request.base_url).rstrip("/") + url
    return DownloadLink(url=url, expires_at=expires_at.replace(microsecond=0))


@dataclass(frozen=True)
class _Checked:
    """A template file that passed the type check and inspection."""

    data: bytes
    kind: str
    extension: str
    inspection: Inspection


def _kind_of(file_name: str, data: bytes) -> tuple[str, str]:
    """(kind, stored extension) when the name and the content agree; 415 otherwise."""
    extension = PurePosixPath(file_name).suffix.lower().lstrip(".")
    if extension not in _KINDS:
        shown = f"'.{extension}'" if extension else "no extension"
        raise _unsupported(f"{file_name!r} has {shown}")
    kind, stored = _KINDS[extension]
    is_zip = data.startswith(b"PK\x03\x04")
    if kind in _OFFICE_MAIN_PART:
        main = _OFFICE_MAIN_PART[kind]
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, ValueError, OSError):
            names = set()
        if not is_zip or main not in names:
            raise _unsupported(f"{file_name!r} is named .{extension} but is not a {kind} file")
        return kind, stored
    if is_zip or data.startswith(b"%PDF") or b"\x00" in data[:8192]:
        raise _unsupported(f"{file_name!r} is named .{extension} but is not a text file")
    return kind, stored


def _inspect(
    data: bytes, kind: str, filters: Mapping[str, Callable[..., Any]]
) -> tuple[bytes, Inspection]:
    """Repair (Word) and inspect a template; 422 ``invalid-template`` when unreadable."""
    from docg_documents.templating import (
        TemplateRenderError,
        inspect_html,
        inspect_template,
        repair_docx,
    )

    try:
        if kind == "docx":
            data = repair_docx(data)
            info = inspect_template(data, filters=filters)
        elif kind == "pptx":
            info = inspect_template(data, filters=filters)
        else:
            info = inspect_html(data.decode("utf-8-sig"), filters=filters)
    except UnicodeDecodeError:
        raise _invalid_template("the file is not UTF-8 text") from None
    except TemplateRenderError as exc:
        raise _invalid_template(str(exc)) from None
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise _invalid_template(f"{type(exc).__name__}: {exc}") from None
    inspection = Inspection(
        variables=list(info.variables),
        loops=list(info.loops),
        images=list(info.images),
        problems=[TemplateProblemOut(**p.to_dict()) for p in info.errors],
    )
    return data, inspection


async def _check(
    file_name: str, data: bytes, filters: Mapping[str, Callable[..., Any]]
) -> _Checked:
    kind, extension = _kind_of(file_name, data)
    repaired, inspection = await asyncio.to_thread(_inspect, data, kind, filters)
    return _Checked(repaired, kind, extension, inspection)


def _insert(
    session: Session, org_id: uuid.UUID, name: str, key: str, sha256: str, checked: _Checked
) -> Template:
    template = Template(
        id=uuid.uuid4(),
        organization_id=org_id,
        name=name,
        storage_key=key,
        sha256=sha256,
        kind=checked.kind,
        variables=checked.inspection.variables,
    )
    session.add(template)
    session.commit()
    return template


def _created(template: Template, inspection: Inspection) -> TemplateCreated:
    return TemplateCreated(
        **TemplateOut.model_validate(template).model_dump(), inspection=inspection
    )


def _default_name(file_name: str) -> str:
    return (PurePosixPath(file_name).stem or "template")[:200]


def _counting_receive(request: Request, limit: int) -> Callable[[], Any]:
    """The request's ``receive``, answering 413 once the body passes ``limit`` bytes."""
    seen = 0

    async def receive() -> Message:
        nonlocal seen
        message = await request.receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _too_large(limit - _MULTIPART_SLACK)
        return message

    return receive


async def _read_upload(request: Request, limit: int) -> tuple[str, bytes, str | None]:
    """(file name, bytes, name field) of a multipart upload, at most ``limit`` file bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + _MULTIPART_SLACK:
        raise _too_large(limit)
    if not request.headers.get("content-type", "").startswith("multipart/form-data"):
        raise _invalid_field("body", "file", "send the template as multipart/form-data", "missing")
    bounded = Request(request.scope, receive=_counting_receive(request, limit + _MULTIPART_SLACK))
    async with bounded.form(max_files=1, max_fields=5) as form:
        upload = form.get("file")
        name = form.get("name")
        if not isinstance(upload, UploadFile):
            raise _invalid_field("body", "file", "a file part named 'file' is required", "missing")
        if name is not None and (not isinstance(name, str) or not 0 < len(name.strip()) <= 200):
            raise _invalid_field(
                "body", "name", "the name is 1 to 200 characters", "string_too_long"
            )
        data = await upload.read(limit + 1)
        if len(data) > limit:
            raise _too_large(limit)
        return upload.filename or "", data, name.strip() if isinstance(name, str) else None


async def _read_stored(storage: Storage, key: str, limit: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in storage.open(key):
        size += len(chunk)
        if size > limit:
            raise _too_large(limit)
        chunks.append(chunk)
    return b"".join(chunks)


def _get_template(session: Session, org: Organization, template_id: uuid.UUID) -> Template:
    template = session.scalar(
        sa.select(Template).where(Template.id == template_id, Template.organization_id == org.id)
    )
    if template is None:
        raise HTTPProblem.not_found(f"there is no template {template_id} in your organization")
    return template


def get_template(template_id: uuid.UUID, session: SessionDep, org: CurrentOrg) -> Template:
    """The template ``template_id`` of the caller's organization; 404 for any other."""
    return _get_template(session, org, template_id)


TemplateDep = Annotated[Template, Depends(get_template)]

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {
                        "file": {"type": "string", "format": "binary"},
                        "name": {"type": "string", "maxLength": 200},
                    },
                }
            }
        },
    }
}


# -- routes ----------------------------------------------------------------------------------


@router.get("", response_model=TemplatePage, responses=problem_responses(422))
def list_templates(
    session: SessionDep,
    org: CurrentOrg,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> TemplatePage:
    """The organization's templates, newest first, ``limit`` at a time."""
    query = sa.select(Template).where(Template.organization_id == org.id)
    if cursor is not None:
        created, ident = decode_cursor(cursor)
        query = query.where(
            sa.or_(
                Template.created_at < created,
                sa.and_(Template.created_at == created, Template.id < ident),
            )
        )
    query = query.order_by(Template.created_at.desc(), Template.id.desc()).limit(limit + 1)
    found = list(session.scalars(query))
    page = found[:limit]
    more = len(found) > limit
    return TemplatePage(
        items=[TemplateOut.model_validate(t) for t in page],
        next_cursor=encode_cursor(page[-1].created_at, page[-1].id) if more else None,
    )


@router.get("/available", response_model=AvailableTemplates)
def available_templates(session: SessionDep, org: CurrentOrg) -> AvailableTemplates:
    """Every template the organization can use, from every source, as
    ``{source, id, name, kind, variables}``."""
    items: list[AvailableTemplate] = []
    for source in TEMPLATE_SOURCES:
        items.extend(source.available(session, org))
    return AvailableTemplates(items=items, sources=[s.name for s in TEMPLATE_SOURCES])


@router.post(
    "",
    status_code=201,
    response_model=TemplateCreated,
    responses=problem_responses(403, 413, 415, 422),
    openapi_extra=_UPLOAD_BODY,
)
async def upload_template(
    request: Request,
    session: SessionDep,
    org: CurrentOrg,
    storage: StorageDep,
    registry: RegistryDep,
    settings: AppSettings,
    _editor: TemplateEditor,
) -> TemplateCreated:
    """Upload a template (owners and admins): multipart ``file`` and an optional ``name``.

    413 over the size limit; 415 when the type is not docx, pptx, HTML or Markdown (by
    extension and content); 422 ``invalid-template`` when it cannot be read.
    """
    limit = max_template_bytes(settings)
    file_name, data, name = await _read_upload(request, limit)
    checked = await _check(file_name, data, registry.template_filters)
    key = template_key(str(org.id), checked.extension)
    stored = await storage.put(key, checked.data, content_type=_CONTENT_TYPES[checked.kind])
    try:
        template = await asyncio.to_thread(
            _insert, session, org.id, name or _default_name(file_name), key, stored.sha256, checked
        )
    except BaseException:
        await storage.delete(key)
        raise
    return _created(template, checked.inspection)


@router.post(
    "/register",
    status_code=201,
    response_model=TemplateCreated,
    responses=problem_responses(403, 404, 413, 415, 422),
)
async def register_template(
    body: RegisterIn,
    session: SessionDep,
    org: CurrentOrg,
    storage: StorageDep,
    registry: RegistryDep,
    settings: AppSettings,
    _editor: TemplateEditor,
) -> TemplateCreated:
    """Use a file already in the organization's storage as a template (owners and admins).

    The key must be under ``docg/{organization_id}/`` and exist (else 404); it is checked and
    inspected like an upload, and stays where it is.
    """
    key = body.storage_key
    try:
        check_key(key)
    except ValueError as exc:
        raise _invalid_field("body", "storage_key", str(exc), "invalid_key") from None
    missing = HTTPProblem.not_found(f"there is no file {key!r} in your organization's storage")
    if not key.startswith(f"docg/{org.id}/"):
        raise missing
    try:
        data = await _read_stored(storage, key, max_template_bytes(settings))
    except FileNotFound:
        raise missing from None
    checked = await _check(PurePosixPath(key).name, data, registry.template_filters)
    sha256 = await asyncio.to_thread(_sha256, data)
    template = await asyncio.to_thread(
        _insert, session, org.id, body.name or _default_name(key), key, sha256, checked
    )
    return _created(template, checked.inspection)


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@router.get("/{template_id}", response_model=TemplateOut, responses=problem_responses(404, 422))
def get_template_detail(template: TemplateDep) -> TemplateOut:
    """A template: name, kind, storage key, sha256 and the variables it reads."""
    return TemplateOut.model_validate(template)


@router.get(
    "/{template_id}/download",
    response_model=DownloadLink,
    responses=problem_responses(404, 422),
)
async def download_template(
    template: TemplateDep, storage: StorageDep, request: Request
) -> DownloadLink:
    """A signed link to the template file, valid for an hour."""
    if not await storage.exists(template.storage_key):
        raise HTTPProblem.not_found(f"the file of template {template.id} is no longer stored")
    return await download_link(storage, template.storage_key, request)


def _delete_row(session: Session, template: Template) -> bool:
    """Delete the row; True when no other template uses its file."""
    session.execute(sa.delete(Template).where(Template.id == template.id))
    others = session.scalar(
        sa.select(sa.func.count())
        .select_from(Template)
        .where(Template.storage_key == template.storage_key, Template.id != template.id)
    )
    session.commit()
    return not others


@router.delete(
    "/{template_id}",
    status_code=204,
    response_class=Response,
    responses=problem_responses(403, 404, 422),
)
async def delete_template(
    template: TemplateDep, session: SessionDep, storage: StorageDep, _editor: TemplateEditor
) -> Response:
    """Delete the template and its stored file (owners and admins). Documents generated
    from it keep their lineage (template key and hash)."""
    if await asyncio.to_thread(_delete_row, session, template):
        await storage.delete(template.storage_key)
    return Response(status_code=204)
