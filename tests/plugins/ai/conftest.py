"""Fixtures of the AI app tests."""

from __future__ import annotations

import pytest
from fakes.ai import FakeAI
from plugins.ai.helpers import Runner


@pytest.fixture
def fake() -> FakeAI:
    return FakeAI()


@pytest.fixture
def run(fake: FakeAI) -> Runner:
    return Runner(fake)
