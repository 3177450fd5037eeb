"""Benchmark `pdf`: documents/s converted to PDF by the warm pool vs one soffice per document.

The same 1-page order form (a .docx with a heading, a paragraph and a 10-row table, built
here with python-docx) is converted:

- baseline: ``convert_once`` — one ``soffice --convert-to pdf`` process per document, on a
  sample of 10 documents, one at a time and then as many at a time as the pool has workers
  (the fairer baseline on several cores: it is the one the ratio is taken against);
- the pool: ``PdfConverter`` with ``$DOCG_PDF_WORKERS`` workers (default: one per core),
  started and warmed up first, then 50 documents one at a time (latency) and 50 at once
  (throughput).

Targets: pool throughput >= 4x the baseline's, and <= 100 ms per document amortised.
``--unoserver`` also times unoserver 3 (its XML-RPC server run by the Python that has
LibreOffice's uno module, its client from here), one document at a time, for comparison.
Exits 0 whatever the figures.

Run: python tests/benchmarks/bench_pdf.py [--unoserver]  (or `nox -s bench -- pdf`)
"""

from __future__ import annotations

import asyncio
import io
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import xmlrpc.client
from pathlib import Path

from docx import Document

from docg_documents.pdf import PdfConverter, convert_once, soffice_available
from docg_documents.pdf._office import remove_office_pipes

os.environ.setdefault("DOCG_PLUGINS", "")

DOCUMENTS = 50
ONE_SHOT_SAMPLE = 10


def order_form(number: int) -> bytes:
    doc = Document()
    doc.add_heading(f"Order form #{number}", level=1)
    doc.add_paragraph("Customer: Acme Indústria Ltda. — ship within 10 business days.")
    table = doc.add_table(rows=1, cols=4)
    table.style = "Table Grid"
    for cell, title in zip(table.rows[0].cells, ["Item", "Qty", "Unit", "Total"], strict=True):
        cell.text = title
    for i in range(10):
        row = table.add_row().cells
        row[0].text, row[1].text = f"Widget {i}", str(i + 1)
        row[2].text, row[3].text = "10.00", f"{(i + 1) * 10:.2f}"
    doc.add_paragraph("Signature: ______________________   Date: ___/___/______")
    out = io.BytesIO()
    doc.save(out)
    return out.getvalue()


def line(name: str, docs: int, seconds: float) -> float:
    rate = docs / seconds
    print(
        f"pdf: {name:<46} {docs:3d} docs {seconds:6.2f} s  {rate:6.2f} PDFs/s  "
        f"{seconds / docs * 1000:7.1f} ms/doc"
    )
    return rate


async def one_shot(docs: list[bytes], concurrency: int) -> float:
    limit = asyncio.Semaphore(concurrency)

    async def convert(data: bytes) -> None:
        async with limit:
            await convert_once(data, "docx")

    start = time.perf_counter()
    await asyncio.gather(*(convert(d) for d in docs))
    return time.perf_counter() - start


def unoserver_latency(data: bytes, count: int) -> tuple[float, float] | None:
    """(start-up s, median s per document) of one unoserver, or None if it is not installed."""
    try:
        import unoserver  # noqa: F401
    except ImportError:
        print("pdf: unoserver is not installed here; skipped")
        return None
    import importlib.metadata as metadata

    package = Path(sys.modules["unoserver"].__file__ or "").parent
    info = package.parent / f"unoserver-{metadata.version('unoserver')}.dist-info"
    ports = []
    for _ in range(2):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            ports.append(s.getsockname()[1])
    with tempfile.TemporaryDirectory(prefix="docg-bench-unoserver-") as tmp:
        # The server must import under the uno Python: give it only the unoserver package.
        path = Path(tmp) / "path"
        path.mkdir()
        (path / "unoserver").symlink_to(package)
        (path / info.name).symlink_to(info)  # unoserver reads its own version
        start = time.perf_counter()
        server = subprocess.Popen(
            [
                "/usr/bin/python3",
                "-m",
                "unoserver.server",
                "--port",
                str(ports[0]),
                "--uno-port",
                str(ports[1]),
                "--user-installation",
                f"{tmp}/profile",
                "--quiet",
            ],
            env={**os.environ, "PYTHONPATH": str(path), "TMPDIR": tmp},
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            start_new_session=True,
        )
        try:
            proxy = xmlrpc.client.ServerProxy(f"http://127.0.0.1:{ports[0]}", allow_none=True)
            while True:
                try:
                    proxy.info()
                    break
                except OSError:
                    time.sleep(0.05)
            started = time.perf_counter() - start
            times = []
            for _ in range(count):
                t = time.perf_counter()
                proxy.convert(None, xmlrpc.client.Binary(data), None, "pdf")
                times.append(time.perf_counter() - t)
            return started, statistics.median(times[2:])
        finally:
            server.terminate()  # it stops LibreOffice, which then exits through oosplash
            try:
                server.wait(15)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
            remove_office_pipes(Path(f"{tmp}/profile").as_uri())  # left by a killed office


async def main() -> None:
    if not soffice_available():
        print("pdf: LibreOffice (soffice) is not installed; nothing to measure")
        return
    docs = [order_form(i) for i in range(DOCUMENTS)]

    start = time.perf_counter()
    async with PdfConverter() as pool:
        started = time.perf_counter() - start
        workers = pool.workers
        print(f"pdf: pool of {workers} workers started in {started:.2f} s ({os.cpu_count()} cores)")
        await asyncio.gather(*(pool.convert(d, input_format="docx") for d in docs[:workers]))

        t = time.perf_counter()
        for d in docs:
            await pool.convert(d, input_format="docx")
        line("pool, one document at a time (latency)", DOCUMENTS, time.perf_counter() - t)

        t = time.perf_counter()
        results = await asyncio.gather(*(pool.convert(d, input_format="docx") for d in docs))
        seconds = time.perf_counter() - t
        assert all(r.pages == 1 for r in results)
        pool_rate = line(f"pool, {DOCUMENTS} at once", DOCUMENTS, seconds)

    sample = docs[:ONE_SHOT_SAMPLE]
    line("one soffice per document, one at a time", len(sample), await one_shot(sample, 1))
    base_rate = line(
        f"one soffice per document, {workers} at a time",
        len(sample),
        await one_shot(sample, workers),
    )

    if "--unoserver" in sys.argv:
        measured = await asyncio.to_thread(unoserver_latency, docs[0], 22)
        if measured:
            print(
                f"pdf: unoserver 3 (one server) started in {measured[0]:.2f} s, "
                f"{measured[1] * 1000:.1f} ms/doc one at a time (median)"
            )

    ms = 1000 / pool_rate
    ratio = pool_rate / base_rate
    print(
        f"pdf: pool {pool_rate:.1f} PDFs/s vs baseline {base_rate:.2f} PDFs/s: "
        f"ratio {ratio:.1f}x (target >= 4x: {'PASS' if ratio >= 4 else 'MISS'}); "
        f"{ms:.0f} ms/doc amortised (target <= 100 ms: {'PASS' if ms <= 100 else 'MISS'})"
    )


if __name__ == "__main__":
    asyncio.run(main())
