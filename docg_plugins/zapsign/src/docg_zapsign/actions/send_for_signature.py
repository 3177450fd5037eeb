"""``send-for-signature``: create a ZapSign document from a stored PDF, then wait for it."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import PurePosixPath
from typing import Any, ClassVar

import httpx

from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction, DropdownOption
from docg_core.context import ExecutionContext
from docg_core.errors import RetryableError, StepError

from .._api import create_document, download_file, get_document
from .._documents import signer_bodies, summary
from .._files import load_pdf, pdf_reference, store_signed_pdf

__all__ = ["SendForSignature", "record_key", "resume_token"]

# A transient failure while checking on a waiting document is retried this much later.
_RECHECK = timedelta(minutes=1)


def record_key(ctx: ExecutionContext) -> str:
    """Where the step keeps its document: the same key for every retry and resume."""
    return f"zapsign:{ctx.step.idempotency_key}"


def resume_token(doc_token: str) -> str:
    """The waiting step's ``resume_token``: what the webhook handler looks it up by."""
    return f"zapsign:{doc_token}"


class SendForSignature(BaseAction):
    key = "send-for-signature"
    name = "Send for signature"
    description = (
        "Create a ZapSign document from a stored PDF with its signers, send it, and wait "
        "until everyone signs (the signed PDF is stored) or it is refused, expired or cancelled."
    )
    can_wait = True
    arguments: ClassVar[tuple[ActionArgument, ...]] = (
        ActionArgument(
            key="document",
            label="PDF",
            type=ArgumentType.FILE,
            required=True,
            description="A storage key, or an earlier step's output such as {{step.contract}}.",
        ),
        ActionArgument(
            key="signers",
            label="Signers",
            type=ArgumentType.JSON,
            required=True,
            description=(
                "A list of {name, email, phone_country, phone_number, auth_method "
                "(signature|email|sms|whatsapp), send_via (email|whatsapp|none), order}."
            ),
        ),
        ActionArgument(
            key="name",
            label="Document name",
            description="Shown to signers; defaults to the file name.",
        ),
        ActionArgument(
            key="message",
            label="Message",
            type=ArgumentType.MULTILINE,
            description="Added to the e-mail each signer receives.",
        ),
        ActionArgument(
            key="signing_order",
            label="Sign in order",
            type=ArgumentType.BOOLEAN,
            default=False,
            description="Signers sign one after another, by their order (1 first).",
        ),
        ActionArgument(
            key="language",
            label="Language",
            type=ArgumentType.DROPDOWN,
            default="pt-br",
            options=(
                DropdownOption("pt-br", "Português"),
                DropdownOption("en", "English"),
                DropdownOption("es", "Español"),
            ),
        ),
        ActionArgument(
            key="poll_interval_minutes",
            label="Check every (minutes)",
            type=ArgumentType.NUMBER,
            default=60,
            description="How often the document is checked when no webhook arrives (1 to 1440).",
        ),
        ActionArgument(
            key="fail_on_refusal",
            label="Fail when refused",
            type=ArgumentType.BOOLEAN,
            default=True,
            description=(
                "Fail the step when the document is refused, expired or cancelled; when off "
                "the step succeeds with that status and later nodes can branch on it."
            ),
        ),
    )

    @classmethod
    def check_parameters(cls, parameters: Mapping[str, Any]) -> list[str]:
        interval = parameters.get("poll_interval_minutes")
        if isinstance(interval, int | float) and not 1 <= interval <= 1440:
            return [f"poll_interval_minutes: {interval} is not between 1 and 1440"]
        return []

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        record = await ctx.datastore.get(record_key(ctx))
        raw: Any = None
        if record is None:
            # Not created yet for this step: a retry after this point reuses the document.
            document = await self._create(ctx)
            record = {"doc_token": document["token"], "progress": summary(document)}
            await ctx.datastore.set(record_key(ctx), record)
            raw = document
        elif record.get("outcome") is not None:
            return self._finish(ctx, record["outcome"])
        return self._wait(ctx, record["progress"], raw=raw)

    async def _create(self, ctx: ExecutionContext) -> dict[str, Any]:
        params = ctx.step.parameters
        signers = signer_bodies(
            params["signers"],
            signing_order=bool(params.get("signing_order")),
            message=params.get("message") or None,
        )
        pdf = await load_pdf(ctx, pdf_reference(params["document"], "document"), "document")
        body = {
            "name": (params.get("name") or PurePosixPath(pdf.name).stem)[:255],
            "base64_pdf": base64.b64encode(pdf.data).decode("ascii"),
            "signers": signers,
            "lang": params.get("language") or "pt-br",
            "signature_order_active": bool(params.get("signing_order")),
            # Lets a person find the document this step made in ZapSign's interface.
            "external_id": ctx.step.idempotency_key[:255],
        }
        return await create_document(ctx, body)

    async def resume(self, ctx: ExecutionContext, payload: Mapping[str, Any]) -> ActionResult:
        record = await ctx.datastore.get(record_key(ctx))
        if record is None:
            raise StepError(
                "no ZapSign document is recorded for this step, so it cannot be resumed",
                code="missing_document",
            )
        if record.get("outcome") is not None:
            return self._finish(ctx, record["outcome"])
        doc_token = record["doc_token"]
        event = "poll" if payload.get("timeout") else str(payload.get("event") or "resume")
        try:
            document = await get_document(ctx, doc_token)
        except (RetryableError, httpx.TransportError) as exc:
            return self._recheck(ctx, record, event, str(exc))
        progress = _merge(record["progress"], summary(document))
        progress["last_event"] = event
        status = progress["status"]
        if status == "pending":
            record["progress"] = progress
            await ctx.datastore.set(record_key(ctx), record)
            return self._wait(ctx, progress, raw=document)
        if status == "signed":
            url = document.get("signed_file")
            if not isinstance(url, str) or not url:
                # ZapSign builds the signed PDF a moment after the last signature.
                return self._recheck(ctx, record, event, "the signed PDF is not ready yet")
            try:
                pdf = await download_file(ctx, url, "signed PDF")
            except (RetryableError, httpx.TransportError) as exc:
                return self._recheck(ctx, record, event, str(exc))
            key, digest = await store_signed_pdf(ctx, pdf)
            outcome = {**progress, "signed_file_key": key, "sha256": digest}
        else:
            outcome = {**progress, "reason": document.get("rejected_reason") or None}
        record["outcome"] = outcome
        await ctx.datastore.set(record_key(ctx), record)
        return self._finish(ctx, outcome, raw=document)

    def _wait(
        self,
        ctx: ExecutionContext,
        progress: Mapping[str, Any],
        *,
        raw: Any = None,
        after: timedelta | None = None,
    ) -> ActionResult:
        minutes = float(ctx.step.parameters.get("poll_interval_minutes") or 60)
        delay = after or timedelta(minutes=min(max(minutes, 1.0), 1440.0))
        return ActionResult.wait(
            "signature",
            resume_token=resume_token(str(progress["doc_token"])),
            resume_at=datetime.now(UTC) + delay,
            data=dict(progress),
            raw=raw,
        )

    def _recheck(
        self, ctx: ExecutionContext, record: Mapping[str, Any], event: str, why: str
    ) -> ActionResult:
        # Resumes are not retried by the engine: a transient failure waits a little instead.
        ctx.logger.warning("ZapSign check postponed: %s", why)
        progress = {**record["progress"], "last_event": event, "last_error": why}
        return self._wait(ctx, progress, after=_RECHECK)

    def _finish(
        self, ctx: ExecutionContext, outcome: Mapping[str, Any], *, raw: Any = None
    ) -> ActionResult:
        status = outcome["status"]
        if status != "signed" and ctx.step.parameters.get("fail_on_refusal", True):
            reason = f": {outcome['reason']}" if outcome.get("reason") else ""
            raise StepError(
                f"ZapSign document {outcome['doc_token']} was {status}{reason}; set "
                "fail_on_refusal to false to continue the workflow instead",
                code=f"signature_{status}",
                details=dict(outcome),
            )
        return ActionResult(raw=raw, data=dict(outcome))


def _merge(before: Mapping[str, Any], now: dict[str, Any]) -> dict[str, Any]:
    """``now``, keeping every signature already seen: a stale answer never undoes one."""
    signed = {s["token"]: s for s in before.get("signers", []) if s.get("status") == "signed"}
    signers = [
        signed.get(s["token"], s) if s.get("status") != "signed" else s for s in now["signers"]
    ]
    return {
        **now,
        "signers": signers,
        "signed_count": sum(1 for s in signers if s.get("status") == "signed"),
    }
