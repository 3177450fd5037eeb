"""Benchmark `api`: the HTTP server under load, on PostgreSQL, against baselines measured in
the same run.

The server as production runs it, ``docg serve`` (uvicorn; one worker process per CPU unless
``--workers`` or ``DOCG_BENCH_WORKERS`` says otherwise; warnings and errors logged only) on a fresh database
``docg_bench_<random>`` (``docg db upgrade``; dropped afterwards) runs a 3-step workflow (webhook → formatter → formatter). A load generator in a separate process on loopback
(``wrk`` when installed — Debian package ``wrk`` —, else asyncio + httpx) measures:

- ``POST /api/v1/webhooks/...`` as fast as it goes (``CONCURRENCY`` in flight): requests/s and
  p99 latency; completed executions/s counted in the ``executions`` table (first start to
  last completion, after the backlog drains);
- ``GET /api/v1/workflows`` at a fixed 200 requests/s: p99 latency, on the fresh database
  (the target) and again right after the webhook phase;
- baselines: ``GET /healthz`` as fast as it goes (the HTTP stack alone), and the inline
  engine without HTTP or database (executions/s in this process).

Targets on 2 cores: ≥ 300 executions/s; p99 < 50 ms for GET /workflows at 200 req/s.

Run: python tests/benchmarks/bench_api.py [--seconds 30]  (or `nox -s bench -- api`);
``DOCG_BENCH_SECONDS`` also sets the duration of each phase, ``DOCG_BENCH_DATABASE_URL`` the
PostgreSQL server (default ``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import sqlalchemy as sa
from _flow import FLOW_DOCUMENT, TRIGGER  # this folder (scripts run from it)

CONCURRENCY = 32
FIXED_RATE = 200.0
PASSWORD = "correct horse battery"
FLOW = FLOW_DOCUMENT


# -- the load generator (runs in its own process) ------------------------------------------


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(fraction * len(ordered)))]


async def _closed_loop(spec: dict[str, Any]) -> dict[str, Any]:
    """``concurrency`` workers, each sending its next request when the last one answered."""
    latencies: list[float] = []
    errors = 0
    deadline = time.perf_counter() + spec["seconds"]
    limits = httpx.Limits(max_connections=spec["concurrency"])
    async with httpx.AsyncClient(base_url=spec["base"], limits=limits, timeout=30) as client:

        async def worker() -> None:
            nonlocal errors
            while time.perf_counter() < deadline:
                start = time.perf_counter()
                response = await client.request(
                    spec["method"], spec["path"], json=spec.get("json"), headers=spec["headers"]
                )
                latencies.append(time.perf_counter() - start)
                errors += response.status_code >= 300

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(spec["concurrency"])))
        elapsed = time.perf_counter() - began
    return _summary(latencies, errors, elapsed)


async def _open_loop(spec: dict[str, Any]) -> dict[str, Any]:
    """A request every 1/rate seconds, whether or not earlier ones answered."""
    latencies: list[float] = []
    errors = 0
    limits = httpx.Limits(max_connections=1000)
    async with httpx.AsyncClient(base_url=spec["base"], limits=limits, timeout=30) as client:

        async def one() -> None:
            nonlocal errors
            start = time.perf_counter()
            try:
                response = await client.request(
                    spec["method"], spec["path"], headers=spec["headers"]
                )
                errors += response.status_code >= 300
            except httpx.HTTPError:
                errors += 1
            latencies.append(time.perf_counter() - start)

        began = time.perf_counter()
        tasks = []
        total = int(spec["rate"] * spec["seconds"])
        for i in range(total):
            delay = began + i / spec["rate"] - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one()))
        await asyncio.gather(*tasks)
        elapsed = time.perf_counter() - began
    return _summary(latencies, errors, elapsed)


def _summary(latencies: list[float], errors: int, elapsed: float) -> dict[str, Any]:
    return {
        "requests": len(latencies),
        "errors": errors,
        "per_second": len(latencies) / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


_WRK_UNITS = {"us": 1e-6, "ms": 1e-3, "s": 1.0, "m": 60.0}


def _wrk_seconds(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _WRK_UNITS[unit]


def load_wrk(spec: dict[str, Any]) -> dict[str, Any]:
    """A closed-loop phase driven by ``wrk`` (a C load generator: it needs a fraction of the
    CPU the Python one does, which on 2 cores is CPU the server keeps); its summary."""
    with tempfile.TemporaryDirectory() as folder:
        script = Path(folder) / "request.lua"
        body = json.dumps(spec["json"]) if spec.get("json") is not None else None
        lines = [f"wrk.method = {json.dumps(spec['method'])}"]
        if body is not None:
            lines += [
                f"wrk.body = {json.dumps(body)}",
                'wrk.headers["Content-Type"] = "application/json"',
            ]
        lines += [
            f"wrk.headers[{json.dumps(k)}] = {json.dumps(v)}" for k, v in spec["headers"].items()
        ]
        script.write_text("\n".join(lines) + "\n")
        done = subprocess.run(
            ["wrk", "-t1", f"-c{spec['concurrency']}", f"-d{spec['seconds']:.0f}s", "--latency",
             "-s", str(script), spec["base"] + spec["path"]],
            capture_output=True, text=True, check=True,
        )  # fmt: skip
    out = done.stdout
    requests = int(re.search(r"(\d+) requests in ([\d.]+)(\w+)", out).group(1))  # type: ignore[union-attr]
    elapsed = _wrk_seconds("".join(re.search(r"requests in ([\d.]+)(\w+),", out).groups()))  # type: ignore[union-attr]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    socket_errors = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out
    )
    errors = (int(bad.group(1)) if bad else 0) + (
        sum(int(n) for n in socket_errors.groups()) if socket_errors else 0
    )
    percentiles = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", out, re.MULTILINE))
    return {
        "requests": requests,
        "errors": errors,
        "per_second": requests / elapsed,
        "p50_ms": _wrk_seconds(percentiles["50"]) * 1000,
        "p99_ms": _wrk_seconds(percentiles["99"]) * 1000,
    }


def load(spec: dict[str, Any]) -> dict[str, Any]:
    """Run one load phase in a separate process (``wrk`` for a closed loop when it is
    installed, else the Python generator); its summary."""
    if "rate" not in spec and shutil.which("wrk"):
        return load_wrk(spec)
    done = subprocess.run(
        [sys.executable, __file__, "--load", json.dumps(spec)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise RuntimeError(f"the load generator failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- the server and its database -----------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def docg_command() -> list[str]:
    found = shutil.which("docg", path=str(Path(sys.executable).parent)) or shutil.which("docg")
    return [found] if found else [sys.executable, "-m", "docg_core.cli"]


def wait_until_up(base: str, process: subprocess.Popen[bytes]) -> None:
    for _ in range(200):
        if process.poll() is not None:
            raise RuntimeError("the server exited at start-up")
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the server did not answer /readyz within 20 s")


def setup_workflow(base: str) -> tuple[dict[str, str], str, str]:
    """Register, create and activate the flow: (auth headers, webhook path, workflow id)."""
    with httpx.Client(base_url=base, timeout=30) as client:
        email = f"bench-{uuid.uuid4().hex[:8]}@bench.example"
        body = {"email": email, "password": PASSWORD, "organization_name": "Bench"}
        client.post("/api/v1/auth/register", json=body).raise_for_status()
        login = client.post("/api/v1/auth/login", json={"email": email, "password": PASSWORD})
        headers = {"Authorization": f"Bearer {login.raise_for_status().json()['access_token']}"}
        created = client.post("/api/v1/workflows", json=FLOW, headers=headers).raise_for_status()
        workflow = created.json()
        client.post(f"/api/v1/workflows/{workflow['id']}/activate", headers=headers)
        path = httpx.URL(workflow["webhook_url"]).path
        return headers, path, workflow["id"]


def executions_per_second(url: str, workflow_id: str, expected: int) -> tuple[float, int]:
    """Completed executions/s of the workflow (first start → last completion), after waiting
    up to 60 s for the backlog to drain; and how many completed."""
    from docg_server.models.engine import executions as table

    engine = sa.create_engine(url, poolclass=sa.NullPool)
    query = sa.select(
        sa.func.count().filter(table.c.status == "completed"),
        sa.func.count().filter(table.c.status == "running"),
        sa.func.min(table.c.started_at),
        sa.func.max(table.c.completed_at),
    ).where(table.c.flow_id == workflow_id)
    try:
        deadline = time.monotonic() + 60
        while True:
            with engine.connect() as connection:
                done, running, first, last = connection.execute(query).one()
            if (running == 0 and done >= expected) or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    finally:
        engine.dispose()
    seconds = (last - first).total_seconds() if first and last else float("nan")
    return done / seconds, done


def inline_engine(seconds: float) -> float:
    """Executions/s of the same flow in this process: engine, in-memory store, no HTTP."""
    from docg_core import Engine, InMemoryStore, Workflow
    from docg_core.plugins import get_registry

    flow = Workflow.model_validate(FLOW)
    engine = Engine(registry=get_registry(), store=InMemoryStore())

    async def run() -> float:
        count, began = 0, time.perf_counter()
        while time.perf_counter() - began < seconds:
            await asyncio.gather(*(engine.run(flow, TRIGGER) for _ in range(50)))
            count += 50
        return count / (time.perf_counter() - began)

    return asyncio.run(run())


def main(seconds: float, workers: int) -> None:
    server_url = os.environ.get(
        "DOCG_BENCH_DATABASE_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
    name = f"docg_bench_{uuid.uuid4().hex[:10]}"
    url = sa.engine.make_url(server_url).set(database=name)
    text_url = url.render_as_string(hide_password=False)
    with admin.connect() as connection:
        connection.exec_driver_sql(f'CREATE DATABASE "{name}"')
    env = {
        **os.environ,
        "DATABASE_URL": text_url,
        "DOCG_PLUGINS": "server",  # built-in apps, and `docg db` from the server plugin
        "DOCG_STORAGE_DIR": tempfile.mkdtemp(prefix="docg-bench-files-"),
    }
    server: subprocess.Popen[bytes] | None = None
    server_log = Path(env["DOCG_STORAGE_DIR"]) / "server.log"
    try:
        subprocess.run([*docg_command(), "db", "upgrade"], env=env, check=True)
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        server = subprocess.Popen(
            [*docg_command(), "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers)],
            env={**env, "DOCG_LOG_LEVEL": "WARNING", "DOCG_LOG_FORMAT": "text"},
            stdout=subprocess.DEVNULL,
            stderr=server_log.open("wb"),
        )  # fmt: skip
        wait_until_up(base, server)
        headers, hook, workflow_id = setup_workflow(base)
        common = {"base": base, "seconds": seconds, "concurrency": CONCURRENCY}

        listing_spec = {
            **common, "method": "GET", "path": "/api/v1/workflows", "headers": headers,
            "rate": FIXED_RATE,
        }  # fmt: skip
        healthz = load({**common, "method": "GET", "path": "/healthz", "headers": {}})
        listing = load(listing_spec)
        webhooks = load({**common, "method": "POST", "path": hook, "headers": {}, "json": TRIGGER})
        accepted = webhooks["requests"] - webhooks["errors"]
        per_second, completed = executions_per_second(text_url, workflow_id, accepted)
        # Again with the database still digesting the webhook phase's writes (autovacuum,
        # checkpoint): what a user listing workflows just after a burst of runs sees.
        listing_after = load(listing_spec)
        inline = inline_engine(min(seconds, 10))
    finally:
        stopped_in = float("nan")
        if server is not None:
            server.terminate()
            began = time.perf_counter()
            try:
                server.wait(timeout=30)
                stopped_in = time.perf_counter() - began
            except subprocess.TimeoutExpired:  # still finishing its backlog of runs
                server.kill()
                server.wait()
        with admin.connect() as connection:
            connection.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()

    def line(label: str, result: dict[str, Any]) -> str:
        return (
            f"{label:<34} {result['per_second']:8.0f} req/s  p50 {result['p50_ms']:6.1f} ms  "
            f"p99 {result['p99_ms']:6.1f} ms  ({result['requests']} requests, "
            f"{result['errors']} errors)"
        )

    generator = "wrk" if shutil.which("wrk") else "Python (httpx); install wrk for less overhead"
    print(
        f"api benchmark: {seconds:.0f} s per phase, {CONCURRENCY} in flight, PostgreSQL, "
        f"{workers} server worker process(es) on {os.cpu_count()} CPUs; load generator: "
        f"{generator} (the fixed-rate phase always Python)"
    )
    print(line("GET /healthz (baseline)", healthz))
    print(line("POST /webhooks/...", webhooks))
    print(f"{'completed executions':<34} {per_second:8.0f} /s     ({completed} completed)")
    print(line(f"GET /workflows at {FIXED_RATE:.0f} req/s", listing))
    print(line("  the same, after the webhook phase", listing_after))
    print(f"{'inline engine, no HTTP (baseline)':<34} {inline:8.0f} executions/s")
    print(
        f"ratio webhook requests / healthz requests: {webhooks['per_second'] / healthz['per_second']:.2f}"
    )
    print(f"ratio executions/s via HTTP / inline engine: {per_second / inline:.3f}")
    if stopped_in != stopped_in:  # NaN: it did not stop by itself
        print("server did not stop within 30 s of SIGTERM; it was killed")
    else:
        print(f"server stopped on SIGTERM in {stopped_in:.1f} s")
    log = server_log.read_text(errors="replace")
    print(f"server errors logged: {log.count('Traceback')} tracebacks ({server_log})")
    if "QueuePool limit" in log:
        print(f"  of which database pool exhausted: {log.count('QueuePool limit')}")
    print(
        f"target ≥ 300 executions/s: {'met' if per_second >= 300 else 'MISSED'}; "
        f"target GET /workflows p99 < 50 ms: {'met' if listing['p99_ms'] < 50 else 'MISSED'}"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--seconds", type=float, default=float(os.environ.get("DOCG_BENCH_SECONDS", 30))
    )
    parser.add_argument(
        "--workers",
        type=int,
        default=int(os.environ.get("DOCG_BENCH_WORKERS", os.cpu_count() or 1)),
        help="server worker processes (default: one per CPU, as `docg serve --workers`)",
    )
    parser.add_argument("--load", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.load:
        spec = json.loads(args.load)
        runner = _open_loop if "rate" in spec else _closed_loop
        print(json.dumps(asyncio.run(runner(spec))))
    else:
        main(args.seconds, args.workers)
