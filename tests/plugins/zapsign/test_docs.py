"""docs/apps/zapsign.md stays true to the app: every argument documented, the example valid."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

import docg_documents
import docg_zapsign
from docg_core.plugins import get_registry
from docg_core.validation import check_workflow
from docg_core.workflow import load_workflow
from docg_zapsign.app import ZapSignApp

DOC = Path(__file__).resolve().parents[3] / "docs" / "apps" / "zapsign.md"
TEXT = DOC.read_text(encoding="utf-8")


@pytest.mark.parametrize("action", ZapSignApp.actions, ids=lambda a: a.key)
def test_every_action_and_argument_is_documented(action: type) -> None:
    sections = re.split(r"^### ", TEXT, flags=re.MULTILINE)
    [section] = [s for s in sections if f"`zapsign` / `{action.key}`" in s.splitlines()[0]]
    for argument in action.arguments:
        assert re.search(
            rf"^\| `{argument.key}` \| {argument.type.value}\b", section, re.MULTILINE
        ), f"{action.key}: argument {argument.key!r} has no row"


def test_every_connection_field_is_documented() -> None:
    assert ZapSignApp.auth is not None
    for field in ZapSignApp.auth.fields:
        assert re.search(rf"^\| `{field.key}` \|", TEXT, re.MULTILINE), field.key


def test_the_example_workflow_is_valid() -> None:
    [block] = re.findall(r"^```yaml\n(.*?)^```", TEXT, re.MULTILINE | re.DOTALL)
    workflow = load_workflow(yaml.safe_load(block))
    registry = get_registry(plugins=[], extra=[docg_zapsign, docg_documents])
    assert check_workflow(workflow, registry) == []
