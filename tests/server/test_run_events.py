"""GET /api/v1/workflows/{id}/runs/{run_id}/events: a run's live updates as Server-Sent Events.

A real client reads the stream while the run executes: httpx's own ASGITransport buffers the
whole response, so :class:`StreamingASGITransport` hands each chunk over as the application
sends it, and tells the application when the client closes the stream. Runs are held at
``gate/hold`` steps the test opens, so every event is observed at a known point.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from server import workflow_docs as docs
from server.apikit import Api, assert_problem
from server.test_workflows import WORKFLOWS, create, owner_headers

from docg_core import hookimpl
from docg_core.apps import ActionArgument, ActionResult, ArgumentType, BaseAction, BaseApp
from docg_core.context import ExecutionContext
from docg_core.engine import Engine
from docg_core.plugins import get_registry
from docg_core.sqlstore import SQLStore
from docg_core.workflow import Workflow
from docg_server.api.v1 import run_events
from docg_server.events.stream import StreamTiming

TIMEOUT = 10.0
GATES: dict[str, asyncio.Event] = {}


class Hold(BaseAction):
    """Waits until the test opens the gate named ``gate``."""

    key = "hold"
    name = "Hold"
    arguments = (ActionArgument(key="gate", label="Gate", type=ArgumentType.STRING),)

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        gate = ctx.step.parameters["gate"]
        await GATES.setdefault(gate, asyncio.Event()).wait()
        return ActionResult(raw=None, data={"opened": gate})


class Gate(BaseApp):
    key = "gate"
    name = "Gate"
    actions = (Hold,)


class GatePlugin:
    @hookimpl
    def docg_apps(self) -> list[type[BaseApp]]:
        return [Gate]


def hold(node_id: str) -> dict[str, Any]:
    return {"id": node_id, "app": "gate", "action": "hold", "parameters": {"gate": node_id}}


def gated(*nodes: dict[str, Any]) -> dict[str, Any]:
    return {
        "name": "Gated",
        "description": "held at gates the test opens",
        "trigger": {"app": "manual", "key": "manual", "parameters": {}},
        "nodes": list(nodes),
    }


def open_gate(name: str) -> None:
    GATES.setdefault(name, asyncio.Event()).set()


# -- a streaming client ---------------------------------------------------------------------


class _Body(httpx.AsyncByteStream):
    def __init__(
        self, chunks: asyncio.Queue[bytes | None], closed: asyncio.Event, task: asyncio.Task[None]
    ) -> None:
        self.chunks, self.closed, self.task = chunks, closed, task

    async def __aiter__(self) -> AsyncIterator[bytes]:
        while (chunk := await self.chunks.get()) is not None:
            yield chunk

    async def aclose(self) -> None:
        self.closed.set()  # the application's receive() now answers http.disconnect
        await asyncio.wait_for(self.task, TIMEOUT)


class StreamingASGITransport(httpx.AsyncBaseTransport):
    """Like httpx.ASGITransport, but the response body streams while the application runs."""

    def __init__(self, app: FastAPI) -> None:
        self.app = app

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        body = await request.aread()
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "scheme": request.url.scheme,
            "path": request.url.path,
            "raw_path": request.url.raw_path.split(b"?")[0],
            "query_string": request.url.query,
            "server": (request.url.host, request.url.port),
            "client": ("127.0.0.1", 50000),
            "root_path": "",
        }
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        closed = asyncio.Event()
        started: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        request_sent = False

        async def receive() -> dict[str, Any]:
            nonlocal request_sent
            if not request_sent:
                request_sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await closed.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                started.set_result(message)
            elif message["type"] == "http.response.body":
                if message.get("body"):
                    chunks.put_nowait(message["body"])
                if not message.get("more_body", False):
                    chunks.put_nowait(None)

        async def run() -> None:
            try:
                await self.app(scope, receive, send)
            finally:
                chunks.put_nowait(None)
                if not started.done():
                    started.set_exception(RuntimeError("the application sent no response"))

        task = asyncio.create_task(run())
        start = await asyncio.wait_for(started, TIMEOUT)
        return httpx.Response(
            start["status"], headers=start.get("headers", []), stream=_Body(chunks, closed, task)
        )


@dataclass
class Event:
    id: str | None
    event: str
    data: Any


class EventStream:
    """Parses a text/event-stream response; :meth:`next` is the next event (comments and
    ``retry:`` lines are collected on the side)."""

    def __init__(self, response: httpx.Response) -> None:
        self.response = response
        self.lines = response.aiter_lines()
        self.comments: list[str] = []
        self.retry: int | None = None

    async def next(self) -> Event | None:
        """The next event, or None when the stream has ended."""
        fields: dict[str, str] = {}
        async with asyncio.timeout(TIMEOUT):
            async for line in self.lines:
                if line == "":
                    if "data" in fields:
                        data = json.loads(fields["data"])
                        return Event(fields.get("id"), fields.get("event", "message"), data)
                    continue
                if line.startswith(":"):
                    self.comments.append(line)
                    continue
                name, _, value = line.partition(": ")
                if name == "retry":
                    self.retry = int(value)
                else:
                    fields[name] = value
        return None

    async def until(self, event: str, **match: Any) -> list[Event]:
        """Events up to and including the first ``event`` whose data has these values."""
        seen = []
        while (found := await self.next()) is not None:
            seen.append(found)
            if found.event == event and all(found.data.get(k) == v for k, v in match.items()):
                return seen
        raise AssertionError(f"the stream ended before {event} {match}: {seen}")

    async def rest(self) -> list[Event]:
        """Every event until the stream ends."""
        seen = []
        while (found := await self.next()) is not None:
            seen.append(found)
        return seen


@pytest.fixture(autouse=True)
def fresh_gates() -> Iterator[None]:
    GATES.clear()
    yield
    for gate in GATES.values():  # no run is left holding at the end of a test
        gate.set()


@pytest.fixture(autouse=True)
def polling_rarely(monkeypatch: pytest.MonkeyPatch) -> None:
    """Streams poll the store only every 30 s: in-process runs must arrive by notification."""
    monkeypatch.setattr(run_events, "TIMING", StreamTiming(poll=30.0))


@pytest.fixture
def with_gates(app: FastAPI) -> FastAPI:
    registry = get_registry(extra=[GatePlugin()])
    app.state.registry = registry
    app.state.runtime.engine.registry = registry
    return app


@pytest.fixture
async def streaming(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    transport = StreamingASGITransport(app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as http:
        yield http


async def workflow(
    api: Api, client: httpx.AsyncClient, document: dict[str, Any]
) -> tuple[dict[str, str], str]:
    headers = await owner_headers(api)
    body = await create(client, headers, document)
    return headers, f"{WORKFLOWS}/{body['id']}/runs"


async def start(
    client: httpx.AsyncClient, runs: str, headers: dict[str, str], **params: Any
) -> str:
    response = await client.post(
        runs, json={"data": {"name": "acme"}}, headers=headers, params=params
    )
    assert response.status_code == 202, response.text
    run_id: str = response.json()["id"]
    return run_id


def steps_of(events: list[Event]) -> list[tuple[str, str]]:
    return [(e.data["key"], e.data["status"]) for e in events if e.event == "step"]


def last_states(events: list[Event]) -> list[tuple[str, str]]:
    """Each step's last reported status, in the order the steps were first reported. (A
    state the step left before the stream read it is not reported: events are what the
    store shows at each read.)"""
    states: dict[str, str] = {}
    for key, status in steps_of(events):
        states[key] = status
    return list(states.items())


async def wait_for_step(app: FastAPI, run_id: str, key: str, status: str) -> None:
    async with asyncio.timeout(TIMEOUT):
        while True:
            step = (await app.state.runtime.store.get_execution(run_id)).step(key)
            if step is not None and step.status == status:
                return
            await asyncio.sleep(0.01)


# -- the tests ------------------------------------------------------------------------------


async def test_a_stream_follows_a_run_from_its_snapshot_to_its_end(
    api: Api, client: httpx.AsyncClient, streaming: httpx.AsyncClient, with_gates: FastAPI
) -> None:
    headers, runs = await workflow(
        api, client, gated(docs.upper("first"), hold("h"), docs.upper("last"))
    )
    run_id = await start(client, runs, headers)
    await wait_for_step(with_gates, run_id, "h", "running")
    async with streaming.stream("GET", f"{runs}/{run_id}/events", headers=headers) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        stream = EventStream(response)
        snapshot = await stream.next()
        assert snapshot is not None and snapshot.event == "snapshot"
        assert stream.retry == 3000
        assert snapshot.data["run"]["id"] == run_id and snapshot.data["run"]["status"] == "running"
        first, held = snapshot.data["steps"]
        assert (first["key"], first["status"], first["data"]) == (
            "first",
            "success",
            {"value": "ACME"},
        )
        assert "data_in" not in first and first["duration_ms"] >= 0
        assert (held["key"], held["status"], held["attempt"]) == ("h", "running", 1)
        open_gate("h")
        events = await stream.rest()
    assert steps_of(events)[0] == ("h", "success")
    assert last_states(events) == [("h", "success"), ("last", "success")]
    assert events[0].data["data"] == {"opened": "h"}
    assert events[-1].event == "execution"
    assert events[-1].data["status"] == "completed" and events[-1].data["id"] == run_id
    ids = [snapshot.id, *(e.id for e in events)]
    assert all(ids) and len(set(ids)) == len(ids)


async def test_reconnecting_with_last_event_id_sends_exactly_the_events_after_it(
    api: Api, client: httpx.AsyncClient, streaming: httpx.AsyncClient, with_gates: FastAPI
) -> None:
    document = gated(hold("g0"), hold("g1"), docs.upper("b"), hold("g2"), docs.upper("c"))
    headers, runs = await workflow(api, client, document)
    run_id = await start(client, runs, headers)
    await wait_for_step(with_gates, run_id, "g0", "running")
    url = f"{runs}/{run_id}/events"
    async with streaming.stream("GET", url, headers=headers) as response:
        stream = EventStream(response)
        assert (await stream.next()) is not None  # the snapshot: g0 holds
        open_gate("g0")
        seen = await stream.until("step", key="g1", status="running")
        assert steps_of(seen) == [("g0", "success"), ("g1", "running")]
        last_id = seen[-1].id
    assert last_id is not None
    # While nobody listens: g1 finishes, b runs and finishes, g2 starts holding.
    open_gate("g1")
    await wait_for_step(with_gates, run_id, "g2", "running")
    resumed_headers = {**headers, "Last-Event-ID": last_id}
    async with streaming.stream("GET", url, headers=resumed_headers) as response:
        stream = EventStream(response)
        missed = await stream.until("step", key="g2", status="running")
        assert steps_of(missed) == [("g1", "success"), ("b", "success"), ("g2", "running")]
        open_gate("g2")
        after = await stream.rest()
    assert last_states(after) == [("g2", "success"), ("c", "success")]
    assert [e.event for e in after][-1] == "execution" and after[-1].data["status"] == "completed"

    # The same id again, now that the run has finished: what changed since, up to the end.
    async with streaming.stream("GET", url, headers=resumed_headers) as response:
        again = await EventStream(response).rest()
    assert steps_of(again) == [
        ("g1", "success"),
        ("b", "success"),
        ("g2", "success"),
        ("c", "success"),
    ]
    assert again[-1].id == after[-1].id  # the same state: the same id
    # An id that saw the run finish: 204, so a browser's EventSource stops reconnecting.
    finished = await client.get(url, headers={**headers, "Last-Event-ID": after[-1].id or ""})
    assert finished.status_code == 204 and finished.content == b""


async def test_a_waiting_run_keeps_the_stream_open_until_it_is_approved(
    api: Api, client: httpx.AsyncClient, streaming: httpx.AsyncClient, with_gates: FastAPI
) -> None:
    document = gated(hold("h"), docs.approval_node("ok"), docs.upper("after"))
    headers, runs = await workflow(api, client, document)
    run_id = await start(client, runs, headers)
    async with streaming.stream("GET", f"{runs}/{run_id}/events", headers=headers) as response:
        stream = EventStream(response)
        await stream.next()
        open_gate("h")
        events = await stream.until("execution", status="waiting")
        assert last_states(events)[-1] == ("ok", "waiting")
        wait = [e for e in events if e.event == "step"][-1].data["wait"]
        assert wait["reason"] == "approval"
        assert wait["approval_url"].startswith("http://testserver/api/v1/approvals/")
        decision = await client.post(f"{wait['approval_url']}/approve", json={"name": "Boss"})
        assert decision.status_code == 200, decision.text
        rest = await stream.rest()
    assert last_states(rest) == [("ok", "success"), ("after", "success")]
    approved = next(e.data for e in rest if e.event == "step" and e.data["status"] == "success")
    assert approved["wait"] is None and approved["data"]["decision"] == "approved"
    statuses = [e.data["status"] for e in rest if e.event == "execution"]
    assert statuses in (["running", "completed"], ["completed"])
    assert rest[-1].event == "execution"


async def test_a_failed_run_ends_the_stream_with_the_failure(
    api: Api, client: httpx.AsyncClient, streaming: httpx.AsyncClient, with_gates: FastAPI
) -> None:
    failing = {"id": "bad", "app": "http", "action": "request", "parameters": {"url": "not a url"}}
    headers, runs = await workflow(api, client, gated(hold("h"), failing, docs.upper("never")))
    run_id = await start(client, runs, headers)
    async with streaming.stream("GET", f"{runs}/{run_id}/events", headers=headers) as response:
        stream = EventStream(response)
        await stream.next()
        open_gate("h")
        events = await stream.rest()
    failed = [e.data for e in events if e.event == "step" and e.data["key"] == "bad"]
    assert failed[-1]["status"] == "failed" and failed[-1]["error"]
    assert "never" not in {key for key, _ in steps_of(events)}
    assert events[-1].event == "execution" and events[-1].data["status"] == "failed"
    assert events[-1].data["error"]


async def test_a_finished_run_streams_its_snapshot_and_ends_with_large_outputs_left_out(
    api: Api, client: httpx.AsyncClient, streaming: httpx.AsyncClient
) -> None:
    document = gated(docs.upper("small"), docs.upper("large", "x" * 5000))
    headers, runs = await workflow(api, client, document)
    run_id = await start(client, runs, headers, wait=10)
    async with streaming.stream("GET", f"{runs}/{run_id}/events", headers=headers) as response:
        events = await EventStream(response).rest()
    assert [e.event for e in events] == ["snapshot"]
    run, steps = events[0].data["run"], events[0].data["steps"]
    assert run["status"] == "completed"
    assert [(s["key"], s["data_omitted"]) for s in steps] == [("small", False), ("large", True)]
    assert steps[0]["data"] == {"value": "ACME"} and steps[1]["data"] is None


async def test_a_run_written_by_another_process_is_streamed_from_the_store(
    api: Api,
    client: httpx.AsyncClient,
    streaming: httpx.AsyncClient,
    with_gates: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Another engine with its own store connections (a worker elsewhere): nothing tells this
    process about its writes, so the stream finds them by polling."""
    monkeypatch.setattr(run_events, "TIMING", StreamTiming(poll=0.05))
    headers, runs = await workflow(api, client, gated(hold("h"), docs.upper("last")))
    workflow_id = runs.split("/")[-2]
    body = (await client.get(f"{WORKFLOWS}/{workflow_id}", headers=headers)).json()
    document = Workflow.model_validate(
        {k: body[k] for k in ("name", "trigger", "nodes")} | {"id": workflow_id}
    )
    org_id = (await client.get("/api/v1/organizations/me", headers=headers)).json()["id"]
    elsewhere = SQLStore(with_gates.state.settings.DATABASE_URL, create_tables=False)
    engine = Engine(registry=get_registry(extra=[GatePlugin()]), store=elsewhere, env_allowlist=())
    try:
        execution = await engine.prepare(document, {}, organization_id=org_id)
        running = asyncio.create_task(engine.execute(execution, document))
        url = f"{runs}/{execution.id}/events"
        async with streaming.stream("GET", url, headers=headers) as response:
            stream = EventStream(response)
            seen = await stream.next()
            assert seen is not None and seen.event == "snapshot"
            if not any(s["key"] == "h" for s in seen.data["steps"]):
                await stream.until("step", key="h", status="running")
            open_gate("h")
            events = await stream.rest()
        await asyncio.wait_for(running, TIMEOUT)
    finally:
        await elsewhere.close()
    assert last_states(events) == [("h", "success"), ("last", "success")]
    assert events[-1].event == "execution" and events[-1].data["status"] == "completed"


async def test_heartbeats_keep_a_quiet_stream_open(
    api: Api,
    client: httpx.AsyncClient,
    streaming: httpx.AsyncClient,
    with_gates: FastAPI,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(run_events, "TIMING", StreamTiming(poll=30.0, heartbeat=0.05))
    headers, runs = await workflow(api, client, gated(hold("h")))
    run_id = await start(client, runs, headers)
    async with streaming.stream("GET", f"{runs}/{run_id}/events", headers=headers) as response:
        stream = EventStream(response)
        await stream.next()
        comment = None
        async with asyncio.timeout(TIMEOUT):
            async for line in stream.lines:
                if line.startswith(":"):
                    comment = line
                    break
        assert comment == ": heartbeat"
        open_gate("h")
        assert (await stream.rest())[-1].data["status"] == "completed"


async def test_closing_the_stream_stops_its_work(
    api: Api, client: httpx.AsyncClient, streaming: httpx.AsyncClient, with_gates: FastAPI
) -> None:
    headers, runs = await workflow(api, client, gated(hold("h")))
    run_id = await start(client, runs, headers)
    notifier = with_gates.state.runtime.run_events
    async with streaming.stream("GET", f"{runs}/{run_id}/events", headers=headers) as response:
        assert (await EventStream(response).next()) is not None
        assert notifier.subscribers(run_id) == 1
    assert notifier.subscribers(run_id) == 0
    open_gate("h")
    assert (await with_gates.state.runtime.runner.wait(run_id, TIMEOUT)).status == "completed"


async def test_another_organizations_run_is_a_404_problem_before_any_stream(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers, runs = await workflow(api, client, docs.simple())
    run_id = await start(client, runs, headers, wait=10)
    other = await owner_headers(api, "eve@evil.example", "Evil")
    theirs = await create(client, other, docs.simple())
    for url in (f"{runs}/{run_id}/events", f"{WORKFLOWS}/{theirs['id']}/runs/{run_id}/events"):
        assert_problem(await client.get(url, headers=other), 404, "not-found")
    assert_problem(await client.get(f"{runs}/{run_id}/events"), 401, "unauthorized")


async def test_a_malformed_last_event_id_is_a_422_problem(
    api: Api, client: httpx.AsyncClient
) -> None:
    headers, runs = await workflow(api, client, docs.simple())
    run_id = await start(client, runs, headers, wait=10)
    response = await client.get(
        f"{runs}/{run_id}/events", headers={**headers, "Last-Event-ID": "3; drop"}
    )
    body = assert_problem(response, 422, "validation-error")
    assert body["errors"][0]["location"] == "header"
