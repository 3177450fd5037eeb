"""Benchmark `render`: .docx renders per second of the demo contract with 20 line items.

The floor, measured in the same run, is python-docx opening and saving the same template
unchanged: no renderer built on python-docx can be faster. Target: <= 10 ms per document;
the ratio to the floor is what the renderer itself costs.

Run: python tests/benchmarks/bench_render.py  (or `nox -s bench -- render`)
"""

from __future__ import annotations

import io
import json
import time
from collections.abc import Callable
from pathlib import Path

from docx import Document

from docg_documents.templating import render_docx

EXAMPLE = Path(__file__).parents[2] / "docs" / "examples" / "contract"


def per_call(fn: Callable[[], object], seconds: float = 3.0) -> float:
    """Median seconds per call over rounds of about a third of ``seconds`` each."""
    for _ in range(5):
        fn()
    rounds = []
    for _ in range(3):
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds / 3:
            fn()
            n += 1
        rounds.append((time.perf_counter() - start) / n)
    return sorted(rounds)[1]


def main() -> None:
    template = (EXAMPLE / "contrato-grande.docx").read_bytes()
    data = json.loads((EXAMPLE / "deal.json").read_text(encoding="utf-8"))
    item = data["deal"]["line_items"][0]
    data["deal"]["line_items"] = [dict(item, name=f"Item {i + 1}") for i in range(20)]
    data["company"]["logo"] = None
    result = render_docx(template, data)
    assert not result.missing_variables, result.missing_variables

    def floor() -> None:
        Document(io.BytesIO(template)).save(io.BytesIO())

    base = per_call(floor)
    render = per_call(lambda: render_docx(template, data))
    print(f"render: python-docx open+save (floor) {base * 1000:.1f} ms/document")
    print(
        f"render: render_docx, 20 line items {render * 1000:.1f} ms/document, "
        f"{1 / render:,.0f} documents/s (ratio to the floor {render / base:.2f}x; "
        f"target <= 10 ms: {'PASS' if render <= 0.010 else 'MISS'})"
    )


if __name__ == "__main__":
    main()
