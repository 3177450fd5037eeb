"""``get-status``: a ZapSign document's status and each signer's."""

from __future__ import annotations

from typing import ClassVar

from docg_core.apps import ActionArgument, ActionResult, BaseAction
from docg_core.context import ExecutionContext

from .._api import check_token, get_document
from .._documents import summary
from ._common import DOC_TOKEN

__all__ = ["GetStatus"]


class GetStatus(BaseAction):
    key = "get-status"
    name = "Get status"
    description = "Read a ZapSign document's status (pending, signed, refused, expired, cancelled)."
    arguments: ClassVar[tuple[ActionArgument, ...]] = (DOC_TOKEN,)

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        doc_token = check_token(ctx.step.parameters["doc_token"], "doc_token")
        document = await get_document(ctx, doc_token)
        data = summary(document)
        data["reason"] = document.get("rejected_reason") or None
        data["signed_file_ready"] = bool(document.get("signed_file"))
        return ActionResult(raw=document, data=data)
