"""The ``docg`` command line: exit codes, JSON output, resuming from another process."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from docg_core import hookimpl
from docg_core.cli import create_app

APPROVAL_FLOW = """
name: Approve then format
nodes:
  - id: ok
    app: approval
    action: request-approval
    parameters: {title: "Deal {{trigger.deal}}"}
  - id: shout
    app: formatter
    action: text
    parameters: {transform: upper, input: "{{step.ok.decision}} {{trigger.deal}}"}
"""


@pytest.fixture
def db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'docg.db'}"
    monkeypatch.setenv("DATABASE_URL", url)
    return url


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def invoke(*args: str, input: str | None = None) -> tuple[int, str, str]:
    result = CliRunner().invoke(create_app(), list(args), input=input)
    if result.exception and not isinstance(result.exception, SystemExit):
        raise result.exception
    return result.exit_code, result.stdout, result.stderr


def docg(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """Run the CLI in a separate process, as a user would."""
    return subprocess.run(
        [sys.executable, "-m", "docg_core", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_run_prints_the_execution_as_json_and_exits_3_while_waiting(
    tmp_path: Path, db: str
) -> None:
    flow = write(tmp_path, "flow.yaml", APPROVAL_FLOW)
    code, out, _ = invoke("run", str(flow), "--trigger", '{"deal": "acme"}', "--json")
    assert code == 3
    record = json.loads(out)
    assert record["status"] == "waiting"
    assert [s["node_id"] for s in record["steps"]] == ["ok"]
    step = record["steps"][0]
    assert set(step) >= {"node_id", "status", "data_in", "data_out", "error"}
    assert step["data_in"]["title"] == "Deal acme"
    assert step["data_out"]["data"]["status"] == "pending"


def test_a_waiting_run_is_resumed_by_a_later_process(tmp_path: Path, db: str) -> None:
    import os

    flow = write(tmp_path, "flow.yaml", APPROVAL_FLOW)
    env = {**os.environ, "DATABASE_URL": db, "DOCG_PLUGINS": ""}
    first = docg("run", str(flow), "--trigger", '{"deal": "acme"}', "--json", env=env)
    assert first.returncode == 3, first.stderr
    execution_id = json.loads(first.stdout)["id"]

    second = docg(
        "resume", execution_id, "ok", "--payload", '{"decision": "approved"}', "--json", env=env
    )
    assert second.returncode == 0, second.stderr
    record = json.loads(second.stdout)
    assert record["status"] == "completed"
    assert record["steps"][-1]["data_out"]["data"] == {"value": "APPROVED ACME"}

    again = docg("resume", execution_id, "ok", "--payload", '{"decision": "approved"}', env=env)
    assert again.returncode == 2
    assert "not waiting" in again.stderr


def test_run_exits_0_when_completed_and_1_when_failed(tmp_path: Path, db: str) -> None:
    ok = write(
        tmp_path,
        "ok.yaml",
        """
        name: ok
        nodes: [{id: a, app: formatter, action: text, parameters: {transform: upper, input: hi}}]
    """,
    )
    bad = write(
        tmp_path,
        "bad.yaml",
        """
        name: bad
        nodes: [{id: a, app: formatter, action: number, parameters: {transform: format, input: "{{trigger.n}}"}}]
    """,
    )
    assert invoke("run", str(ok))[0] == 0
    code, out, _ = invoke("run", str(bad), "--trigger", '{"n": "lots"}')
    assert code == 1
    assert "failed" in out


def test_run_exits_2_listing_every_problem(tmp_path: Path, db: str) -> None:
    flow = write(
        tmp_path,
        "flow.yaml",
        """
        name: broken
        nodes:
          - {id: a, app: formatter, action: txt}
          - {id: b, app: nope, action: x}
          - {id: c, app: formatter, action: text, parameters: {transform: upper, input: "{{step.z.v}}"}}
    """,
    )
    code, _, err = invoke("run", str(flow))
    assert code == 2
    assert "3 problem(s)" in err
    assert "node 'a'" in err and "did you mean 'text'" in err
    assert "unknown app 'nope'" in err
    assert "step 'z'" in err


def test_invalid_yaml_and_json_input_exit_2_with_the_location(tmp_path: Path, db: str) -> None:
    flow = write(tmp_path, "flow.yaml", "name: x\nnodes: [\n")
    code, _, err = invoke("run", str(flow))
    assert code == 2 and "invalid YAML" in err and "line" in err
    ok = write(tmp_path, "ok.yaml", "name: ok\nnodes: []\n")
    code, _, err = invoke("run", str(ok), "--trigger", "{bad json")
    assert code == 2 and "invalid JSON" in err


def test_missing_file_exits_2(tmp_path: Path, db: str) -> None:
    code, _, err = invoke("run", str(tmp_path / "nope.yaml"))
    assert code == 2
    assert "cannot read" in err


def test_trigger_can_come_from_stdin(tmp_path: Path, db: str) -> None:
    flow = write(
        tmp_path,
        "f.yaml",
        """
        name: f
        nodes: [{id: a, app: formatter, action: text, parameters: {transform: upper, input: "{{trigger.w}}"}}]
    """,
    )
    code, out, _ = invoke("run", str(flow), "--trigger", "-", "--json", input='{"w": "stdin"}')
    assert code == 0
    assert json.loads(out)["steps"][0]["data_out"]["data"]["value"] == "STDIN"


def test_until_step_and_mock(tmp_path: Path, db: str) -> None:
    flow = write(
        tmp_path,
        "f.yaml",
        """
        name: f
        nodes:
          - {id: a, app: formatter, action: text, parameters: {transform: upper, input: x}}
          - {id: b, app: formatter, action: text, parameters: {transform: upper, input: "{{step.a.value}}"}}
          - {id: c, app: formatter, action: text, parameters: {transform: upper, input: y}}
    """,
    )
    mock = write(tmp_path, "mock.json", '{"a": {"value": "mocked"}}')
    code, out, _ = invoke("run", str(flow), "--until-step", "b", "--mock", str(mock), "--json")
    assert code == 0
    steps = json.loads(out)["steps"]
    assert [s["node_id"] for s in steps] == ["a", "b"]
    assert steps[1]["data_out"]["data"]["value"] == "MOCKED"


def test_runs_lists_and_shows_executions(tmp_path: Path, db: str) -> None:
    flow = write(tmp_path, "flow.yaml", APPROVAL_FLOW)
    _, out, _ = invoke("run", str(flow), "--trigger", '{"deal": "acme"}', "--json")
    execution_id = json.loads(out)["id"]
    code, out, _ = invoke("runs", "--json")
    assert code == 0
    assert [r["id"] for r in json.loads(out)] == [execution_id]
    code, out, _ = invoke("runs", execution_id)
    assert code == 0
    assert "docg resume" in out and execution_id in out
    code, _, err = invoke("runs", "no-such-id")
    assert code == 2 and "no-such-id" in err


def test_validate(tmp_path: Path) -> None:
    good = write(tmp_path, "good.yaml", APPROVAL_FLOW)
    code, out, _ = invoke("validate", str(good))
    assert code == 0 and "is valid" in out
    bad = write(
        tmp_path,
        "bad.yaml",
        """
        name: bad
        nodes:
          - {id: a, app: approval, action: request-approval, parameters: {}}
          - {id: a, app: formatter, action: text, parameters: {transform: shout, input: x}}
    """,
    )
    code, _, err = invoke("validate", str(bad))
    assert code == 2
    assert "Title is required" in err and "duplicate" in err and "'shout'" in err


def test_apps_lists_builtins_and_describes_one(tmp_path: Path) -> None:
    code, out, _ = invoke("apps")
    assert code == 0
    for key in ("manual", "webhook", "schedule", "approval", "delay", "http", "formatter", "stop"):
        assert key in out
    code, out, _ = invoke("apps", "formatter", "--json")
    assert code == 0
    assert {a["key"] for a in json.loads(out)["actions"]} == {"text", "number", "date"}
    code, _, err = invoke("apps", "fromatter")
    assert code == 2 and "did you mean 'formatter'" in err


def test_demo_runs_the_bundled_example() -> None:
    code, out, _ = invoke("demo")
    assert code == 0, out
    assert "Proposta para Acme Indústria E Comércio Ltda: R$ 18.450,90 (3 itens)" in out
    assert "Pagamento em 3 parcelas" in out


def test_plugins_add_commands_through_the_hook() -> None:
    class Plugin:
        @hookimpl
        def docg_register_commands(self, cli: typer.Typer) -> None:
            @cli.command("hello")
            def hello() -> None:
                typer.echo("hello from a plugin")

    result = CliRunner().invoke(create_app(extra_plugins=[Plugin()]), ["hello"])
    assert result.exit_code == 0
    assert "hello from a plugin" in result.stdout


def test_an_unreachable_database_is_a_message_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", f"sqlite:///{tmp_path}/missing-dir/sub/docg.db")
    flow = write(tmp_path, "ok.yaml", "name: ok\nnodes: []\n")
    code, _, err = invoke("run", str(flow))
    assert code == 1
    assert "error:" in err
    assert "Traceback" not in err
