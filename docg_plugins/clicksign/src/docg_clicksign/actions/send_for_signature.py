"""``send-for-signature``: send a stored PDF for signature and wait until it is settled.

``run`` builds the envelope step by step (envelope, document, signers, requirements,
activation, notification), recording each part in the datastore under the step's
idempotency key as soon as ClickSign confirms it, so a retried step continues where the
first attempt stopped and never creates a second envelope. It then waits with the resume
token ``clicksign:{envelope_id}``. ``resume`` (from a webhook, or from the polling fallback
with ``{"timeout": true}``) reads the envelope from the API and either waits again or ends
the step.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from docg_core.apps import (
    ActionArgument,
    ActionResult,
    ArgumentType,
    BaseAction,
    DropdownOption,
)
from docg_core.context import ExecutionContext
from docg_core.errors import StepError, ValidationError

from ..auth import environment
from ..common.client import ClickSignClient, signed_file_url
from ..common.files import file_reference, load_pdf, store_signed
from ..common.signers import parse_signers, signer_problems
from ..common.state import EnvelopeState, envelope_state

# ClickSign needs a moment after the last signature to produce the signed file.
SIGNED_FILE_RETRY = timedelta(minutes=1)


def record_key(ctx: ExecutionContext) -> str:
    """Where the step's envelope is remembered in the datastore."""
    return f"clicksign:envelope:{ctx.step.idempotency_key}"


def resume_token(envelope_id: str) -> str:
    """The token a ClickSign callback for this envelope resumes the step with."""
    return f"clicksign:{envelope_id}"


class SendForSignature(BaseAction):
    key = "send-for-signature"
    name = "Send for signature"
    description = (
        "Send a stored PDF to ClickSign for signature and wait until every signer signed, "
        "someone refused, or the envelope expired or was cancelled."
    )
    can_wait = True
    arguments: ClassVar = (
        ActionArgument(
            key="document",
            label="Document",
            type=ArgumentType.FILE,
            required=True,
            description="A PDF's storage key, or an earlier step's output with pdf_key.",
        ),
        ActionArgument(
            key="signers",
            label="Signers",
            type=ArgumentType.JSON,
            required=True,
            description=(
                "A list of {name, email, phone, auth: email|sms|whatsapp, "
                "delivery: email|sms|whatsapp, group, refusable}."
            ),
        ),
        ActionArgument(
            key="envelope_name",
            label="Envelope name",
            description="Shown to signers; the document's file name when empty.",
        ),
        ActionArgument(
            key="message",
            label="Message",
            type=ArgumentType.MULTILINE,
            description="Sent to the signers with the signature request.",
        ),
        ActionArgument(
            key="deadline_at",
            label="Deadline",
            type=ArgumentType.DATETIME,
            description="When the envelope expires if not signed (ClickSign's default if empty).",
        ),
        ActionArgument(
            key="locale",
            label="Language",
            type=ArgumentType.DROPDOWN,
            default="pt-BR",
            options=(DropdownOption("pt-BR", "Português"), DropdownOption("en-US", "English")),
        ),
        ActionArgument(
            key="poll_interval_minutes",
            label="Check every (minutes)",
            type=ArgumentType.NUMBER,
            default=60,
            description="How often the envelope is read when no webhook arrives.",
        ),
        ActionArgument(
            key="fail_on_refusal",
            label="Fail when refused, expired or cancelled",
            type=ArgumentType.BOOLEAN,
            default=False,
            description="Otherwise the step succeeds with status refused/expired/cancelled.",
        ),
    )

    @classmethod
    def check_parameters(cls, parameters: Mapping[str, Any]) -> list[str]:
        signers = parameters.get("signers")
        if isinstance(signers, list):
            return [p for i, raw in enumerate(signers) for p in signer_problems(i, raw)]
        return []

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        params = ctx.step.parameters
        signers = parse_signers(params.get("signers"), node_id=ctx.step.id)
        ref = file_reference(params.get("document"), "document")
        client = ClickSignClient(ctx)
        key = record_key(ctx)
        record: dict[str, Any] = dict(await ctx.datastore.get(key) or {})

        async def save() -> None:
            await ctx.datastore.set(key, record)

        if "envelope_id" not in record:
            pdf = await load_pdf(ctx, ref, "document")  # fail before anything is created
            attributes: dict[str, Any] = {
                "name": params.get("envelope_name") or pdf.name,
                "locale": params.get("locale") or "pt-BR",
                "auto_close": True,
                "block_after_refusal": True,
            }
            if params.get("deadline_at"):
                attributes["deadline_at"] = params["deadline_at"]
            envelope = await client.create_envelope(attributes)
            record.update(envelope_id=envelope["id"], environment=environment(ctx.auth))
            await save()
        envelope_id = str(record["envelope_id"])
        if "document_id" not in record:
            pdf = await load_pdf(ctx, ref, "document")
            document = await client.add_document(envelope_id, pdf.name, pdf.data)
            record["document_id"] = document["id"]
            await save()
        document_id = str(record["document_id"])
        added: list[dict[str, Any]] = record.setdefault("signers", [])
        for signer in signers[len(added) :]:
            created = await client.add_signer(envelope_id, signer.attributes())
            added.append({"id": created["id"], **signer.summary()})
            await save()
        requirements: dict[str, str] = record.setdefault("requirements", {})
        for signer, entry in zip(signers, added, strict=False):
            for kind, attributes in (
                ("qualification", {"action": "agree", "role": "sign"}),
                ("authentication", {"action": "provide_evidence", "auth": signer.auth}),
            ):
                slot = f"{entry['id']}:{kind}"
                if slot not in requirements:
                    made = await client.add_requirement(
                        envelope_id, attributes, document_id, entry["id"]
                    )
                    requirements[slot] = made["id"]
                    await save()
        if not record.get("activated"):
            await client.set_status(envelope_id, "running", "activating the envelope")
            record["activated"] = True
            await save()
        if not record.get("notified"):
            await client.notify(envelope_id, params.get("message"))
            record["notified"] = True
            await save()
        pending = EnvelopeState("running", "pending", _pending(added))
        return _wait(ctx, record, pending, _poll_interval(params))

    async def resume(self, ctx: ExecutionContext, payload: Mapping[str, Any]) -> ActionResult:
        record = await ctx.datastore.get(record_key(ctx))
        if not isinstance(record, dict) or "envelope_id" not in record:
            raise StepError(
                "no ClickSign envelope is recorded for this step; it cannot be resumed",
                code="clicksign_no_envelope",
            )
        envelope_id = str(record["envelope_id"])
        claimed = payload.get("envelope_id")
        if claimed is not None and claimed != envelope_id:
            raise ValidationError(
                f"the callback is for envelope {claimed!r}, this step waits for {envelope_id!r}"
            )
        client = ClickSignClient(ctx)
        envelope = await client.get_envelope(envelope_id)
        events = await client.list_events(envelope_id)
        state = envelope_state(envelope, events, record.get("signers", []))
        params = ctx.step.parameters
        if not state.final:
            return _wait(ctx, record, state, _poll_interval(params), raw=envelope)
        data = _data(record, state)
        if state.outcome == "signed":
            document = await client.get_document(envelope_id, str(record["document_id"]))
            url = signed_file_url(document)
            if url is None:  # closed seconds ago: the signed file is not ready yet
                return _wait(ctx, record, state, SIGNED_FILE_RETRY, raw=envelope)
            key, digest = await store_signed(ctx, await client.download(url))
            signed_at = [s["signed_at"] for s in state.signers if s.get("signed_at")]
            data.update(
                signed_file_key=key,
                signed_file_sha256=digest,
                signed_at=max(signed_at) if signed_at else None,
            )
            return ActionResult(raw={"envelope": envelope, "document": document}, data=data)
        if params.get("fail_on_refusal"):
            raise StepError(
                f"the ClickSign envelope {envelope_id} ended {state.outcome}, not signed",
                code=f"signature_{state.outcome}",
                details=data,
            )
        return ActionResult(raw={"envelope": envelope}, data=data)


def _pending(added: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [{**s, "status": "pending", "signed_at": None, "refused_at": None} for s in added]


def _poll_interval(params: Mapping[str, Any]) -> timedelta:
    minutes = params.get("poll_interval_minutes") or 60
    return timedelta(minutes=max(1.0, float(minutes)))


def _data(record: Mapping[str, Any], state: EnvelopeState) -> dict[str, Any]:
    return {
        "envelope_id": record["envelope_id"],
        "document_id": record.get("document_id"),
        "environment": record.get("environment"),
        "status": state.outcome,
        "envelope_status": state.envelope_status,
        "signers": state.signers,
        "progress": state.counts(),
    }


def _wait(
    ctx: ExecutionContext,
    record: Mapping[str, Any],
    state: EnvelopeState,
    after: timedelta,
    *,
    raw: Any = None,
) -> ActionResult:
    envelope_id = str(record["envelope_id"])
    progress = state.counts()
    ctx.logger.info(
        "waiting for ClickSign envelope %s: %d of %d signed",
        envelope_id,
        progress["signed"],
        len(state.signers),
    )
    return ActionResult.wait(
        "signature",
        resume_token=resume_token(envelope_id),
        resume_at=datetime.now(UTC) + after,
        data=_data(record, state),
        raw=raw,
    )
