"""``cancel-document``: stop the signing of a ZapSign document (cancel it, or delete it)."""

from __future__ import annotations

from typing import ClassVar

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction, DropdownOption
from docg_core.context import ExecutionContext

from .._api import check_response, check_token, delete_document, error_detail, refuse_document
from ._common import DOC_TOKEN

__all__ = ["CancelDocument"]


class CancelDocument(BaseAction):
    key = "cancel-document"
    name = "Cancel document"
    description = (
        "Cancel a ZapSign document in progress (it is marked refused and can no longer be "
        "signed), or delete it (hidden from the ZapSign interface)."
    )
    arguments: ClassVar[tuple[ActionArgument, ...]] = (
        DOC_TOKEN,
        ActionArgument(
            key="mode",
            label="How",
            type=ArgumentType.DROPDOWN,
            default="cancel",
            options=(
                DropdownOption("cancel", "Cancel (refuse) the document"),
                DropdownOption("delete", "Delete the document"),
            ),
        ),
        ActionArgument(
            key="reason",
            label="Reason",
            default="Cancelled by the workflow",
            description="Shown in ZapSign's document details (cancel only).",
        ),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        params = ctx.step.parameters
        doc_token = check_token(params["doc_token"], "doc_token")
        if params["mode"] == "delete":
            document = await delete_document(ctx, doc_token)
            return ActionResult(raw=document, data={"doc_token": doc_token, "status": "deleted"})
        response = await refuse_document(ctx, doc_token, str(params["reason"]))
        # A retried step finds the document already cancelled by its first attempt.
        already = response.status_code == 403 and "already_refused" in response.text
        if not already:
            check_response(response, f"cancelling document {doc_token}")
        return ActionResult(
            raw=None if already else response.json(),
            data={"doc_token": doc_token, "status": "cancelled"},
            metadata={"already_cancelled": already, "detail": error_detail(response)},
        )
