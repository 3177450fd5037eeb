"""HubSpot custom workflow actions: requests HubSpot sends to a DocG server, and answers.

When a HubSpot workflow runs a custom action it POSTs to the action's URL a body such as
``{"callbackId", "origin": {"portalId", "actionDefinitionId", ...}, "context":
{"source": "WORKFLOWS", "workflowId"}, "object": {"objectId", "objectType"},
"inputFields": {...}}``, signed with the v2 ``X-HubSpot-Signature``.

The server answers ``{"outputFields": {...}}`` at once (:func:`action_response`), or blocks
the workflow (:func:`blocked_response`) and completes it later with
``POST /automation/v4/actions/callbacks/{callbackId}/complete`` (:func:`complete_callback`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

import httpx

from docg_core.callbacks import CallbackRejected, InboundRequest

from .common.errors import check_response
from .signatures import verify_v2

__all__ = [
    "EXECUTION_STATES",
    "WorkflowActionRequest",
    "action_response",
    "blocked_response",
    "callback_completion",
    "complete_callback",
    "parse_workflow_action_request",
    "verify_workflow_action_request",
]

EXECUTION_STATES = frozenset({"SUCCESS", "FAIL_CONTINUE", "BLOCK"})
API_BASE = "https://api.hubapi.com"


def verify_workflow_action_request(request: InboundRequest, client_secret: str | None) -> None:
    """Raise :class:`CallbackRejected` unless the request is signed by HubSpot (v2 signature
    keyed with the app's ``client_secret``)."""
    verify_v2(request, client_secret)


@dataclass(frozen=True)
class WorkflowActionRequest:
    """The parts of a custom action request a server needs."""

    callback_id: str
    object_type: str | None
    object_id: str | None
    portal_id: str | None
    workflow_id: str | None
    input_fields: dict[str, Any] = field(default_factory=dict)


def parse_workflow_action_request(request: InboundRequest) -> WorkflowActionRequest:
    """The request's body as a :class:`WorkflowActionRequest`; :class:`CallbackRejected` if it
    is not one."""
    body = request.json()
    if not isinstance(body, dict) or not body.get("callbackId"):
        raise CallbackRejected("not a HubSpot workflow action request: no callbackId")
    obj = body.get("object") or {}
    origin = body.get("origin") or {}
    context = body.get("context") or {}

    def text(value: Any) -> str | None:
        return None if value is None else str(value)

    return WorkflowActionRequest(
        callback_id=str(body["callbackId"]),
        object_type=text(obj.get("objectType")),
        object_id=text(obj.get("objectId")),
        portal_id=text(origin.get("portalId")),
        workflow_id=text(context.get("workflowId")),
        input_fields=dict(body.get("inputFields") or {}),
    )


def _outputs(output_fields: Mapping[str, Any] | None) -> dict[str, Any]:
    outputs = dict(output_fields or {})
    for key, value in outputs.items():
        if not isinstance(key, str) or not (value is None or isinstance(value, str | int | float)):
            raise ValueError(f"output field {key!r} must be text or a number, got {value!r}")
    return outputs


def action_response(
    output_fields: Mapping[str, Any] | None = None, *, state: str | None = None
) -> dict[str, Any]:
    """The body answering a custom action request: ``{"outputFields": {...}}``, with
    ``hs_execution_state`` set when ``state`` is given (SUCCESS, FAIL_CONTINUE, BLOCK)."""
    outputs = _outputs(output_fields)
    if state is not None:
        if state not in EXECUTION_STATES:
            raise ValueError(f"state must be one of {sorted(EXECUTION_STATES)}, got {state!r}")
        outputs["hs_execution_state"] = state
    return {"outputFields": outputs}


def blocked_response(expiration: str = "P1D") -> dict[str, Any]:
    """The answer that keeps the HubSpot workflow waiting until :func:`complete_callback`
    (or until ``expiration``, an ISO 8601 duration such as ``P1D`` or ``PT12H``)."""
    response = action_response(state="BLOCK")
    response["outputFields"]["hs_expiration_duration"] = expiration
    return response


def callback_completion(
    callback_id: str, output_fields: Mapping[str, Any] | None = None, *, state: str = "SUCCESS"
) -> tuple[str, dict[str, Any]]:
    """The URL and JSON body that complete a blocked action execution."""
    url = f"{API_BASE}/automation/v4/actions/callbacks/{quote(callback_id, safe='')}/complete"
    return url, action_response(output_fields, state=state)


async def complete_callback(
    http: httpx.AsyncClient,
    callback_id: str,
    output_fields: Mapping[str, Any] | None = None,
    *,
    access_token: str,
    state: str = "SUCCESS",
) -> None:
    """Complete a blocked custom action execution with its outputs (``state`` SUCCESS or
    FAIL_CONTINUE). Raises a step error (retryable for 429/5xx) if HubSpot refuses."""
    url, body = callback_completion(callback_id, output_fields, state=state)
    response = await http.post(url, json=body, headers={"Authorization": f"Bearer {access_token}"})
    check_response(response, f"workflow action callback {callback_id}")
