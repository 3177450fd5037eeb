"""The AI app's documentation stays true: its workflow example is valid and complete."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

import docg_ai
import docg_documents
from docg_ai.app import AIApp
from docg_core import Workflow, check_workflow, get_registry

DOC = Path(__file__).parents[3] / "docs" / "apps" / "ai.md"


def test_the_example_workflow_is_valid() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), re.DOTALL)
    assert blocks, "docs/apps/ai.md has no YAML example"
    workflow = Workflow.model_validate(yaml.safe_load(blocks[0]))
    registry = get_registry(plugins=[], extra=[docg_ai, docg_documents])
    assert check_workflow(workflow, registry) == []
    assert [n.action for n in workflow.nodes] == ["fill-template-fields", "generate-document"]


def test_every_argument_and_error_code_is_documented() -> None:
    text = DOC.read_text(encoding="utf-8")
    for action in AIApp.actions:
        assert f"### `{action.key}`" in text
        for argument in action.arguments:
            assert f"`{argument.key}`" in text, f"{action.key}: {argument.key} undocumented"
    for code in re.findall(
        r'code="([a-z-]+)"',
        (Path(docg_ai.__file__).parent / "providers" / "_errors.py").read_text(),
    ):
        assert f"`{code}`" in text, f"error code {code} undocumented"
