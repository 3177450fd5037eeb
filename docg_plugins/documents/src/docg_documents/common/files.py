"""Reading inputs from storage (or local files when embedded) and writing outputs."""

from __future__ import annotations

import asyncio
import hashlib
import json
import re
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from docg_core.context import ExecutionContext
from docg_core.errors import StepError
from docg_core.storage import Storage

DOCUMENT_NAMESPACE = uuid.UUID("6f1c8c39-4a57-4e0e-9a59-6a0c0f3c2d11")
CONTENT_TYPES = {
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "pdf": "application/pdf",
    "html": "text/html; charset=utf-8",
}


@dataclass(frozen=True)
class LoadedFile:
    """A file read for an action: its bytes, name, where it came from and its sha256."""

    data: bytes
    name: str
    source: str
    sha256: str

    @property
    def extension(self) -> str:
        return PurePosixPath(self.name).suffix.lower().lstrip(".")


def file_reference(value: Any, argument: str) -> str:
    """A storage key or path from an argument: a string, or an earlier step's output
    (``{"file_key": ...}`` / ``{"pdf_key": ...}``)."""
    if isinstance(value, Mapping):
        for field in ("pdf_key", "file_key", "key"):
            if isinstance(value.get(field), str):
                return str(value[field])
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise StepError(f"{argument}: expected a storage key or file path, got {value!r}")


def local_files_allowed(ctx: ExecutionContext) -> bool:
    """Local paths are read only when embedded or run from the CLI (no tenant): a server
    running for an organization must never read its own disk on a user's behalf."""
    return ctx.execution.organization_id is None


async def load_file(ctx: ExecutionContext, ref: str, argument: str) -> LoadedFile:
    """Read ``ref`` from ``ctx.storage``, or from disk when :func:`local_files_allowed`."""
    storage = ctx.storage
    organization = ctx.execution.organization_id
    if organization is not None and not ref.startswith(f"docg/{organization}/"):
        # A tenant's workflow reads only its own organization's files, whatever key it names.
        raise StepError(
            f"{argument}: file {ref!r} is not one of this organization's files",
            code="file_not_found",
        )
    if storage is not None and _looks_like_key(ref) and await storage.exists(ref):
        data: bytes = await storage.get(ref)
        return LoadedFile(data, PurePosixPath(ref).name, ref, hashlib.sha256(data).hexdigest())
    if local_files_allowed(ctx):
        found = await asyncio.to_thread(_read_local, ref)
        if found is not None:
            return found
        where = "in storage or on disk"
    else:
        where = "in storage"
    raise StepError(f"{argument}: file {ref!r} not found {where}", code="file_not_found")


def _read_local(ref: str) -> LoadedFile | None:
    path = Path(ref).expanduser()
    if not path.is_file():
        return None
    data = path.read_bytes()
    return LoadedFile(data, path.name, str(path.resolve()), hashlib.sha256(data).hexdigest())


def _looks_like_key(ref: str) -> bool:
    return not ref.startswith(("/", "~", "\\")) and ".." not in PurePosixPath(ref).parts


def output_key(ctx: ExecutionContext, document_id: str, extension: str) -> str:
    """``docg/{organization}/outputs/{document_id}.{ext}``: the same key for every retry of a
    step, so a retried step overwrites its own file instead of writing a second one."""
    organization = ctx.execution.organization_id or "local"
    return f"docg/{organization}/outputs/{document_id}.{extension}"


def require_storage(ctx: ExecutionContext) -> Storage:
    """``ctx.storage``, or a clear step error when the engine has none."""
    if ctx.storage is None:
        raise StepError("no file storage is configured for this engine (Engine(storage=...))")
    return ctx.storage


async def store_output(
    ctx: ExecutionContext, document_id: str, extension: str, data: bytes
) -> tuple[str, str]:
    """Write an output file; returns (key, sha256)."""
    key = output_key(ctx, document_id, extension)
    stored = await require_storage(ctx).put(key, data, content_type=CONTENT_TYPES.get(extension))
    return key, str(stored.sha256)


def document_id(ctx: ExecutionContext) -> str:
    """The id of the document a step makes: the same for every retry or replay of the step."""
    return str(uuid.uuid5(DOCUMENT_NAMESPACE, ctx.step.idempotency_key))


async def pdf_result(ctx: ExecutionContext, pdf: bytes, pages: int, name: str) -> dict[str, Any]:
    """Store a PDF a step made and describe it: ``document_id, pdf_key, file_key, pdf_name,
    url, pages, sha256``."""
    doc_id = document_id(ctx)
    key, digest = await store_output(ctx, doc_id, "pdf", pdf)
    return {
        "document_id": doc_id,
        "pdf_key": key,
        "file_key": key,
        "pdf_name": safe_file_name(name, "pdf"),
        "url": await require_storage(ctx).signed_url(key),
        "pages": pages,
        "sha256": digest,
    }


def data_fingerprint(data: Any) -> str:
    """sha256 of the data as canonical JSON: the same data always gives the same hash."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()


_UNSAFE = re.compile(r"[^\w\-. ]+", re.UNICODE)


def safe_file_name(name: str, extension: str) -> str:
    """A download name: no path separators or control characters, at most 120 characters."""
    cleaned = _UNSAFE.sub("_", name).strip(" ._") or "document"
    return f"{cleaned[:120]}.{extension}"
