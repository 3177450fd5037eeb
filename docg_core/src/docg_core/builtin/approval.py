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
        return []

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        p = ctx.step.parameters
        approvers = p.get("approvers") or []
        if not isinstance(approvers, list):
            approvers = [approvers]
        expires_at = None
        if p.get("timeout_hours"):
            expires_at = datetime.now(UTC) + timedelta(hours=float(p["timeout_hours"]))
        data = {
            "status": "pending",
            "title": p.get("title"),
            "message": p.get("message"),
            "approvers": approvers,
            "document_urls": p.get("document_urls") or [],
            "expires_at": expires_at.isoformat() if expires_at else None,
        }
        return ActionResult.wait(
            "approval",
            resume_token=secrets.token_urlsafe(32),
            resume_at=expires_at,
            expires_at=expires_at,
            data=data,
        )

    async def resume(self, ctx: ExecutionContext, payload: Mapping[str, Any]) -> ActionResult:
        p = ctx.step.parameters
        now = datetime.now(UTC).isoformat()
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
        if data["decision"] == "rejected" and (p.get("on_reject") or "fail") == "fail":
            why = f": {data['comment']}" if data["comment"] else ""
            raise StepError(f"rejected{why}", code="rejected", details=data)
        return ActionResult(raw=dict(payload), data=data)


class ApprovalApp(BaseApp):
    key = "approval"
    name = "Approval"
    description = "Wait for a person to approve or reject before going on."
    actions = (RequestApproval,)
