"""The documentation stays true to the code: commands, hooks, apps, operators, examples."""

from __future__ import annotations

import inspect
import json
import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import typer
import yaml

from docg_core import hookspecs
from docg_core.cli import create_app
from docg_core.conditions import OPERATORS
from docg_core.plugins import Registry, get_registry
from docg_core.validation import check_workflow
from docg_core.workflow import load_workflow

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
PLUGIN = DOCS / "examples" / "plugin"


def read(name: str) -> str:
    return (DOCS / name).read_text(encoding="utf-8")


def headings(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("#")]


# ------------------------------------------------------------------------------------ CLI


def cli_commands() -> list[str]:
    group = typer.main.get_command(create_app())
    commands = getattr(group, "commands", {})
    assert commands, "the docg CLI has no commands"
    return sorted(commands)


@pytest.mark.parametrize("command", cli_commands())
def test_every_cli_command_is_documented(command: str) -> None:
    text = read("cli.md")
    # `docg resume` must not count for `docg resume-due`, hence the look-ahead.
    mentioned = re.search(rf"docg {re.escape(command)}(?![\w-])", text)
    in_heading = any(
        re.search(rf"(?<![\w-]){re.escape(command)}(?![\w-])", h) for h in headings(text)
    )
    assert mentioned and in_heading, f"`docg {command}` is not documented in docs/cli.md"


def test_cli_exit_codes_are_documented() -> None:
    from docg_core import cli

    text = read("cli.md")
    for code in (cli.EXIT_OK, cli.EXIT_FAILED, cli.EXIT_INVALID, cli.EXIT_WAITING):
        assert re.search(rf"^\| `{code}` \|", text, re.MULTILINE), f"exit code {code} undocumented"


# ---------------------------------------------------------------------------------- hooks


def hook_names() -> list[str]:
    names = [
        name
        for name, fn in inspect.getmembers(hookspecs, inspect.isfunction)
        if hasattr(fn, "docg_spec")
    ]
    assert names, "no hookspecs found"
    return sorted(names)


@pytest.mark.parametrize("hook", hook_names())
def test_every_hook_is_documented_in_the_plugin_guide(hook: str) -> None:
    text = read("plugin-guide.md")
    assert any(hook in h for h in headings(text)), f"no heading for hook {hook}"
    assert f"def {hook}(" in text, f"no signature shown for hook {hook}"


# ---------------------------------------------------------------------------- built-in apps


def sections(text: str, level: int) -> Iterator[tuple[str, str]]:
    """(heading, body) of each heading of exactly ``level`` (#, ##, ###)."""
    marker = "#" * level + " "
    parts = re.split(rf"^(?={re.escape(marker)})", text, flags=re.MULTILINE)
    for part in parts:
        if part.startswith(marker):
            heading, _, body = part.partition("\n")
            yield heading, body


def builtin_registry() -> Registry:
    return get_registry(plugins=[])


@pytest.mark.parametrize("app_key", [a.key for a in builtin_registry().apps()])
def test_every_builtin_app_action_trigger_and_argument_is_documented(app_key: str) -> None:
    app = builtin_registry().app(app_key)
    text = read("builtin-apps.md")
    app_sections = [body for h, body in sections(text, 2) if f"(`{app.key}`)" in h]
    assert len(app_sections) == 1, f"docs/builtin-apps.md needs one '## ... (`{app.key}`)' section"
    body = app_sections[0]
    for item in [*app.actions, *app.triggers]:
        found = [b for h, b in sections(body, 3) if f"`{app.key}` / `{item.key}`" in h]
        assert len(found) == 1, f"no '### ... `{app.key}` / `{item.key}`' heading"
        for argument in item.arguments:
            row = rf"^\| `{re.escape(argument.key)}` \| {re.escape(argument.type.value)}\b"
            assert re.search(row, found[0], re.MULTILINE), (
                f"argument {argument.key!r} of {app.key}/{item.key} has no row "
                f"'| `{argument.key}` | {argument.type.value} ...' in its table"
            )
        if item.arguments:
            assert "| key | type | required |" in found[0]
        else:
            assert "No arguments." in found[0]


# ----------------------------------------------------------------------------- conditions


def test_every_operator_is_documented() -> None:
    text = read("variables-and-conditions.md")
    assert len(OPERATORS) == 12
    for operator in OPERATORS:
        assert re.search(rf"^\| `{re.escape(operator)}` \|", text, re.MULTILINE), (
            f"operator {operator!r} has no row in the operator table"
        )


# ---------------------------------------------------------------------- workflow examples


def yaml_blocks() -> list[tuple[str, int, str]]:
    blocks = []
    for path in sorted(DOCS.glob("*.md")):
        text = path.read_text(encoding="utf-8")
        for match in re.finditer(r"^```yaml\n(.*?)^```", text, re.MULTILINE | re.DOTALL):
            line = text.count("\n", 0, match.start()) + 1
            blocks.append((path.name, line, match.group(1)))
    return blocks


def full_workflows() -> list[tuple[str, int, str]]:
    """Blocks with top-level ``name:`` and ``nodes:``; partial examples have not both."""
    return [
        block
        for block in yaml_blocks()
        if re.search(r"^name:", block[2], re.MULTILINE)
        and re.search(r"^nodes:", block[2], re.MULTILINE)
    ]


def test_the_docs_hold_full_workflow_examples() -> None:
    found = {name for name, _, _ in full_workflows()}
    assert {"workflow-format.md", "plugin-guide.md"} <= found


@pytest.fixture
def registry_with_example_plugin(monkeypatch: pytest.MonkeyPatch) -> Registry:
    monkeypatch.syspath_prepend(str(PLUGIN / "src"))
    import docg_greetings

    return get_registry(plugins=[], extra=[docg_greetings])


@pytest.mark.parametrize(
    ("name", "line", "block"), full_workflows(), ids=[f"{n}:{ln}" for n, ln, _ in full_workflows()]
)
def test_workflow_examples_in_the_docs_are_valid(
    name: str, line: int, block: str, registry_with_example_plugin: Registry
) -> None:
    workflow = load_workflow(yaml.safe_load(block))
    assert check_workflow(workflow, registry_with_example_plugin) == [], f"{name}, line {line}"


def test_the_example_plugin_flow_matches_the_plugin_guide(
    registry_with_example_plugin: Registry,
) -> None:
    flow = (PLUGIN / "flow.yaml").read_text(encoding="utf-8")
    workflow = load_workflow(yaml.safe_load(flow))
    assert check_workflow(workflow, registry_with_example_plugin) == []
    guide_blocks = [b for n, _, b in full_workflows() if n == "plugin-guide.md"]
    assert any(yaml.safe_load(b) == yaml.safe_load(flow) for b in guide_blocks)


# --------------------------------------------------------------------- the example plugin


def test_the_example_plugin_installs_and_loads_by_entry_point(tmp_path: Path) -> None:
    target = tmp_path / "site"
    env = {
        **os.environ,
        "PIP_DISABLE_PIP_VERSION_CHECK": "1",
        "PIP_NO_INPUT": "1",
        "PYTHONIOENCODING": "utf-8",
    }
    # No network: no index, no dependencies, and hatchling from this environment.
    offline = ["--no-deps", "--no-index", "--no-build-isolation"]
    install = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "-q",
            *offline,
            "--target",
            str(target),
            str(PLUGIN),
        ],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert install.returncode == 0, install.stdout + install.stderr
    assert (target / "docg_greetings" / "py.typed").is_file()

    env |= {
        "PYTHONPATH": str(target),
        "DOCG_PLUGINS": "greetings",
        "DATABASE_URL": f"sqlite:///{tmp_path / 'docg.db'}",
    }

    def docg(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "docg_core", *args],
            capture_output=True,
            text=True,
            encoding="utf-8",
            env=env,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )

    run = docg("run", str(PLUGIN / "flow.yaml"), "--json")
    assert run.returncode == 0, run.stdout + run.stderr
    assert "Olá, Maria!" in run.stdout
    execution = json.loads(run.stdout)
    assert execution["status"] == "completed"
    steps = {s["node_id"]: s for s in execution["steps"]}
    assert steps["hello"]["data_out"]["data"] == {"greeting": "Olá, Maria!"}
    assert steps["shout"]["data_out"]["data"] == {"value": "OLÁ, MARIA!"}

    apps = docg("apps", "greetings")
    assert apps.returncode == 0, apps.stdout + apps.stderr
    assert "greet" in apps.stdout
    assert "language" in apps.stdout

    # The example plugin's own tests (the conformance kit) pass against the installed copy;
    # the entry point check runs because the distribution is on the path.
    tests = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-rs", str(PLUGIN / "tests")],
        capture_output=True,
        text=True,
        encoding="utf-8",
        env=env,
        cwd=ROOT,
        timeout=120,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout + tests.stderr
    assert "entry point 'greetings' is not installed" not in tests.stdout
