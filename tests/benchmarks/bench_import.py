"""Benchmark `import`: wall time of `python -c "import docg_core"`.

The baseline, measured in the same run, is `python -c "pass"`; the figure that counts is
the difference (target < 150 ms). The full engine import is shown for information.

Run: python tests/benchmarks/bench_import.py  (or `nox -s bench -- import`)
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time


def wall(code: str, runs: int = 15) -> float:
    """Median wall time in seconds of a fresh interpreter running ``code``."""
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", code], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    bare = wall("pass")
    core = wall("import docg_core")
    engine = wall("import docg_core; docg_core.Engine")
    added = (core - bare) * 1000
    print(f"import: python -c pass {bare * 1000:.0f} ms (baseline)")
    print(
        f"import: import docg_core {core * 1000:.0f} ms, {added:.1f} ms over the baseline "
        f"(ratio {core / bare:.2f}x; target < 150 ms: {'PASS' if added < 150 else 'MISS'})"
    )
    print(
        f"import: import docg_core + Engine {engine * 1000:.0f} ms ({(engine - bare) * 1000:.0f} ms over)"
    )


if __name__ == "__main__":
    main()
