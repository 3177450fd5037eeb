"""PDF conversion through the pool of warm LibreOffice workers (docg_documents.pdf).

Real documents are built here (python-docx, python-pptx), converted by real LibreOffice
processes and checked with pypdf. Faults are real too: workers are SIGKILLed and SIGSTOPped,
and every test that stops a pool checks that none of its processes is left, zombie or not.
"""

from __future__ import annotations

import asyncio
import io
import os
import re
import signal
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from docx import Document
from pptx import Presentation
from pypdf import PdfReader

from docg_core.errors import DocgError, RetryableError
from docg_documents.pdf import (
    PdfConversionError,
    PdfConverter,
    PdfInputError,
    PdfPoolBusyError,
    PdfResult,
    PdfTimeoutError,
    PdfWorkerError,
    convert_once,
    get_converter,
    shutdown_converter,
)

soffice = pytest.mark.soffice


# -- documents ---------------------------------------------------------------------------


def order_form_docx(marker: str = "") -> bytes:
    """One page: a heading, a paragraph and a table."""
    doc = Document()
    doc.add_heading("Purchase order", level=1)
    doc.add_paragraph(f"Customer Acme Industries {marker}".strip())
    table = doc.add_table(rows=1, cols=3)
    table.style = "Table Grid"
    for cell, text in zip(table.rows[0].cells, ["Item", "Quantity", "Price"], strict=True):
        cell.text = text
    for item, quantity, price in [("Widget", "3", "10.00"), ("Gadget", "1", "99.90")]:
        row = table.add_row().cells
        row[0].text, row[1].text, row[2].text = item, quantity, price
    return _save(doc)


def three_page_docx() -> bytes:
    doc = Document()
    for i, word in enumerate(["Alpha", "Bravo", "Charlie"]):
        if i:
            doc.add_page_break()
        doc.add_paragraph(f"Section {word}")
    return _save(doc)


def two_slide_pptx() -> bytes:
    deck = Presentation()
    for title in ["Kickoff agenda", "Budget summary"]:
        slide = deck.slides.add_slide(deck.slide_layouts[1])
        slide.shapes.title.text = title
    out = io.BytesIO()
    deck.save(out)
    return out.getvalue()


HTML = (
    b"<!DOCTYPE html><html><head><meta charset='utf-8'><title>Receipt</title></head>"
    b"<body><h1>Payment receipt</h1><p>Thank you for your order.</p></body></html>"
)


def _save(doc: object) -> bytes:
    out = io.BytesIO()
    doc.save(out)  # type: ignore[attr-defined]
    return out.getvalue()


def text_of(result: PdfResult) -> str:
    reader = PdfReader(io.BytesIO(result.pdf))
    assert len(reader.pages) == result.pages
    return " ".join(page.extract_text() for page in reader.pages)


# -- processes ---------------------------------------------------------------------------


def processes_in_group(pgid: int) -> list[tuple[int, str]]:
    """(pid, state) of every process in a process group, zombies included, from /proc."""
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            raw = Path(f"/proc/{entry}/stat").read_text()
        except OSError:
            continue
        fields = raw.rsplit(")", 1)[1].split()
        if int(fields[2]) == pgid:
            found.append((int(entry), fields[0]))
    return found


def my_children() -> set[int]:
    children: set[int] = set()
    for task in Path(f"/proc/{os.getpid()}/task").iterdir():
        try:
            children.update(int(p) for p in (task / "children").read_text().split())
        except OSError:
            continue
    return children


def assert_gone(pids: set[int], groups: set[int]) -> None:
    """None of these processes or groups exists any more, not even as a zombie."""
    for pgid in groups:
        assert processes_in_group(pgid) == [], f"process group {pgid} still has processes"
    assert not (pids & my_children()), "a child process was not reaped"
    for pid in pids:
        assert not Path(f"/proc/{pid}").exists(), f"process {pid} still exists"


def worker_pids(converter: PdfConverter) -> tuple[set[int], set[int]]:
    pids: set[int] = set()
    groups: set[int] = set()
    for status in converter.status():
        pids.update(p for p in (status.supervisor_pid, status.server_pid, status.office_pid) if p)
        if status.process_group:
            groups.add(status.process_group)
    return pids, groups


async def until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "condition not reached in time"
        await asyncio.sleep(0.01)


def office_files(pids: set[int]) -> list[str]:
    """The user profiles and UNO pipe sockets named on these processes' command lines."""
    files = []
    for pid in pids:
        args = Path(f"/proc/{pid}/cmdline").read_bytes().decode().split("\0")
        for arg in args:
            if arg.startswith("-env:UserInstallation=file://"):
                files.append(arg.split("file://", 1)[1])
            if arg.startswith("--accept=pipe,name="):
                name = arg.split("name=", 1)[1].split(";")[0]
                files.append(f"/tmp/OSL_PIPE_{os.getuid()}_{name}")
    return files


def existing(paths: list[str]) -> list[str]:
    return [p for p in paths if os.path.lexists(p)]


def busy(converter: PdfConverter) -> bool:
    return any(s.busy for s in converter.status())


# -- fixtures ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def converter() -> Iterator[PdfConverter]:
    """Two warm workers shared by the module. The converter is not tied to an event loop:
    started here in one loop, it serves each test's own loop."""
    pool = PdfConverter(2, timeout=30)
    asyncio.run(pool.start())
    yield pool
    pids, groups = worker_pids(pool)
    asyncio.run(pool.close())
    assert_gone(pids, groups)


@pytest.fixture
async def one_worker(request: pytest.FixtureRequest) -> AsyncIterator[PdfConverter]:
    """A private one-worker pool for a test that breaks it; options via indirect params."""
    options = getattr(request, "param", {})
    pool = PdfConverter(1, **options)
    await pool.start()
    seen_pids, seen_groups = worker_pids(pool)
    try:
        yield pool
    finally:
        pids, groups = worker_pids(pool)
        await pool.close()
        assert_gone(seen_pids | pids, seen_groups | groups)


# -- conversions -------------------------------------------------------------------------


@soffice
async def test_docx_with_a_table_becomes_a_one_page_pdf(converter: PdfConverter) -> None:
    result = await converter.convert(order_form_docx(), input_format="docx")

    assert result.pdf.startswith(b"%PDF-")
    assert result.pages == 1
    text = text_of(result)
    for word in ["Purchase order", "Acme Industries", "Widget", "Gadget", "99.90"]:
        assert word in text


@soffice
async def test_page_count_of_a_three_page_docx(converter: PdfConverter) -> None:
    result = await converter.convert(three_page_docx(), input_format="docx")

    assert result.pages == 3
    pages = [p.extract_text() for p in PdfReader(io.BytesIO(result.pdf)).pages]
    assert ["Alpha" in pages[0], "Bravo" in pages[1], "Charlie" in pages[2]] == [True] * 3


@soffice
async def test_pptx_gives_one_page_per_slide(converter: PdfConverter) -> None:
    result = await converter.convert(two_slide_pptx(), input_format="pptx")

    assert result.pages == 2
    assert "Kickoff agenda" in text_of(result) and "Budget summary" in text_of(result)


@soffice
async def test_html_converts_with_print_layout(converter: PdfConverter) -> None:
    result = await converter.convert(HTML, input_format=".HTML")

    assert result.pages == 1
    assert "Payment receipt" in text_of(result) and "Thank you" in text_of(result)


@soffice
async def test_pdf_a_output_declares_pdf_a_2b(converter: PdfConverter) -> None:
    result = await converter.convert(order_form_docx(), input_format="docx", pdf_a=True)

    metadata = PdfReader(io.BytesIO(result.pdf)).trailer["/Root"]["/Metadata"].get_data()
    assert re.search(rb"pdfaid:part(>|=['\"])2", metadata)
    assert re.search(rb"pdfaid:conformance(>|=['\"])B", metadata)
    plain = await converter.convert(order_form_docx(), input_format="docx")
    assert b"pdfaid:part" not in plain.pdf


@soffice
async def test_concurrent_conversions_all_succeed_without_blocking_the_loop(
    converter: PdfConverter,
) -> None:
    gaps: list[float] = []
    done = asyncio.Event()

    async def heartbeat() -> None:
        last = time.perf_counter()
        while not done.is_set():
            await asyncio.sleep(0.01)
            now = time.perf_counter()
            gaps.append(now - last)
            last = now

    beat = asyncio.create_task(heartbeat())
    results = await asyncio.gather(
        *(converter.convert(order_form_docx(f"job{i}"), input_format="docx") for i in range(8))
    )
    done.set()
    await beat

    for i, result in enumerate(results):
        assert result.pages == 1
        assert f"job{i}" in text_of(result)  # each caller got its own document back
    assert sum(s.jobs for s in converter.status()) >= 8
    assert max(gaps) < 0.25, "the event loop was blocked"


@soffice
async def test_corrupt_input_is_a_clear_non_retryable_error(converter: PdfConverter) -> None:
    before = converter.stats()

    with pytest.raises(PdfInputError) as caught:
        await converter.convert(b"PK\x03\x04 this is not a word document", input_format="docx")

    error = caught.value
    assert isinstance(error, PdfConversionError) and isinstance(error, DocgError)
    assert not isinstance(error, RetryableError) and error.retryable is False
    assert error.code == "pdf_input_invalid"
    assert ".docx" in str(error) and "could not read" in str(error)
    assert converter.stats().replaced == before.replaced  # the worker was fine; kept
    assert (await converter.convert(order_form_docx(), input_format="docx")).pages == 1


@pytest.mark.parametrize(
    ("data", "input_format", "code"),
    [(b"", "docx", "pdf_input_empty"), (b"MZ\x90\x00", "exe", "pdf_unsupported_format")],
)
async def test_empty_input_and_unknown_formats_are_refused_up_front(
    data: bytes, input_format: str, code: str
) -> None:
    pool = PdfConverter(1)  # never started: the check comes first

    with pytest.raises(PdfInputError) as caught:
        await pool.convert(data, input_format=input_format)

    assert caught.value.code == code and not caught.value.retryable
    assert pool.status() == []
    await pool.close()


async def test_missing_libreoffice_is_a_clear_non_retryable_error(tmp_path: Path) -> None:
    pool = PdfConverter(1, soffice=str(tmp_path / "no-such-soffice"))

    with pytest.raises(PdfConversionError, match="LibreOffice was not found") as caught:
        await pool.convert(b"x", input_format="docx")

    assert caught.value.code == "pdf_unavailable" and not caught.value.retryable
    await pool.close()


@soffice
async def test_a_python_without_uno_is_refused_with_what_to_install(tmp_path: Path) -> None:
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\nexit 1\n")  # `python -c "import uno"` fails
    python.chmod(0o755)
    pool = PdfConverter(1, python=str(python))

    with pytest.raises(PdfConversionError, match="python3-uno") as caught:
        await pool.start()

    assert caught.value.code == "pdf_unavailable" and pool.status()[0].office_pid is None
    await pool.close()


# -- faults ------------------------------------------------------------------------------


@soffice
@pytest.mark.parametrize("victim", ["office", "server"])
async def test_worker_killed_mid_job_is_replaced_and_the_job_retried(
    one_worker: PdfConverter, victim: str
) -> None:
    [old] = one_worker.status()
    assert old.office_pid and old.server_pid
    os.kill(old.office_pid, signal.SIGSTOP)  # hold the job inside LibreOffice
    job = asyncio.create_task(one_worker.convert(order_form_docx(), input_format="docx"))
    await until(lambda: busy(one_worker))
    await asyncio.sleep(0.2)
    os.kill(old.office_pid if victim == "office" else old.server_pid, signal.SIGKILL)

    result = await job

    assert result.pages == 1 and "Widget" in text_of(result)
    [new] = one_worker.status()
    assert new.office_pid not in (None, old.office_pid) and new.generation == 2
    stats = one_worker.stats()
    assert (stats.retries, stats.replaced) == (1, 1)
    assert_gone({old.office_pid, old.server_pid}, {old.supervisor_pid})


@soffice
@pytest.mark.parametrize("one_worker", [{"timeout": 2}], indirect=True)
async def test_hung_worker_hits_the_timeout_is_replaced_and_the_job_retried(
    one_worker: PdfConverter,
) -> None:
    [old] = one_worker.status()
    assert old.office_pid and old.server_pid
    os.kill(old.office_pid, signal.SIGSTOP)
    started = time.monotonic()

    result = await one_worker.convert(order_form_docx(), input_format="docx")

    assert time.monotonic() - started >= 2
    assert result.pages == 1
    [new] = one_worker.status()
    assert new.office_pid != old.office_pid
    assert (one_worker.stats().retries, one_worker.stats().replaced) == (1, 1)
    assert_gone({old.office_pid, old.server_pid}, {old.supervisor_pid})


@soffice
@pytest.mark.parametrize("one_worker", [{"max_jobs_per_worker": 2}], indirect=True)
async def test_worker_is_recycled_after_max_jobs(one_worker: PdfConverter) -> None:
    [first] = one_worker.status()
    for _ in range(2):
        await one_worker.convert(order_form_docx(), input_format="docx")
    await until(
        lambda: one_worker.status()[0].generation == 2 and one_worker.status()[0].office_pid
    )

    result = await one_worker.convert(order_form_docx(), input_format="docx")

    [now] = one_worker.status()
    assert result.pages == 1
    assert now.office_pid != first.office_pid and now.server_pid != first.server_pid
    assert now.jobs == 1 and one_worker.stats().recycled == 1
    assert one_worker.stats().retries == 0
    assert first.office_pid and first.server_pid and first.supervisor_pid
    assert_gone({first.office_pid, first.server_pid}, {first.supervisor_pid})


@soffice
@pytest.mark.parametrize("one_worker", [{"queue_size": 1, "timeout": 2}], indirect=True)
async def test_full_queue_makes_callers_wait_then_raises_busy(one_worker: PdfConverter) -> None:
    [worker] = one_worker.status()
    assert worker.office_pid
    os.kill(worker.office_pid, signal.SIGSTOP)  # the worker is stuck for `timeout` seconds
    running = asyncio.create_task(one_worker.convert(order_form_docx(), input_format="docx"))
    await until(lambda: busy(one_worker))
    queued = asyncio.create_task(one_worker.convert(order_form_docx(), input_format="docx"))
    await asyncio.sleep(0.1)
    started = time.monotonic()

    with pytest.raises(PdfPoolBusyError) as caught:
        await one_worker.convert(order_form_docx(), input_format="docx")

    assert time.monotonic() - started >= 1.9
    assert caught.value.retryable and caught.value.code == "pdf_busy"
    assert (await running).pages == 1 and (await queued).pages == 1


@soffice
async def test_close_leaves_no_process_and_no_file() -> None:
    pool = PdfConverter(2)
    await pool.convert(order_form_docx(), input_format="docx")  # starts lazily
    pids, groups = worker_pids(pool)
    assert len(pids) == 6 and len(groups) == 2  # supervisor, UNO server, soffice.bin each
    files = office_files(pids)
    assert len(files) == 4 and existing(files) == files  # 2 profiles, 2 pipe sockets

    await pool.close()

    assert_gone(pids, groups)
    assert existing(files) == []
    with pytest.raises(PdfConversionError, match="closed"):
        await pool.convert(order_form_docx(), input_format="docx")


def _fake_python(tmp_path: Path, behaviour: str) -> str:
    """A stand-in for the UNO server: says it is ready, then hangs or dies on each job."""
    server = tmp_path / "fake_server.py"
    server.write_text(
        "import json, struct, sys, time\n"
        "out = sys.stdout.buffer\n"
        "body = json.dumps({'ok': True, 'event': 'ready'}).encode()\n"
        "out.write(struct.pack('!I', len(body)) + body); out.flush()\n"
        "sys.stdin.buffer.read(4)\n"
        f"{'time.sleep(60)' if behaviour == 'hang' else 'sys.exit(1)'}\n"
    )
    python = tmp_path / "python"
    python.write_text(
        '#!/bin/sh\n[ "$2" = "-c" ] && exit 0\n'  # the `import uno` probe
        f'exec /usr/bin/python3 -I {server} "$@"\n'
    )
    python.chmod(0o755)
    return str(python)


@soffice
@pytest.mark.parametrize(
    ("behaviour", "error", "code"),
    [("hang", PdfTimeoutError, "pdf_timeout"), ("crash", PdfWorkerError, "pdf_worker_crashed")],
)
async def test_a_job_failing_on_two_workers_is_a_retryable_error(
    tmp_path: Path, behaviour: str, error: type[PdfWorkerError], code: str
) -> None:
    pool = PdfConverter(1, timeout=1, python=_fake_python(tmp_path, behaviour))
    await pool.start()
    seen = worker_pids(pool)
    try:
        with pytest.raises(error) as caught:
            await pool.convert(order_form_docx(), input_format="docx")
        assert isinstance(caught.value, RetryableError) and caught.value.retryable
        assert caught.value.code == code
        assert pool.stats().retries == 1
        later = worker_pids(pool)
    finally:
        await pool.close()
    assert_gone(seen[0] | later[0], seen[1] | later[1])


# -- one-shot and the shared converter ---------------------------------------------------


@soffice
async def test_convert_once_runs_one_soffice_for_one_document() -> None:
    children = my_children()

    result = await convert_once(order_form_docx(), "docx")

    assert result.pages == 1 and "Gadget" in text_of(result)
    assert my_children() <= children


@soffice
async def test_convert_once_rejects_a_corrupt_document() -> None:
    with pytest.raises(PdfInputError, match="could not read"):
        await convert_once(b"not a presentation", "pptx")


async def test_shared_converter_reads_docg_pdf_workers(monkeypatch: pytest.MonkeyPatch) -> None:
    await shutdown_converter()
    monkeypatch.setenv("DOCG_PDF_WORKERS", "3")

    shared = get_converter()

    assert shared.workers == 3 and get_converter() is shared
    assert shared.status() == []  # nothing starts before the first conversion
    await shutdown_converter()
    assert shared.closed and get_converter() is not shared
    await shutdown_converter()

    monkeypatch.setenv("DOCG_PDF_WORKERS", "none")
    with pytest.raises(ValueError, match="DOCG_PDF_WORKERS"):
        get_converter()
