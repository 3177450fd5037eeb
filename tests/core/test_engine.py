"""The engine's step loop: order, branches, loops, failures, retries, test runs."""

from __future__ import annotations

import asyncio
import json

import httpx
import pytest
from support.apps import RUNS, Items, Sleeps, flow

from docg_core.engine import Engine
from docg_core.errors import ValidationError
from docg_core.plugins import Registry


def echo(node_id: str, **parameters: object) -> dict[str, object]:
    return {"id": node_id, "app": "t", "action": "echo", "parameters": parameters}


async def test_nodes_run_in_order_and_record_every_step(engine: Engine) -> None:
    wf = flow(echo("a", value="{{trigger.x}}"), echo("b", value="{{step.a.value}}-b"))
    execution = await engine.run(wf, {"x": "hi"})
    assert execution.status == "completed"
    assert [s.node_id for s in execution.steps] == ["a", "b"]
    assert [s.status for s in execution.steps] == ["success", "success"]
    assert execution.steps[1].data_in == {"value": "hi-b"}
    assert execution.steps[1].data_out == {
        "raw": {"echo": {"value": "hi-b"}},
        "data": {"value": "hi-b"},
        "metadata": {},
    }
    assert all(s.started_at and s.completed_at and s.attempt == 1 for s in execution.steps)


async def test_whole_value_variables_keep_their_type(engine: Engine) -> None:
    wf = flow(echo("a", value="{{trigger.items}}", count="{{trigger.n}}"))
    execution = await engine.run(wf, {"items": [1, {"b": None}], "n": 4})
    assert execution.steps[0].data_out["data"] == {"value": [1, {"b": None}], "count": 4}


async def test_arguments_are_coerced_after_resolution(engine: Engine) -> None:
    wf = flow(echo("a", count="{{trigger.n}}", flag="{{trigger.f}}"))
    execution = await engine.run(wf, {"n": "42", "f": "true"})
    assert execution.steps[0].data_out["data"] == {"count": 42, "flag": True}
    assert execution.steps[0].data_in == {"count": "42", "flag": "true"}


async def test_a_bad_argument_at_run_time_fails_the_step_naming_node_and_argument(
    engine: Engine,
) -> None:
    execution = await engine.run(flow(echo("a", count="{{trigger.n}}"), echo("b")), {"n": "many"})
    assert execution.status == "failed"
    step = execution.steps[0]
    assert step.status == "failed"
    assert "node 'a'" in step.error and "'count'" in step.error and "many" in step.error
    assert execution.step("b") is None


async def test_invalid_workflow_is_rejected_before_anything_runs(engine: Engine) -> None:
    wf = flow(
        echo("a"),
        {"id": "b", "app": "t", "action": "nope"},
        {"id": "a", "app": "nope", "action": "x"},
    )
    with pytest.raises(ValidationError) as info:
        await engine.run(wf, {})
    messages = [str(p) for p in info.value.problems]
    assert any("duplicate" in m and "'a'" in m for m in messages)
    assert any("node 'b'" in m and "no action 'nope'" in m for m in messages)
    assert any("unknown app 'nope'" in m for m in messages)
    assert RUNS == {}
    assert await engine.store.list_executions() == []


async def test_branch_runs_only_the_first_matching_branch_then_continues(engine: Engine) -> None:
    route = {
        "id": "route",
        "type": "branch",
        "branches": [
            {
                "name": "big",
                "conditions": {
                    "type": "and",
                    "rules": [{"field": "{{trigger.amount}}", "operator": ">", "value": 100}],
                },
                "nodes": [echo("big", value="big")],
            },
            {"name": "also", "conditions": None, "nodes": [echo("also", value="also")]},
        ],
    }
    execution = await engine.run(
        flow(route, echo("after", value="{{step.big.value}}")), {"amount": "150"}
    )
    assert [s.key for s in execution.steps] == ["route", "big", "after"]
    assert execution.step("route").data_out["data"] == {"selected": [0], "branches": ["big"]}
    assert execution.step("after").data_out["data"] == {"value": "big"}


async def test_branch_with_no_match_is_skipped_and_the_flow_continues(engine: Engine) -> None:
    route = {
        "id": "route",
        "type": "branch",
        "branches": [
            {"name": "never", "conditions": {"type": "or", "rules": []}, "nodes": [echo("x")]}
        ],
    }
    execution = await engine.run(flow(route, echo("after")), {})
    assert execution.status == "completed"
    assert execution.step("route").status == "skipped"
    assert [s.key for s in execution.steps] == ["route", "after"]


async def test_paths_run_every_matching_branch_in_order(engine: Engine) -> None:
    always = None
    node = {
        "id": "fan",
        "type": "paths",
        "branches": [
            {"name": "one", "conditions": always, "nodes": [echo("one")]},
            {
                "name": "no",
                "conditions": {
                    "type": "and",
                    "rules": [{"field": "a", "operator": "==", "value": "b"}],
                },
                "nodes": [echo("no")],
            },
            {"name": "two", "conditions": always, "nodes": [echo("two", value="{{step.one}}")]},
        ],
    }
    execution = await engine.run(flow(node), {})
    assert [s.key for s in execution.steps] == ["fan", "one", "two"]


async def test_loop_runs_its_nodes_once_per_item(engine: Engine) -> None:
    loop = {
        "id": "each",
        "type": "loop",
        "items": "{{trigger.lines}}",
        "nodes": [echo("line", value="{{loop.index}}:{{loop.item.name}}")],
    }
    execution = await engine.run(
        flow(loop, echo("after", value="{{step.each.count}}")),
        {"lines": [{"name": "a"}, {"name": "b"}]},
    )
    assert execution.status == "completed"
    assert [s.key for s in execution.steps] == ["each", "line[0]", "line[1]", "after"]
    assert execution.step("line[1]").data_out["data"] == {"value": "1:b"}
    assert execution.step("each").data_out["data"]["results"] == [
        {"line": {"value": "0:a"}},
        {"line": {"value": "1:b"}},
    ]
    assert execution.step("after").data_out["data"] == {"value": 2}


async def test_nested_loops_key_steps_by_both_indexes(engine: Engine) -> None:
    inner = {
        "id": "inner",
        "type": "loop",
        "items": "{{loop.item}}",
        "nodes": [echo("cell", value="{{loop.item}}")],
    }
    outer = {"id": "outer", "type": "loop", "items": "{{trigger.rows}}", "nodes": [inner]}
    execution = await engine.run(flow(outer), {"rows": [[1, 2], [3]]})
    cells = {s.key: s.data_out["data"]["value"] for s in execution.steps if s.node_id == "cell"}
    assert cells == {"cell[0][0]": 1, "cell[0][1]": 2, "cell[1][0]": 3}


async def test_loop_over_something_not_a_list_fails_clearly(engine: Engine) -> None:
    loop = {"id": "each", "type": "loop", "items": "{{trigger.x}}", "nodes": [echo("n")]}
    execution = await engine.run(flow(loop), {"x": {"a": 1}})
    assert execution.status == "failed"
    assert "items must be a list, got dict" in execution.error


async def test_stop_ends_the_execution_as_completed(engine: Engine) -> None:
    stop = {"id": "halt", "app": "stop", "action": "stop", "parameters": {"reason": "enough"}}
    execution = await engine.run(flow(echo("a"), stop, echo("never")), {})
    assert execution.status == "completed"
    assert [s.key for s in execution.steps] == ["a", "halt"]
    assert RUNS["never"] == 0


async def test_a_failed_step_fails_the_execution_and_nothing_after_runs(engine: Engine) -> None:
    boom = {"id": "boom", "app": "t", "action": "boom", "parameters": {"message": "vendor said no"}}
    execution = await engine.run(flow(boom, echo("after")), {})
    assert execution.status == "failed"
    assert execution.error == "node 'boom' failed: vendor said no"
    assert execution.step("boom").error_code == "boom"
    assert RUNS["after"] == 0


async def test_continue_on_error_lets_the_flow_go_on(engine: Engine) -> None:
    boom = {"id": "boom", "app": "t", "action": "boom", "continue_on_error": True}
    execution = await engine.run(flow(boom, echo("after")), {})
    assert execution.status == "completed"
    assert execution.step("boom").status == "failed"
    assert execution.step("after").status == "success"


async def test_retryable_errors_are_retried_with_backoff(engine: Engine, sleeps: Sleeps) -> None:
    node = {"id": "f", "app": "t", "action": "flaky", "parameters": {"failures": 2}}
    execution = await engine.run(flow(node), {})
    assert execution.status == "completed"
    step = execution.step("f")
    assert step.attempt == 3
    assert step.data_out["data"] == {"attempt": 3}
    assert sleeps == [0.5, 1.0]
    assert RUNS[f"{execution.id}:f"] == 3


async def test_retry_after_overrides_the_backoff(engine: Engine, sleeps: Sleeps) -> None:
    node = {
        "id": "f",
        "app": "t",
        "action": "flaky",
        "parameters": {"failures": 1, "retry_after": 7},
    }
    await engine.run(flow(node), {})
    assert sleeps == [7]


async def test_retries_stop_after_the_policy_attempts(engine: Engine, sleeps: Sleeps) -> None:
    node = {"id": "f", "app": "t", "action": "flaky", "parameters": {"failures": 5}}
    execution = await engine.run(flow(node), {})
    assert execution.status == "failed"
    assert execution.step("f").attempt == 3
    assert "temporarily down" in execution.error


def _vendor(
    status: int, headers: dict[str, str] | None = None
) -> tuple[httpx.MockTransport, list[httpx.Request]]:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if len(seen) == 1 and status != 200:
            return httpx.Response(status, headers=headers, json={"message": "nope"})
        return httpx.Response(200, json={"ok": True})

    return httpx.MockTransport(handler), seen


async def test_ctx_http_uses_the_apps_base_url_and_auth(registry: Registry, sleeps: Sleeps) -> None:
    transport, seen = _vendor(200)
    engine = Engine(
        registry=registry,
        sleep=sleeps,
        http_transport=transport,
        connections={"main": {"api_key": "sk-abcdef"}},
    )
    node = {
        "id": "get",
        "app": "t",
        "action": "fetch",
        "connection": "main",
        "parameters": {"path": "deals/1"},
    }
    execution = await engine.run(flow(node), {})
    assert execution.status == "completed"
    assert str(seen[0].url) == "https://api.example.test/v1/deals/1"
    assert seen[0].headers["Authorization"] == "Bearer sk-abcdef"


async def test_http_429_is_retried_after_the_vendors_retry_after(
    registry: Registry, sleeps: Sleeps
) -> None:
    transport, seen = _vendor(429, {"Retry-After": "3"})
    engine = Engine(registry=registry, sleep=sleeps, http_transport=transport)
    node = {"id": "get", "app": "t", "action": "fetch", "parameters": {"path": "x"}}
    execution = await engine.run(flow(node), {})
    assert execution.status == "completed"
    assert len(seen) == 2
    assert sleeps == [3.0]


async def test_http_4xx_fails_at_once(registry: Registry, sleeps: Sleeps) -> None:
    transport, seen = _vendor(404)
    engine = Engine(registry=registry, sleep=sleeps, http_transport=transport)
    node = {"id": "get", "app": "t", "action": "fetch", "parameters": {"path": "x"}}
    execution = await engine.run(flow(node), {})
    assert execution.status == "failed"
    assert len(seen) == 1
    assert execution.step("get").error_code == "http_404"
    assert "HTTP 404" in execution.error


async def test_secrets_are_masked_in_data_in(engine: Engine) -> None:
    node = echo("a", token="tok-123456", value="key={{env.NOPE}} sk-live-123456")
    node["connection"] = "main"
    execution = await engine.run(flow(node), {})
    data_in = execution.step("a").data_in
    assert data_in["token"] == "********"
    assert data_in["value"] == "key= ********"
    # the action itself received the real values
    assert execution.step("a").data_out["data"]["token"] == "tok-123456"


async def test_env_variables_are_read_only_from_the_allow_list(
    registry: Registry, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DOCG_TEST_OPEN", "visible")
    monkeypatch.setenv("DOCG_TEST_HIDDEN", "secret")
    engine = Engine(registry=registry, env_allowlist=["DOCG_TEST_OPEN"])
    execution = await engine.run(
        flow(echo("a", value="{{env.DOCG_TEST_OPEN}}|{{env.DOCG_TEST_HIDDEN}}")), {}
    )
    assert execution.step("a").data_out["data"]["value"] == "visible|"


async def test_missing_connection_fails_the_step(engine: Engine) -> None:
    node = echo("a")
    node["connection"] = "gone"
    execution = await engine.run(flow(node), {})
    assert execution.status == "failed"
    assert "connection 'gone' not found" in execution.error


async def test_until_step_stops_after_that_node(engine: Engine) -> None:
    execution = await engine.run(flow(echo("a"), echo("b"), echo("c")), {}, until_step="b")
    assert execution.status == "completed"
    assert execution.test_run is True
    assert [s.key for s in execution.steps] == ["a", "b"]


async def test_mock_data_replaces_a_nodes_run(engine: Engine) -> None:
    wf = flow(echo("a", value="real"), echo("b", value="{{step.a.value}}"))
    execution = await engine.run(wf, {}, mock_data={"a": {"value": "mocked"}})
    assert RUNS["a"] == 0
    assert execution.step("a").data_out == {
        "raw": {"value": "mocked"},
        "data": {"value": "mocked"},
        "metadata": {},
    }
    assert execution.step("b").data_out["data"] == {"value": "mocked"}


async def test_unknown_ids_in_until_step_or_mock_data_are_rejected(engine: Engine) -> None:
    with pytest.raises(ValidationError, match="no node with this id"):
        await engine.run(flow(echo("a")), {}, until_step="zzz")
    with pytest.raises(ValidationError, match="mock_data"):
        await engine.run(flow(echo("a")), {}, mock_data={"zzz": {}})


async def test_trigger_data_must_be_an_object(engine: Engine) -> None:
    with pytest.raises(ValidationError, match="JSON object"):
        await engine.run(flow(echo("a")), [1, 2])  # type: ignore[arg-type]


async def test_datastore_persists_across_executions_of_a_flow(engine: Engine) -> None:
    wf = flow({"id": "r", "app": "t", "action": "remember"})
    await engine.run(wf, {})
    second = await engine.run(wf, {})
    assert second.step("r").data_out["data"] == {"seen": 2}


async def test_polling_starts_one_execution_per_new_item(engine: Engine) -> None:
    wf = flow(echo("a", value="{{trigger.id}}"), trigger={"app": "t", "key": "items"})
    Items.found = [{"id": 1}, {"id": 2}]
    first = await engine.poll(wf)
    Items.found = [{"id": 2}, {"id": 3}]
    second = await engine.poll(wf)
    assert [e.step("a").data_out["data"]["value"] for e in first] == [1, 2]
    assert [e.step("a").data_out["data"]["value"] for e in second] == [3]


async def test_execution_record_is_json_serialisable(engine: Engine) -> None:
    execution = await engine.run(flow(echo("a", value="{{now}}")), {})
    public = execution.to_public()
    assert json.loads(json.dumps(public))["steps"][0]["node_id"] == "a"


def test_run_sync_needs_no_event_loop(registry: Registry) -> None:
    execution = Engine(registry=registry).run_sync(flow(echo("a", value=1)), {})
    assert execution.status == "completed"


async def test_the_store_holds_what_run_returned(engine: Engine) -> None:
    execution = await engine.run(flow(echo("a"), echo("b")), {"x": 1})
    stored = await engine.store.get_execution(execution.id)
    assert stored.status == "completed"
    assert [s.model_dump() for s in stored.steps] == [s.model_dump() for s in execution.steps]
    assert stored.trigger_data == {"x": 1}


async def test_cancel_stops_a_running_execution(registry: Registry) -> None:
    gate = asyncio.Event()

    async def slow_sleep(_: float) -> None:
        gate.set()
        await asyncio.sleep(3600)

    engine = Engine(registry=registry, sleep=slow_sleep)
    node = {"id": "f", "app": "t", "action": "flaky", "parameters": {"failures": 1}}
    wf = flow(node, echo("after"))
    task = asyncio.create_task(engine.run(wf, {}, execution_id="exec-1"))
    await gate.wait()
    cancelled = await engine.cancel("exec-1")
    result = await task
    assert cancelled.status == "cancelled"
    assert result.status == "cancelled"
    assert (await engine.store.get_execution("exec-1")).status == "cancelled"
    assert RUNS["after"] == 0


async def test_an_internal_error_is_recorded_as_failed_and_raised(
    engine: Engine, monkeypatch: pytest.MonkeyPatch
) -> None:
    from docg_core import engine as engine_module

    async def broken(self: object, *args: object) -> None:
        raise RuntimeError("bug in the walk")

    monkeypatch.setattr(engine_module._Run, "branch", broken)
    route = {"id": "route", "type": "branch", "branches": [{"name": "a", "nodes": [echo("x")]}]}
    with pytest.raises(RuntimeError, match="bug in the walk"):
        await engine.run(flow(echo("first"), route), {}, execution_id="e-bug")
    stored = await engine.store.get_execution("e-bug")
    assert stored.status == "failed"
    assert stored.error == "internal error: RuntimeError: bug in the walk"
    assert [s.key for s in stored.steps] == ["first"]


async def test_credentials_typed_into_parameters_are_masked_by_their_key(engine: Engine) -> None:
    node = echo(
        "a", value={"headers": {"Authorization": "Bearer abc", "X-Trace": "1"}, "api-key": "k"}
    )
    execution = await engine.run(flow(node), {})
    assert execution.step("a").data_in["value"] == {
        "headers": {"Authorization": "********", "X-Trace": "1"},
        "api-key": "********",
    }
    assert execution.step("a").data_out["data"]["value"]["headers"]["Authorization"] == "Bearer abc"
