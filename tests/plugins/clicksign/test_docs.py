"""The ClickSign page's example workflow is valid and names only documented actions."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import docg_clicksign
import docg_documents
from docg_clicksign.app import ClickSignApp
from docg_core import Workflow, check_workflow, get_registry

PAGE = Path(__file__).resolve().parents[3] / "docs" / "apps" / "clicksign.md"


def test_the_example_workflow_is_valid() -> None:
    (block,) = re.findall(r"```yaml\n(.*?)```", PAGE.read_text(), flags=re.S)
    workflow = Workflow.model_validate(yaml.safe_load(block))
    registry = get_registry(plugins=[], extra=[docg_clicksign, docg_documents])

    assert check_workflow(workflow, registry) == []


def test_every_action_and_argument_is_documented() -> None:
    text = PAGE.read_text()
    for action in ClickSignApp.actions:
        assert f"### {action.key}" in text, f"{action.key} is not documented"
        for argument in action.arguments:
            assert f"`{argument.key}`" in text, f"{action.key}.{argument.key} is not documented"
    assert ClickSignApp.auth is not None
    for field in ClickSignApp.auth.fields:
        assert f"`{field.key}`" in text
