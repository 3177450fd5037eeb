"""The ``approval`` app: pause until a person approves or rejects."""

from __future__ import annotations

import secrets
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from ..apps import ActionArgument, ActionResult, ArgumentType, BaseAction, BaseApp, DropdownOption
from ..context import ExecutionContext
from ..errors import StepError, ValidationError

DECISIONS = {
    "approved": "approved",
    "approve": "approved",
    "rejected": "rejected",
    "reject": "rejected",
}


class RequestApproval(BaseAction):
    key = "request-approval"
    name = "Request approval"
    description = (
        "Pause the execution until it is approved or rejected. Resume it with "
        "`{decision: approved|rejected, comment}`."
    )
    can_wait = True
    arguments = (
        ActionArgument(
            key="title", label="Title", required=True, description="What is being approved."
        ),
        ActionArgument(key="message", label="Message", type=ArgumentType.MULTILINE),
        ActionArgument(
            key="approvers",
            label="Approvers",
            type=ArgumentType.JSON,
            description="A list of e-mail addresses who may decide.",
        ),
        ActionArgument(
            key="document_urls",
            label="Documents",
            type=ArgumentType.JSON,
            description="Links to what is being approved (shown on the approval page).",
        ),
        ActionArgument(
            key="approval_policy",
            label="Who must approve",
            type=ArgumentType.DROPDOWN,
            default="any",
            options=(
                DropdownOption("any", "Any one approver"),
                DropdownOption("all", "Every approver"),
            ),
            description=(
                "`all`: the step waits until every approver has approved (each resume names "
                "one of `approvers` in `decided_by`); any rejection rejects at once."
            ),
        ),
        ActionArgument(
            key="on_reject",
            label="When rejected",
            type=ArgumentType.DROPDOWN,
            default="fail",
            options=(
                DropdownOption("fail", "Fail the execution"),
                DropdownOption("continue", "Continue"),
            ),
        ),
        ActionArgument(
            key="timeout_hours",
            label="Expires after (hours)",
            type=ArgumentType.NUMBER,
            description="With no decision by then, the 'When expired' outcome applies.",
        ),
        ActionArgument(
            key="on_timeout",
            label="When expired",
            type=ArgumentType.DROPDOWN,
            default="fail",
            options=(
                DropdownOption("fail", "Fail the execution"),
                DropdownOption("approved", "Treat as approved"),
                DropdownOption("rejected", "Treat as rejected"),
            ),
        ),
    )

    @classmethod
    def check_parameters(cls, parameters: Mapping[str, Any]) -> list[str]:
        approvers = parameters.get("approvers")
        if isinstance(approvers, list) and not all(isinstance(a, str) for a in approvers):
            return ["approvers: must be a list of e-mail addresses"]
        policy = parameters.get("approval_policy")
        if policy == "all" and isinstance(approvers, list) and not approvers:
            return ["approvers: approval_policy 'all' needs at least one approver"]
        return []

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        p = ctx.step.parameters
        approvers = _approvers(p)
        expires_at = None
        if p.get("timeout_hours"):
            expires_at = datetime.now(UTC) + timedelta(hours=float(p["timeout_hours"]))
        token = secrets.token_urlsafe(32)
        data: dict[str, Any] = {
            "status": "pending",
            "title": p.get("title"),
            "message": p.get("message"),
            "approvers": approvers,
            "document_urls": p.get("document_urls") or [],
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
        if _policy(p) == "all":
            if not approvers:
                raise StepError("approval_policy 'all' needs at least one approver")
            data.update(approval_policy="all", approvals={}, pending=approvers)
            # Kept between resumes: the link's token, the request and each decision so far.
            await ctx.datastore.set(_state_key(ctx), {"token": token, "data": data})
        return ActionResult.wait(
            "approval", resume_token=token, resume_at=expires_at, expires_at=expires_at, data=data
        )

    async def resume(self, ctx: ExecutionContext, payload: Mapping[str, Any]) -> ActionResult:
        p = ctx.step.parameters
        now = datetime.now(UTC).isoformat()
        approvals: dict[str, Any] | None = None
        if payload.get("timeout"):
            outcome = p.get("on_timeout") or "fail"
            if outcome == "fail":
                raise StepError("approval expired without a decision", code="expired")
            data = {
                "decision": outcome,
                "comment": "expired",
                "decided_at": now,
                "decided_by": None,
            }
            if _policy(p) == "all":
                state = await ctx.datastore.get(_state_key(ctx)) or {}
                approvals = dict((state.get("data") or {}).get("approvals") or {})
        else:
            decision = DECISIONS.get(str(payload.get("decision", "")).strip().lower())
            if decision is None:
                raise ValidationError(
                    f"decision must be 'approved' or 'rejected', got {payload.get('decision')!r}"
                )
            comment = payload.get("comment")
            data = {
                "decision": decision,
                "comment": "" if comment is None else str(comment),
                "decided_at": now,
                "decided_by": payload.get("decided_by"),
            }
            if _policy(p) == "all":
                waiting = await self._record(ctx, data)
                if isinstance(waiting, ActionResult):
                    return waiting
                approvals = waiting
        if approvals is not None:
            data["approval_policy"] = "all"
            data["approvals"] = approvals
            await ctx.datastore.delete(_state_key(ctx))
        if data["decision"] == "rejected" and (p.get("on_reject") or "fail") == "fail":
            why = f": {data['comment']}" if data["comment"] else ""
            raise StepError(f"rejected{why}", code="rejected", details=data)
        return ActionResult(raw=dict(payload), data=data)

    async def _record(
        self, ctx: ExecutionContext, decision: dict[str, Any]
    ) -> ActionResult | dict[str, Any]:
        """Policy ``all``: record one approver's decision. The step waits again (same link,
        same expiry) while approvers are missing; else every decision, by approver."""
        p = ctx.step.parameters
        approvers = _approvers(p)
        by = str(decision["decided_by"] or "").strip().lower()
        known = {a.strip().lower(): a for a in approvers}
        if by not in known:
            raise ValidationError(
                f"decided_by must be one of the approvers {approvers} when approval_policy "
                f"is 'all', got {decision['decided_by']!r}"
            )
        state = await ctx.datastore.get(_state_key(ctx))
        if not isinstance(state, dict) or "token" not in state:
            raise StepError("the approvals recorded so far are lost; request approval again")
        data = dict(state.get("data") or {})
        approvals = dict(data.get("approvals") or {})
        approvals[known[by]] = {k: decision[k] for k in ("decision", "comment", "decided_at")}
        pending = [a for a in approvers if a not in approvals]
        if decision["decision"] == "rejected" or not pending:
            return approvals
        data.update(approvals=approvals, pending=pending)
        await ctx.datastore.set(_state_key(ctx), {**state, "data": data})
        expires_at = datetime.fromisoformat(data["expires_at"]) if data.get("expires_at") else None
        return ActionResult.wait(
            "approval",
            resume_token=state["token"],
            resume_at=expires_at,
            expires_at=expires_at,
            data=data,
        )


def _policy(parameters: Mapping[str, Any]) -> str:
    return "all" if parameters.get("approval_policy") == "all" else "any"


def _approvers(parameters: Mapping[str, Any]) -> list[Any]:
    approvers = parameters.get("approvers") or []
    return approvers if isinstance(approvers, list) else [approvers]


def _state_key(ctx: ExecutionContext) -> str:
    return f"approval:{ctx.step.idempotency_key}"


class ApprovalApp(BaseApp):
    key = "approval"
    name = "Approval"
    description = "Wait for a person to approve or reject before going on."
    actions = (RequestApproval,)
