"""Upload a stored file to HubSpot, and attach it to a record's timeline as a note."""

from __future__ import annotations

import json
import mimetypes
import posixpath
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any, ClassVar

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction, DropdownOption
from docg_core.context import ExecutionContext
from docg_core.errors import StepError, ValidationError
from docg_core.storage import FileNotFound

from ..common.client import hubspot_json
from ..common.idempotency import recall, remember
from ..common.objects import check_object_type, object_path
from ._arguments import OBJECT_ID, OBJECT_TYPE
from .associate import association_path

# HubSpot-defined association types from a note to a record, by the record's type.
NOTE_ASSOCIATION_TYPE_IDS = {"contacts": 202, "companies": 190, "deals": 214, "tickets": 228}

FILE_ARGUMENTS: tuple[ActionArgument, ...] = (
    ActionArgument(
        key="file",
        label="File",
        type=ArgumentType.FILE,
        required=True,
        description="The storage key of the file (e.g. {{step.contract.file_key}}).",
    ),
    ActionArgument(
        key="file_name",
        label="File name",
        description="The name in HubSpot, extension included; default: the key's last part.",
    ),
    ActionArgument(
        key="folder_path",
        label="Folder",
        default="/docg",
        description="The HubSpot file manager folder to upload to.",
    ),
    ActionArgument(
        key="access",
        label="Access",
        type=ArgumentType.DROPDOWN,
        default="PRIVATE",
        options=(
            DropdownOption("PRIVATE", "Private"),
            DropdownOption("PUBLIC_NOT_INDEXABLE", "Public, not indexed by search engines"),
            DropdownOption("PUBLIC_INDEXABLE", "Public"),
        ),
    ),
)


def _file_key(value: Any) -> str:
    if isinstance(value, Mapping):
        value = value.get("file_key") or value.get("key")
    if not isinstance(value, str) or not value:
        raise ValidationError("file must be a storage key (text), or an object with a file_key")
    return value


def file_data(file: Mapping[str, Any]) -> dict[str, Any]:
    """An uploaded file as step data."""
    return {
        "file_id": str(file.get("id")),
        "name": file.get("name"),
        "extension": file.get("extension"),
        "path": file.get("path"),
        "url": file.get("url"),
        "size": file.get("size"),
        "access": file.get("access"),
    }


async def upload_file(ctx: ExecutionContext) -> dict[str, Any]:
    """Upload the step's ``file`` (``POST /files/v3/files``) once per step: a retry gets the
    file uploaded by the first attempt."""
    done = await recall(ctx, "file")
    if done is not None:
        return dict(done)
    params = ctx.step.parameters
    key = _file_key(params["file"])
    if ctx.storage is None:
        raise StepError(
            "No file storage is configured, so the file cannot be read.", code="no_storage"
        )
    try:
        content = await ctx.storage.get(key)
    except FileNotFound:
        raise StepError(f"No stored file has the key {key!r}.", code="file_not_found") from None
    name = params.get("file_name") or posixpath.basename(key)
    content_type = mimetypes.guess_type(name)[0] or "application/octet-stream"
    options = {
        "access": params.get("access") or "PRIVATE",
        "overwrite": False,
        "duplicateValidationStrategy": "NONE",
        "duplicateValidationScope": "ENTIRE_PORTAL",
    }
    file = await hubspot_json(
        ctx,
        "POST",
        "/files/v3/files",
        what=f"the upload of {name}",
        files={"file": (name, content, content_type)},
        data={
            "folderPath": params.get("folder_path") or "/docg",
            "fileName": name,
            "options": json.dumps(options),
        },
    )
    await remember(ctx, "file", file)
    return dict(file)


class UploadFile(BaseAction):
    """Upload a stored file to HubSpot's file manager (Files API v3)."""

    key = "upload-file"
    name = "Upload file"
    description = "Upload a stored file (e.g. a generated PDF) to HubSpot's file manager."
    arguments: ClassVar[tuple[ActionArgument, ...]] = FILE_ARGUMENTS

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        file = await upload_file(ctx)
        return ActionResult(raw=file, data=file_data(file))


class AttachFile(BaseAction):
    """Upload a stored file, then create a note (``POST /crm/v3/objects/notes``) with
    ``hs_attachment_ids`` associated with the record: the file shows on its timeline."""

    key = "attach-file"
    name = "Attach file to record"
    description = (
        "Upload a stored file and attach it to a record's timeline as a note (how a "
        "generated contract lands on its deal)."
    )
    arguments: ClassVar[tuple[ActionArgument, ...]] = (
        OBJECT_TYPE,
        OBJECT_ID,
        *FILE_ARGUMENTS,
        ActionArgument(
            key="note",
            label="Note text",
            type=ArgumentType.MULTILINE,
            description="The note's text (HTML allowed).",
        ),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        params = ctx.step.parameters
        object_type = check_object_type(params["object_type"])
        object_id = str(params["object_id"])
        file = await upload_file(ctx)
        note = await recall(ctx, "note")
        if note is None:
            note = await _create_note(ctx, object_type, object_id, str(file["id"]))
            await remember(ctx, "note", note)
        data = {
            **file_data(file),
            "note_id": str(note["id"]),
            "object_type": object_type,
            "object_id": object_id,
        }
        return ActionResult(raw={"file": file, "note": note}, data=data)


async def _create_note(
    ctx: ExecutionContext, object_type: str, object_id: str, file_id: str
) -> dict[str, Any]:
    properties = {
        "hs_timestamp": datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
        "hs_note_body": ctx.step.parameters.get("note") or "",
        "hs_attachment_ids": file_id,
    }
    type_id = NOTE_ASSOCIATION_TYPE_IDS.get(object_type)
    associations = (
        [
            {
                "to": {"id": object_id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}],
            }
        ]
        if type_id is not None
        else []
    )
    note: dict[str, Any] = await hubspot_json(
        ctx,
        "POST",
        object_path("notes"),
        what=f"a note on {object_type} {object_id}",
        json={"properties": properties, "associations": associations},
    )
    if type_id is None:
        # No fixed note type for this object (custom objects...): use the default association.
        await hubspot_json(
            ctx,
            "PUT",
            association_path("notes", str(note["id"]), object_type, object_id, default=True),
            what=f"the note's association with {object_type} {object_id}",
        )
    return note
