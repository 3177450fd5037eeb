"""``GET /api/v1/files/{key}``: downloads of local files by signed URL.

The signature is the authorisation (no bearer token): ``expires`` and ``signature`` are the
query values :meth:`docg_core.storage.LocalStorage.signed_url` made. A wrong or expired
signature answers 403, a missing file 404. The file is streamed with its content type and
``Content-Disposition: attachment``, so a browser saves an HTML file instead of rendering it
on the API's origin. With S3 storage the signed URLs point at the bucket and this route
answers 404.
"""

from __future__ import annotations

import asyncio
import mimetypes
from pathlib import PurePosixPath
from typing import Annotated
from urllib.parse import quote

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from docg_core.storage import LocalStorage

from ...errors import HTTPProblem, problem_responses
from ..deps import StorageDep

__all__ = ["router"]

router = APIRouter(prefix="/files", tags=["files"])

_CONTENT_TYPES = {
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    ".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    ".pdf": "application/pdf",
    ".html": "text/html; charset=utf-8",
    ".htm": "text/html; charset=utf-8",
    ".md": "text/markdown; charset=utf-8",
}


def _content_type(name: str) -> str:
    suffix = PurePosixPath(name).suffix.lower()
    return _CONTENT_TYPES.get(suffix) or mimetypes.guess_type(name)[0] or "application/octet-stream"


def _disposition(name: str) -> str:
    ascii_name = name.encode("ascii", "replace").decode().replace('"', "_").replace("?", "_")
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(name)}"


def _size(storage: LocalStorage, key: str) -> int | None:
    path = storage.path(key)
    return path.stat().st_size if path.is_file() else None


@router.get(
    "/{key:path}",
    response_class=StreamingResponse,
    responses={
        200: {"description": "The file.", "content": {"application/octet-stream": {}}},
        **problem_responses(403, 404, 422),
    },
)
async def download_file(
    key: str,
    storage: StorageDep,
    expires: Annotated[str, Query(max_length=20)],
    signature: Annotated[str, Query(max_length=128)],
) -> StreamingResponse:
    """Download a stored file with a signed URL from a ``/download`` route (no token)."""
    if not isinstance(storage, LocalStorage):
        raise HTTPProblem.not_found("files are downloaded from the storage's own signed URLs")
    if not storage.verify_signed_url(key, expires, signature):
        raise HTTPProblem.forbidden("the link is invalid or has expired; ask for a new one")
    size = await asyncio.to_thread(_size, storage, key)
    if size is None:
        raise HTTPProblem.not_found("the file is no longer stored")
    name = PurePosixPath(key).name
    return StreamingResponse(
        storage.open(key),
        media_type=_content_type(name),
        headers={
            "Content-Disposition": _disposition(name),
            "Content-Length": str(size),
            "Cache-Control": "private, no-store",
        },
    )
