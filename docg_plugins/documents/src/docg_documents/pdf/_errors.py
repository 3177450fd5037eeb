"""Errors of the PDF converter.

::

    docg_core.errors.StepError
    └── PdfConversionError        the document was not converted (not retried by the engine)
        ├── PdfInputError         the input is wrong: corrupt, empty, mislabelled, unknown format
        └── PdfWorkerError        transient (also a RetryableError): a worker crashed or hung
            │                     on both attempts, or LibreOffice could not be started
            ├── PdfTimeoutError   both attempts ran past the per-job timeout
            └── PdfPoolBusyError  the queue stayed full for the whole timeout (back-pressure)

Every error carries a stable ``code`` (``pdf_input_invalid``, ``pdf_timeout`` …).
"""

from __future__ import annotations

from docg_core.errors import RetryableError, StepError

__all__ = [
    "PdfConversionError",
    "PdfInputError",
    "PdfPoolBusyError",
    "PdfTimeoutError",
    "PdfWorkerError",
]


class PdfConversionError(StepError):
    """A document could not be converted to PDF."""


class PdfInputError(PdfConversionError):
    """The input document cannot be converted as given; retrying will not help."""


class PdfWorkerError(PdfConversionError, RetryableError):
    """A transient failure of the converter processes; worth retrying later."""


class PdfTimeoutError(PdfWorkerError):
    """The conversion ran past the timeout on a worker and again on a fresh one."""


class PdfPoolBusyError(PdfWorkerError):
    """Every queue slot stayed taken for the whole timeout."""
