"""``cancel-envelope``: cancel a running envelope."""

from __future__ import annotations

from typing import ClassVar

from docg_core.apps import ActionResult, BaseAction
from docg_core.context import ExecutionContext
from docg_core.errors import StepError

from ..common.client import ClickSignClient, attributes_of
from ._envelope import ENVELOPE_ID, envelope_id


class CancelEnvelope(BaseAction):
    key = "cancel-envelope"
    name = "Cancel envelope"
    description = "Cancel a ClickSign envelope that is not finished; signers can no longer sign."
    arguments: ClassVar = (ENVELOPE_ID,)

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        envelope = envelope_id(ctx.step.parameters)
        client = ClickSignClient(ctx)
        current = await client.get_envelope(envelope)
        status = attributes_of(current).get("status")
        if status == "closed":
            raise StepError(
                f"ClickSign envelope {envelope} is already finished (closed); "
                "a finished envelope cannot be cancelled",
                code="clicksign_envelope_closed",
            )
        if status == "canceled":  # a retry after the cancel went through, or cancelled before
            data = {"envelope_id": envelope, "status": "cancelled"}
            return ActionResult(raw=current, data=data, metadata={"already_cancelled": True})
        updated = await client.set_status(envelope, "canceled", "cancelling the envelope")
        data = {"envelope_id": envelope, "status": "cancelled"}
        return ActionResult(raw=updated, data=data, metadata={"already_cancelled": False})
