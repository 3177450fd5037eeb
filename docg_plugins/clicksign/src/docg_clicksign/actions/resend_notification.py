"""``resend-notification``: remind the signers (or one signer) of a running envelope."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import ClassVar

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction
from docg_core.context import ExecutionContext
from docg_core.errors import StepError

from ..common.client import ClickSignClient, attributes_of
from ._envelope import ENVELOPE_ID, envelope_id


class ResendNotification(BaseAction):
    key = "resend-notification"
    name = "Resend notification"
    description = (
        "Notify the signers whose turn it is again (or one signer), for a running envelope."
    )
    arguments: ClassVar = (
        ENVELOPE_ID,
        ActionArgument(
            key="signer_id",
            label="Signer",
            depends_on="envelope_id",
            description="One signer's id (from the send step's signers); all when empty.",
        ),
        ActionArgument(key="message", label="Message", type=ArgumentType.MULTILINE),
    )

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        params = ctx.step.parameters
        envelope = envelope_id(params)
        done_key = f"clicksign:notified:{ctx.step.idempotency_key}"
        done = await ctx.datastore.get(done_key)
        if isinstance(done, dict):  # a retry: the signers were notified already
            return ActionResult(raw=None, data=done, metadata={"reused": True})
        client = ClickSignClient(ctx)
        status = attributes_of(await client.get_envelope(envelope)).get("status")
        if status != "running":
            raise StepError(
                f"ClickSign envelope {envelope} is {status}, not running: "
                "only a running envelope's signers can be notified",
                code="clicksign_envelope_not_running",
            )
        signer = str(params.get("signer_id") or "").strip() or None
        if signer is None:
            await client.notify(envelope, params.get("message"))
        else:
            await client.notify_signer(envelope, signer, params.get("message"))
        data = {
            "envelope_id": envelope,
            "signer_id": signer,
            "notified_at": datetime.now(UTC).isoformat(),
        }
        await ctx.datastore.set(done_key, data)
        return ActionResult(raw=None, data=data, metadata={"reused": False})
