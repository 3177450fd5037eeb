"""The PDF sent for signature (read from storage) and the signed PDF (written to it)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from docg_core.context import ExecutionContext
from docg_core.errors import StepError
from docg_core.storage import Storage, check_key

__all__ = ["PdfFile", "load_pdf", "pdf_reference", "signed_file_key", "store_signed_pdf"]

_SIGNED_NAMESPACE = uuid.UUID("3d0a7c9e-5b1f-4f8e-9d63-2a61f0c4b7e2")


@dataclass(frozen=True)
class PdfFile:
    """A PDF read for an action: its bytes, storage key and file name."""

    data: bytes
    key: str

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name


def pdf_reference(value: Any, argument: str) -> str:
    """A storage key: a string, or an earlier step's output (``{"pdf_key": ...}``,
    ``{"file_key": ...}`` or ``{"key": ...}``)."""
    if isinstance(value, Mapping):
        for field in ("pdf_key", "file_key", "key"):
            if isinstance(value.get(field), str):
                return str(value[field]).strip()
    if isinstance(value, str) and value.strip():
        return value.strip()
    raise StepError(
        f"{argument}: expected a storage key or a step output with pdf_key, got {value!r}"
    )


def _storage(ctx: ExecutionContext) -> Storage:
    if ctx.storage is None:
        raise StepError("no file storage is configured for this engine (Engine(storage=...))")
    return ctx.storage


async def load_pdf(ctx: ExecutionContext, ref: str, argument: str) -> PdfFile:
    """Read a PDF from ``ctx.storage``. A tenant's execution reads only keys under
    ``docg/{organization_id}/``; the file must be a PDF."""
    organization = ctx.execution.organization_id
    if organization is not None and not ref.startswith(f"docg/{organization}/"):
        # Whatever key a workflow names, a tenant reads only its own organization's files.
        raise StepError(
            f"{argument}: file {ref!r} is not one of this organization's files",
            code="file_not_found",
        )
    try:
        check_key(ref)
    except ValueError as exc:
        raise StepError(f"{argument}: {exc}", code="file_not_found") from None
    storage = _storage(ctx)
    if not await storage.exists(ref):
        raise StepError(f"{argument}: file {ref!r} not found in storage", code="file_not_found")
    data = await storage.get(ref)
    if not data.startswith(b"%PDF-"):
        raise StepError(f"{argument}: file {ref!r} is not a PDF", code="not_a_pdf")
    return PdfFile(data, ref)


def signed_file_key(ctx: ExecutionContext) -> str:
    """``docg/{organization or 'local'}/outputs/{id}.pdf``, the same for every retry and
    resume of the step, so the signed PDF is written once under one key."""
    organization = ctx.execution.organization_id or "local"
    document_id = uuid.uuid5(_SIGNED_NAMESPACE, ctx.step.idempotency_key)
    return f"docg/{organization}/outputs/{document_id}.pdf"


async def store_signed_pdf(ctx: ExecutionContext, data: bytes) -> tuple[str, str]:
    """Write the signed PDF under :func:`signed_file_key`; returns (key, sha256)."""
    if not data.startswith(b"%PDF-"):
        raise StepError("the signed file ZapSign returned is not a PDF", code="not_a_pdf")
    key = signed_file_key(ctx)
    await _storage(ctx).put(key, data, content_type="application/pdf")
    return key, hashlib.sha256(data).hexdigest()
