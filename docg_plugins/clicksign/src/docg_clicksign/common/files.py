"""The PDF to sign (read from storage) and the signed PDF (written to storage)."""

from __future__ import annotations

import asyncio
import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from docg_core.context import ExecutionContext
from docg_core.errors import StepError
from docg_core.storage import Storage

SIGNED_NAMESPACE = uuid.UUID("0c6d1f0e-3b1a-4f7e-9a55-5d1c0b7e2a41")


@dataclass(frozen=True)
class PdfFile:
    """The bytes of the document to sign and the name ClickSign shows."""

    data: bytes
    name: str


def file_reference(value: Any, argument: str) -> str:
    """A storage key from an argument: a string, or an earlier step's output
    (``{"pdf_key": ...}``, ``{"signed_file_key": ...}``, ``{"file_key": ...}``)."""
    if isinstance(value, Mapping):
        for field in ("pdf_key", "signed_file_key", "file_key", "key"):
            if isinstance(value.get(field), str) and value[field].strip():
                return str(value[field]).strip()
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise StepError(
        f"{argument}: expected a storage key or a step output with pdf_key, got {value!r}"
    )


async def load_pdf(ctx: ExecutionContext, ref: str, argument: str) -> PdfFile:
    """Read the PDF from ``ctx.storage`` (or from disk when not running for a tenant).

    A tenant's execution reads only keys under ``docg/{organization_id}/``, whatever it names.
    """
    organization = ctx.execution.organization_id
    if organization is not None and not ref.startswith(f"docg/{organization}/"):
        raise StepError(
            f"{argument}: file {ref!r} is not one of this organization's files",
            code="file_not_found",
        )
    storage = ctx.storage
    if storage is not None and _looks_like_key(ref) and await storage.exists(ref):
        data: bytes = await storage.get(ref)
    elif organization is None and (local := await asyncio.to_thread(_read_local, ref)):
        data = local
    else:
        raise StepError(f"{argument}: file {ref!r} not found", code="file_not_found")
    if not data.startswith(b"%PDF-"):
        raise StepError(f"{argument}: file {ref!r} is not a PDF", code="not_a_pdf")
    return PdfFile(data, PurePosixPath(ref).name)


def _read_local(ref: str) -> bytes | None:
    path = Path(ref).expanduser()
    return path.read_bytes() if path.is_file() else None


def _looks_like_key(ref: str) -> bool:
    return not ref.startswith(("/", "~", "\\")) and ".." not in PurePosixPath(ref).parts


def signed_file_key(ctx: ExecutionContext) -> str:
    """``docg/{organization or 'local'}/outputs/{uuid}.pdf``, the same for every retry and
    resume of the step, so the signed file is written once."""
    organization = ctx.execution.organization_id or "local"
    name = uuid.uuid5(SIGNED_NAMESPACE, ctx.step.idempotency_key)
    return f"docg/{organization}/outputs/{name}.pdf"


def require_storage(ctx: ExecutionContext) -> Storage:
    """``ctx.storage``, or a clear step error when the engine has none."""
    if ctx.storage is None:
        raise StepError("no file storage is configured for this engine (Engine(storage=...))")
    return ctx.storage


async def store_signed(ctx: ExecutionContext, data: bytes) -> tuple[str, str]:
    """Write the signed PDF under :func:`signed_file_key`; returns (key, sha256)."""
    key = signed_file_key(ctx)
    stored = await require_storage(ctx).put(key, data, content_type="application/pdf")
    return key, stored.sha256 or hashlib.sha256(data).hexdigest()
