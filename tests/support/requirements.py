"""What a test needs from the machine: skipped locally when missing, a failure in CI."""

from __future__ import annotations

import os
from typing import NoReturn

import pytest


def missing(reason: str) -> NoReturn:
    """Skip the test, or fail it when ``DOCG_CI=1`` so CI can never pass by skipping."""
    if os.environ.get("DOCG_CI") == "1":
        pytest.fail(f"{reason} (required in CI, DOCG_CI=1)", pytrace=False)
    pytest.skip(reason)
