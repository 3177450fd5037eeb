"""``resend-notification``: remind the signers who have not signed yet."""

from __future__ import annotations

from typing import Any, ClassVar

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction, DropdownOption
from docg_core.context import ExecutionContext
from docg_core.errors import StepError

from .._api import check_token, get_document, notify_signer
from .._documents import document_status, signer_states
from ._common import DOC_TOKEN

__all__ = ["ResendNotification"]


class ResendNotification(BaseAction):
    key = "resend-notification"
    name = "Resend notification"
    description = (
        "Send the signing link again, by e-mail or WhatsApp, to the signers who have not "
        "signed (ZapSign allows one reminder per signer every 30 minutes)."
    )
    arguments: ClassVar[tuple[ActionArgument, ...]] = (
        DOC_TOKEN,
        ActionArgument(
            key="channel",
            label="Channel",
            type=ArgumentType.DROPDOWN,
            default="email",
            options=(DropdownOption("email", "E-mail"), DropdownOption("whatsapp", "WhatsApp")),
        ),
        ActionArgument(
            key="signer_tokens",
            label="Signers",
            multiple=True,
            description="Only these signers (their tokens); all who have not signed if empty.",
        ),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        params = ctx.step.parameters
        doc_token = check_token(params["doc_token"], "doc_token")
        channel = str(params["channel"])
        key = f"zapsign-resend:{ctx.step.idempotency_key}"
        record: dict[str, Any] = await ctx.datastore.get(key) or {"notified": [], "due": None}
        if record["due"] is None:
            document = await get_document(ctx, doc_token)
            status = document_status(document)
            if status != "pending":
                raise StepError(
                    f"ZapSign document {doc_token} is {status}: there is no one to remind",
                    code="not_pending",
                )
            wanted = set(params.get("signer_tokens") or [])
            record["due"] = [
                s["token"]
                for s in signer_states(document)
                if s["status"] != "signed" and (not wanted or s["token"] in wanted)
            ]
            await ctx.datastore.set(key, record)
        for signer_token in record["due"]:
            if signer_token in record["notified"]:
                continue  # reminded by an earlier attempt of this step
            await notify_signer(ctx, check_token(signer_token, "signer token"), channel)
            record["notified"].append(signer_token)
            await ctx.datastore.set(key, record)
        return ActionResult(
            data={"doc_token": doc_token, "channel": channel, "notified": list(record["notified"])}
        )
