"""PDF conversion with LibreOffice.

- :class:`PdfConverter` — a pool of warm LibreOffice processes (the normal path):
  ``await converter.convert(data, input_format="docx", pdf_a=False) -> PdfResult``.
- :func:`get_converter` / :func:`shutdown_converter` — the process-wide pool
  (``$DOCG_PDF_WORKERS`` workers, default one per core).
- :func:`convert_once` — one ``soffice --convert-to pdf`` process per document (baseline,
  fallback).
- :func:`soffice_available` — whether LibreOffice is installed.

Errors (see :mod:`._errors`): :class:`PdfConversionError` and its subclasses
:class:`PdfInputError` (bad input, not retried), :class:`PdfWorkerError` (transient, a
``RetryableError``), :class:`PdfTimeoutError`, :class:`PdfPoolBusyError`.
"""

from __future__ import annotations

from ._errors import (
    PdfConversionError,
    PdfInputError,
    PdfPoolBusyError,
    PdfTimeoutError,
    PdfWorkerError,
)
from ._formats import FORMATS
from ._oneshot import convert_once
from ._result import PdfResult
from .pool import (
    PdfConverter,
    PoolStats,
    WorkerStatus,
    default_workers,
    get_converter,
    shutdown_converter,
    soffice_available,
)

#: Source extensions :meth:`PdfConverter.convert` accepts as ``input_format``.
SUPPORTED_FORMATS = frozenset(FORMATS)

__all__ = [
    "SUPPORTED_FORMATS",
    "PdfConversionError",
    "PdfConverter",
    "PdfInputError",
    "PdfPoolBusyError",
    "PdfResult",
    "PdfTimeoutError",
    "PdfWorkerError",
    "PoolStats",
    "WorkerStatus",
    "convert_once",
    "default_workers",
    "get_converter",
    "shutdown_converter",
    "soffice_available",
]
