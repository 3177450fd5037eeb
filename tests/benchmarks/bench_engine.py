"""Benchmark `engine`: executions/s of a 3-step flow (webhook → formatter → formatter).

Measured with the in-memory store and with SQLite (a file in a temp folder), against a
baseline measured in the same run: the same two formatter actions called directly, with no
engine, no records and no store. Targets: ≥ 2,000 executions/s in memory and ≥ 300/s with
SQLite, on one core.

Run: python tests/benchmarks/bench_engine.py  (or `nox -s bench -- engine`)
"""

from __future__ import annotations

import asyncio
import os
import tempfile
import time
from collections.abc import Awaitable, Callable

from _flow import FLOW_DOCUMENT, TRIGGER  # this folder (scripts run from it)

from docg_core import Engine, InMemoryStore, Workflow
from docg_core.builtin.formatter import FormatterApp, NumberAction, TextAction
from docg_core.plugins import get_registry
from docg_core.sqlstore import SQLStore
from docg_core.testing import run_action

os.environ.setdefault("DOCG_PLUGINS", "")

FLOW = Workflow.model_validate(FLOW_DOCUMENT)


async def rate(make: Callable[[], Awaitable[object]], seconds: float = 3.0) -> float:
    """Executions per second, best of three rounds, after a warm-up."""
    for _ in range(50):
        await make()
    best = 0.0
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while (elapsed := time.perf_counter() - start) < seconds / 3:
            await make()
            n += 1
        best = max(best, n / elapsed)
    return best


async def main() -> None:
    registry = get_registry(plugins=[])
    app = FormatterApp()

    async def direct() -> None:
        await run_action(app, TextAction, {"transform": "upper", "input": TRIGGER["deal"]["name"]})
        await run_action(
            app,
            NumberAction,
            {
                "transform": "format",
                "input": TRIGGER["deal"]["amount"],
                "locale": "en-US",
                "decimals": 2,
            },
        )

    baseline = await rate(direct)
    memory_engine = Engine(registry=registry, store=InMemoryStore())
    memory = await rate(lambda: memory_engine.run(FLOW, TRIGGER))
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLStore(f"sqlite:///{tmp}/bench.db")
        sqlite_engine = Engine(registry=registry, store=store)
        sqlite = await rate(lambda: sqlite_engine.run(FLOW, TRIGGER))
        await store.close()

    print(f"engine: baseline (2 actions called directly, no engine) {baseline:,.0f}/s")
    print(
        f"engine: in-memory store {memory:,.0f} executions/s "
        f"(ratio to baseline {memory / baseline:.2f}x; target >= 2,000/s: "
        f"{'PASS' if memory >= 2000 else 'MISS'})"
    )
    print(
        f"engine: SQLite store {sqlite:,.0f} executions/s "
        f"(ratio to baseline {sqlite / baseline:.2f}x; target >= 300/s: "
        f"{'PASS' if sqlite >= 300 else 'MISS'})"
    )


if __name__ == "__main__":
    asyncio.run(main())
