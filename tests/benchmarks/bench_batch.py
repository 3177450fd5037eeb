"""Benchmark `batch`: 1,000 contracts (docx + pdf) generated in a loop, peak memory kept low.

Each contract is a full execution of the demo workflow through the engine (SQLite store,
local storage in a temp folder, the warm PDF pool). Files stream to storage and nothing
accumulates, so the process's peak RSS must stay under 300 MB. The baseline, measured in the
same run, is the process's RSS before the loop (Python, the engine and the libraries loaded).

Run: python tests/benchmarks/bench_batch.py [--count N]  (or `nox -s bench -- batch`)
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import tempfile
import time
from pathlib import Path

from docg_core import Engine, LocalStorage, SQLStore, Workflow
from docg_core.plugins import get_registry
from docg_documents.pdf import shutdown_converter

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "contract"


def rss_mb() -> float:
    """Current resident set size of this process, in MB (from /proc)."""
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


async def main(count: int) -> None:
    workflow = Workflow.from_file(EXAMPLE / "workflow.yaml")
    deal = json.loads((EXAMPLE / "deal.json").read_text(encoding="utf-8"))
    deal["templates"] = {k: str(EXAMPLE / v) for k, v in deal["templates"].items()}
    deal["company"]["logo"]["image"] = str(EXAMPLE / "logo.png")
    with tempfile.TemporaryDirectory() as tmp:
        store = SQLStore(f"sqlite:///{tmp}/batch.db")
        storage = LocalStorage(Path(tmp) / "files", secret="bench")
        engine = Engine(registry=get_registry(plugins=["documents"]), store=store, storage=storage)
        first = await engine.run(workflow, deal)  # warm up: workers started, caches filled
        assert first.status == "completed", first.error
        baseline = rss_mb()
        start = time.perf_counter()
        for i in range(1, count + 1):
            deal["deal"]["number"] = f"2026-{i:05d}"
            execution = await engine.run(workflow, deal)
            if execution.status != "completed":
                raise SystemExit(f"contract {i} failed: {execution.error}")
            if i % max(1, count // 10) == 0:
                print(f"batch: {i}/{count} contracts, RSS {rss_mb():.0f} MB", flush=True)
        elapsed = time.perf_counter() - start
        files = sum(1 for p in (Path(tmp) / "files").rglob("*") if p.is_file())
        await store.close()
    await shutdown_converter()
    peak = peak_rss_mb()
    print(f"batch: baseline RSS after warm-up {baseline:.0f} MB")
    print(
        f"batch: {count} contracts (docx + pdf, {files} files) in {elapsed:.1f} s, "
        f"{count / elapsed:.1f} contracts/s; peak RSS {peak:.0f} MB "
        f"(ratio to baseline {peak / baseline:.2f}x; target < 300 MB: "
        f"{'PASS' if peak < 300 else 'MISS'})"
    )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=int(os.environ.get("DOCG_BATCH_COUNT", 1000)))
    asyncio.run(main(parser.parse_args().count))
