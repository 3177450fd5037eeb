"""Shared test configuration.

Markers name what a test needs (``postgres``, ``temporal``, ``soffice``, ``browser``). When
it is missing the test is skipped locally with the reason; with ``DOCG_CI=1`` it fails
instead, so CI can never pass by skipping.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable

import pytest
from support.requirements import missing

# Installed third-party plugins never load unless a test asks for them.
os.environ["DOCG_PLUGINS"] = ""

_REQUIREMENTS: dict[str, tuple[Callable[[], bool], str]] = {
    "postgres": (
        lambda: bool(os.environ.get("DOCG_TEST_DATABASE_URL")),
        "DOCG_TEST_DATABASE_URL is not set",
    ),
    "temporal": (lambda: shutil.which("temporal") is not None, "the temporal CLI is not installed"),
    "soffice": (
        lambda: shutil.which("soffice") is not None,
        "LibreOffice (soffice) is not installed",
    ),
    "browser": (
        lambda: any(shutil.which(b) for b in ("chromium", "chromium-browser", "google-chrome")),
        "Chromium is not installed",
    ),
}


def pytest_runtest_setup(item: pytest.Item) -> None:
    for name, (available, reason) in _REQUIREMENTS.items():
        if item.get_closest_marker(name) is not None and not available():
            missing(reason)
