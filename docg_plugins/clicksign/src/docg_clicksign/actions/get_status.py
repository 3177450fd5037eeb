"""``get-status``: where an envelope stands, without waiting."""

from __future__ import annotations

from typing import ClassVar

from docg_core.apps import ActionResult, BaseAction
from docg_core.context import ExecutionContext

from ..common.client import ClickSignClient, attributes_of
from ..common.state import envelope_state
from ._envelope import ENVELOPE_ID, envelope_id


class GetStatus(BaseAction):
    key = "get-status"
    name = "Get envelope status"
    description = "Read a ClickSign envelope's status and each signer's progress."
    arguments: ClassVar = (ENVELOPE_ID,)

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        envelope_key = envelope_id(ctx.step.parameters)
        client = ClickSignClient(ctx)
        envelope = await client.get_envelope(envelope_key)
        signers = [
            {
                "id": s["id"],
                "name": attributes_of(s).get("name"),
                "email": attributes_of(s).get("email"),
            }
            for s in await client.list_signers(envelope_key)
        ]
        events = await client.list_events(envelope_key)
        state = envelope_state(envelope, events, signers)
        data = {
            "envelope_id": envelope_key,
            "status": state.outcome,
            "envelope_status": state.envelope_status,
            "signers": state.signers,
            "progress": state.counts(),
        }
        return ActionResult(raw={"envelope": envelope, "events": events}, data=data)
