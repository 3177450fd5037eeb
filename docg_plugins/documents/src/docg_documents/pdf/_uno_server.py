"""One PDF worker's UNO side: runs under the Python that has LibreOffice's ``uno`` module.

The worker's supervisor (:mod:`._supervisor`) starts this script with that interpreter
(Debian's ``/usr/bin/python3``), next to a ``soffice.bin`` listening on a private UNO pipe.
This script connects to that office, then answers conversion requests read from its stdin (the
pool's pipe), writing the replies to its stdout. No TCP port is opened: the office is reachable
only through its pipe, and this script only through the pool's pipes.

Frames, both directions: a 4-byte big-endian length, a JSON header of that length, then
``header["size"]`` bytes of payload (the input document, or the PDF).

Requests: ``{"op": "convert", "extension": "docx", "filter": "MS Word 2007 XML" | null,
"pdf_a": false, "size": n}`` + the document, and ``{"op": "ping"}``. Replies:
``{"ok": true, "size": n}`` + the PDF, ``{"ok": true}`` for a ping, or ``{"ok": false, "kind":
"input" | "unavailable" | "failed", "message": ...}``. Before the first request it sends
``{"ok": true, "event": "ready"}``.

When the office dies it exits with status 3; the pool sees the end of stdout and replaces the
worker. It also exits at the end of its input, or when its parent (the supervisor) is gone; the
supervisor then kills and reaps the office.

Standard library and ``uno`` only: this file must not import anything from DocG.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import struct
import sys
import threading
import time
from typing import Any, BinaryIO

import uno  # type: ignore[import-not-found]
from com.sun.star.beans import PropertyValue  # type: ignore[import-not-found]
from com.sun.star.connection import NoConnectException  # type: ignore[import-not-found]
from com.sun.star.io import IOException  # type: ignore[import-not-found]
from com.sun.star.lang import (  # type: ignore[import-not-found]
    DisposedException,
    IllegalArgumentException,
)

_LENGTH = struct.Struct("!I")

# Export filter by the loaded document's service, most specific first.
_EXPORT_FILTERS = (
    ("com.sun.star.presentation.PresentationDocument", "impress_pdf_Export"),
    ("com.sun.star.sheet.SpreadsheetDocument", "calc_pdf_Export"),
    ("com.sun.star.drawing.DrawingDocument", "draw_pdf_Export"),
    ("com.sun.star.text.WebDocument", "writer_web_pdf_Export"),
    ("com.sun.star.text.TextDocument", "writer_pdf_Export"),
)

# PDF/A-2b: archival, visual appearance preserved.
_PDF_A_VERSION = 2


class OfficeGone(Exception):
    """The office process died or the UNO bridge broke: this worker is finished."""


def _prop(name: str, value: Any) -> Any:
    return PropertyValue(Name=name, Value=value)


def read_frame(stream: BinaryIO) -> tuple[dict[str, Any], bytes] | None:
    raw = stream.read(_LENGTH.size)
    if len(raw) < _LENGTH.size:
        return None
    header: dict[str, Any] = json.loads(stream.read(_LENGTH.unpack(raw)[0]))
    size = int(header.get("size", 0))
    payload = stream.read(size) if size else b""
    if len(payload) < size:
        return None
    return header, payload


def write_frame(stream: BinaryIO, header: dict[str, Any], payload: bytes = b"") -> None:
    body = json.dumps({**header, "size": len(payload)}).encode()
    stream.write(_LENGTH.pack(len(body)) + body + payload)
    stream.flush()


class Converter:
    """Loads a document into the office, exports it as PDF, closes it."""

    def __init__(self, pipe_name: str, workdir: str, connect_timeout: float) -> None:
        local = uno.getComponentContext()
        resolver = local.ServiceManager.createInstanceWithContext(
            "com.sun.star.bridge.UnoUrlResolver", local
        )
        url = f"uno:pipe,name={pipe_name};urp;StarOffice.ComponentContext"
        deadline = time.monotonic() + connect_timeout
        while True:
            try:
                context = resolver.resolve(url)
                break
            except NoConnectException:
                # The office is still starting; it opens the pipe when it is ready.
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
        manager = context.ServiceManager
        self.desktop = manager.createInstanceWithContext("com.sun.star.frame.Desktop", context)
        self.filters = manager.createInstanceWithContext(
            "com.sun.star.document.FilterFactory", context
        )
        self.workdir = workdir

    def convert(
        self, data: bytes, extension: str, import_filter: str | None, pdf_a: bool
    ) -> dict[str, Any] | bytes:
        source = os.path.join(self.workdir, f"input.{extension}")
        target = os.path.join(self.workdir, "output.pdf")
        with open(source, "wb") as f:
            f.write(data)
        try:
            return self._convert_file(source, target, extension, import_filter, pdf_a)
        finally:
            for path in (source, target):
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(path)

    def _convert_file(
        self, source: str, target: str, extension: str, import_filter: str | None, pdf_a: bool
    ) -> dict[str, Any] | bytes:
        load = [
            _prop("Hidden", True),
            _prop("ReadOnly", True),
            # Never run document macros, never fetch linked content while loading.
            _prop("MacroExecutionMode", 0),
            _prop("UpdateDocMode", 0),
        ]
        if import_filter:
            if not self.filters.hasByName(import_filter):
                return _failure(
                    "unavailable", f"this LibreOffice has no {import_filter!r} import filter"
                )
            load.append(_prop("FilterName", import_filter))
        try:
            document = self.desktop.loadComponentFromURL(
                uno.systemPathToFileUrl(source), "_blank", 0, tuple(load)
            )
        except DisposedException as e:
            raise OfficeGone(_why(e)) from e
        except (IllegalArgumentException, IOException) as e:
            return _failure("input", f"LibreOffice could not read it as .{extension} ({_why(e)})")
        if document is None:
            return _failure("input", f"LibreOffice could not read it as .{extension}")
        try:
            services = set(document.getSupportedServiceNames())
            export = next((f for s, f in _EXPORT_FILTERS if s in services), None)
            if export is None:
                return _failure("input", f"LibreOffice cannot export this .{extension} as PDF")
            _update_indexes(document)
            options = [_prop("SelectPdfVersion", _PDF_A_VERSION)] if pdf_a else []
            document.storeToURL(
                uno.systemPathToFileUrl(target),
                (
                    _prop("FilterName", export),
                    _prop("Overwrite", True),
                    _prop(
                        "FilterData",
                        uno.Any("[]com.sun.star.beans.PropertyValue", tuple(options)),
                    ),
                ),
            )
        except DisposedException as e:
            raise OfficeGone(_why(e)) from e
        finally:
            with contextlib.suppress(DisposedException):
                document.close(True)
        with open(target, "rb") as f:
            return f.read()


def _update_indexes(document: Any) -> None:
    """Refresh tables of contents (twice: the first update can move page numbers)."""
    if not hasattr(document, "getDocumentIndexes"):
        return
    indexes = document.getDocumentIndexes()
    for _ in range(2 if indexes.getCount() else 0):
        for i in range(indexes.getCount()):
            indexes.getByIndex(i).update()


def _failure(kind: str, message: str) -> dict[str, Any]:
    return {"ok": False, "kind": kind, "message": message}


def _why(error: Any) -> str:
    return str(getattr(error, "Message", "") or type(error).__name__)


def _watch_parent(parent: int) -> None:
    # Exit even while the main thread is stuck in a call into a hung office.
    while os.getppid() == parent:
        time.sleep(0.5)
    os._exit(4)


def main() -> int:
    parser = argparse.ArgumentParser(description="DocG PDF worker (UNO side)")
    parser.add_argument("--pipe", required=True)
    parser.add_argument("--workdir", required=True)
    parser.add_argument("--connect-timeout", type=float, default=60.0)
    args = parser.parse_args()

    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    # Frames go to the original stdout; anything else written to fd 1 lands on stderr.
    replies = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)
    requests = sys.stdin.buffer

    try:
        converter = Converter(args.pipe, args.workdir, args.connect_timeout)
    except Exception as e:
        write_frame(replies, _failure("failed", f"cannot connect to LibreOffice: {_why(e)}"))
        return 2
    write_frame(replies, {"ok": True, "event": "ready"})

    while (frame := read_frame(requests)) is not None:
        header, payload = frame
        if header.get("op") == "ping":
            write_frame(replies, {"ok": True})
            continue
        try:
            result = converter.convert(
                payload, str(header["extension"]), header.get("filter"), bool(header["pdf_a"])
            )
        except OfficeGone:
            return 3
        except Exception as e:
            # The office is alive but failed on this document; the pool decides what next.
            result = _failure("failed", f"{type(e).__name__}: {_why(e)}")
        if isinstance(result, bytes):
            write_frame(replies, {"ok": True}, result)
        else:
            write_frame(replies, result)
    return 0


if __name__ == "__main__":
    sys.exit(main())
