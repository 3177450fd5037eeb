"""``approval_policy``: with ``all``, the approval step waits until every approver approved
(one decision per approver, the same link throughout); ``any`` decides on the first."""

from __future__ import annotations

from typing import Any

import pytest
from support.apps import RUNS, flow

from docg_core.engine import Engine
from docg_core.errors import ValidationError
from docg_core.records import ExecutionRecord
from docg_core.sqlstore import SQLStore
from docg_core.workflow import Workflow

APPROVERS = ["ana@example.com", "ben@example.com", "cy@example.com"]


def approval_flow(policy: str | None = "all", **parameters: Any) -> Workflow:
    params: dict[str, Any] = {"title": "Contract", "approvers": APPROVERS, **parameters}
    if policy is not None:
        params["approval_policy"] = policy
    return flow(
        {"id": "ok", "app": "approval", "action": "request-approval", "parameters": params},
        {
            "id": "after",
            "app": "t",
            "action": "echo",
            "parameters": {"value": "{{step.ok.decision}}"},
        },
    )


def approve(by: str, comment: str = "") -> dict[str, Any]:
    return {"decision": "approved", "decided_by": by, "comment": comment}


def token(execution: ExecutionRecord) -> str | None:
    step = execution.step("ok")
    assert step is not None and step.wait is not None
    return step.wait.resume_token


async def test_all_waits_until_every_approver_approved(engine: Engine) -> None:
    execution = await engine.run(approval_flow(), {})
    first_token = token(execution)
    execution = await engine.resume(execution.id, "ok", approve("ana@example.com", "ok by me"))
    assert execution.status == "waiting"
    assert token(execution) == first_token  # the same link works for the next approver
    data = execution.step("ok").data_out["data"]  # type: ignore[union-attr]
    assert data["pending"] == ["ben@example.com", "cy@example.com"]
    assert data["approvals"]["ana@example.com"]["comment"] == "ok by me"
    assert RUNS["after"] == 0
    execution = await engine.resume(execution.id, "ok", approve("BEN@example.com"))
    assert execution.status == "waiting"
    assert token(execution) == first_token
    execution = await engine.resume(execution.id, "ok", approve("cy@example.com"))
    assert execution.status == "completed"
    ok = execution.step("ok")
    assert ok is not None and ok.status == "success" and ok.wait is None
    data = ok.data_out["data"]  # type: ignore[index]
    assert data["decision"] == "approved" and data["decided_by"] == "cy@example.com"
    assert sorted(data["approvals"]) == APPROVERS
    assert {a["decision"] for a in data["approvals"].values()} == {"approved"}
    assert RUNS["after"] == 1
    assert execution.step("after").data_out["data"]["value"] == "approved"  # type: ignore[union-attr]


async def test_the_same_approver_twice_counts_once(engine: Engine) -> None:
    execution = await engine.run(approval_flow(approvers=APPROVERS[:2]), {})
    execution = await engine.resume(execution.id, "ok", approve("ana@example.com"))
    execution = await engine.resume(execution.id, "ok", approve("ana@example.com"))
    assert execution.status == "waiting"
    assert execution.step("ok").data_out["data"]["pending"] == ["ben@example.com"]  # type: ignore[union-attr]
    execution = await engine.resume(execution.id, "ok", approve("ben@example.com"))
    assert execution.status == "completed"


async def test_any_rejection_rejects_at_once(engine: Engine) -> None:
    execution = await engine.run(approval_flow(), {})
    await engine.resume(execution.id, "ok", approve("ana@example.com"))
    execution = await engine.resume(
        execution.id,
        "ok",
        {"decision": "rejected", "decided_by": "ben@example.com", "comment": "price"},
    )
    assert execution.status == "failed"
    ok = execution.step("ok")
    assert ok is not None and ok.status == "failed" and ok.error == "rejected: price"
    assert ok.data_out["data"]["approvals"]["ben@example.com"]["decision"] == "rejected"  # type: ignore[index]
    assert RUNS["after"] == 0


async def test_a_rejection_with_on_reject_continue_goes_on(engine: Engine) -> None:
    execution = await engine.run(approval_flow(on_reject="continue"), {})
    execution = await engine.resume(
        execution.id, "ok", {"decision": "rejected", "decided_by": "cy@example.com"}
    )
    assert execution.status == "completed"
    assert execution.step("after").data_out["data"]["value"] == "rejected"  # type: ignore[union-attr]


@pytest.mark.parametrize("decided_by", [None, "", "mallory@example.com"])
async def test_all_needs_decided_by_to_be_an_approver(
    engine: Engine, decided_by: str | None
) -> None:
    execution = await engine.run(approval_flow(), {})
    with pytest.raises(ValidationError, match="decided_by must be one of the approvers"):
        await engine.resume(execution.id, "ok", {"decision": "approved", "decided_by": decided_by})
    again = await engine.store.get_execution(execution.id)
    assert again.status == "waiting" and again.step("ok").status == "waiting"  # type: ignore[union-attr]
    assert token(again) == token(execution)
    assert (await engine.resume(execution.id, "ok", approve("ana@example.com"))).status == "waiting"


@pytest.mark.parametrize("policy", ["any", None])
async def test_any_is_the_default_and_decides_on_the_first_decision(
    engine: Engine, policy: str | None
) -> None:
    execution = await engine.run(approval_flow(policy), {})
    done = await engine.resume(execution.id, "ok", {"decision": "approved", "decided_by": "x"})
    assert done.status == "completed"
    assert "approvals" not in done.step("ok").data_out["data"]  # type: ignore[union-attr]


async def test_an_expired_all_approval_keeps_the_decisions_so_far(engine: Engine) -> None:
    execution = await engine.run(approval_flow(timeout_hours=1, on_timeout="rejected"), {})
    expires_at = execution.step("ok").wait.expires_at  # type: ignore[union-attr]
    execution = await engine.resume(execution.id, "ok", approve("ana@example.com"))
    assert execution.step("ok").wait.resume_at == expires_at  # type: ignore[union-attr]
    assert execution.step("ok").wait.expires_at == expires_at  # type: ignore[union-attr]
    execution = await engine.resume(execution.id, "ok", {"timeout": True})
    assert execution.status == "failed"  # on_timeout rejected, on_reject fail
    data = execution.step("ok").data_out["data"]  # type: ignore[union-attr]
    assert data["decision"] == "rejected" and list(data["approvals"]) == ["ana@example.com"]


async def test_all_without_approvers_is_refused() -> None:
    from docg_core.plugins import get_registry
    from docg_core.validation import validate_workflow

    with pytest.raises(ValidationError, match="at least one approver"):
        validate_workflow(approval_flow(approvers=[]), get_registry(plugins=[]))


async def test_all_across_processes_with_a_sql_store(engine: Engine, tmp_path: Any) -> None:
    """Each decision may come to another process: the state lives in the store."""
    url = f"sqlite:///{tmp_path / 'docg.db'}"
    first = Engine(registry=engine.registry, store=SQLStore(url))
    execution = await first.run(approval_flow(approvers=APPROVERS[:2]), {})
    await first.resume(execution.id, "ok", approve("ana@example.com"))
    await first.store.close()
    second = Engine(registry=engine.registry, store=SQLStore(url))
    try:
        done = await second.resume(execution.id, "ok", approve("ben@example.com"))
    finally:
        await second.store.close()
    assert done.status == "completed"
    assert sorted(done.step("ok").data_out["data"]["approvals"]) == APPROVERS[:2]  # type: ignore[union-attr]
