"""``GET /api/v1/workflows/{id}/runs/{run_id}/events``: a run's live updates (Server-Sent
Events).

Bearer authentication and tenancy exactly like the run's detail: another organization's run
answers a 404 problem before any stream starts. A fresh stream opens with a ``snapshot``
event; a reconnect with ``Last-Event-ID`` gets exactly the events after that id. Then
``step`` and ``execution`` events until the run has finished (see :mod:`docg_server.events`
and docs/live-updates.md). A ``Last-Event-ID`` that already saw the run finish answers 204,
which tells a browser's ``EventSource`` to stop reconnecting.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import StreamingResponse

from ...errors import problem_responses
from ...events.cursor import CURSOR_PATTERN, Cursor
from ...events.source import RunReader
from ...events.stream import StreamTiming, run_event_stream
from ..deps import CurrentOrg, RuntimeDep, WorkflowDep, public_base_url
from .runs import owned_run

__all__ = ["TIMING", "router"]

router = APIRouter(
    prefix="/workflows/{workflow_id}/runs",
    tags=["runs"],
    responses=problem_responses(401, 404, 422),
)

TIMING = StreamTiming()
"""Poll interval, heartbeat and reconnect hint of every stream."""

_STREAM_HEADERS = {
    "Cache-Control": "no-store",
    "X-Accel-Buffering": "no",  # nginx: pass each event on at once
}


@router.get(
    "/{run_id}/events",
    response_class=StreamingResponse,
    responses={
        200: {
            "description": "The run's events: ``snapshot``, then ``step`` and ``execution``.",
            "content": {"text/event-stream": {"schema": {"type": "string"}}},
        },
        204: {"description": "``Last-Event-ID`` already saw the run finish: nothing to send."},
    },
)
async def run_events(
    run_id: str,
    workflow: WorkflowDep,
    org: CurrentOrg,
    runtime: RuntimeDep,
    request: Request,
    last_event_id: Annotated[
        str | None,
        Header(
            alias="Last-Event-ID",
            max_length=4096,
            pattern=CURSOR_PATTERN,
            description="The id of the last event received: resume right after it.",
        ),
    ] = None,
) -> Response:
    """The run's live updates as Server-Sent Events; ends once the run has finished."""
    await owned_run(runtime, run_id, workflow, str(org.id))
    cursor = Cursor.parse(last_event_id) if last_event_id else None
    if cursor is not None and cursor.finished:
        return Response(status_code=204)
    reader = RunReader(request.app.state.session_factory, run_id, public_base_url(request))
    stream = run_event_stream(
        reader,
        cursor,
        notifier=runtime.run_events,
        disconnected=request.is_disconnected,
        timing=TIMING,
    )
    return StreamingResponse(stream, media_type="text/event-stream", headers=_STREAM_HEADERS)
