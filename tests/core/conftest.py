"""Fixtures for the engine tests: a registry with the test app, an engine that never sleeps."""

from __future__ import annotations

import pytest
from support.apps import RUNS, Sleeps, TestPlugin

from docg_core.engine import Engine
from docg_core.plugins import Registry, get_registry


@pytest.fixture
def registry() -> Registry:
    return get_registry(extra=[TestPlugin()])


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def engine(registry: Registry, sleeps: Sleeps) -> Engine:
    RUNS.clear()
    return Engine(
        registry=registry, sleep=sleeps, connections={"main": {"api_key": "sk-live-123456"}}
    )
