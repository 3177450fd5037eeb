"""The ``docg`` command line.

Exit codes of ``run`` and ``resume``: 0 completed, 1 failed or cancelled, 2 invalid input
(every problem listed), 3 waiting. Executions are kept in ``DATABASE_URL`` (default
``sqlite:///./docg.db``) so a waiting run can be resumed by a later command.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import sys
from collections.abc import Callable, Coroutine, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import typer
from rich.console import Console
from rich.table import Table

from .errors import DocgError, Problem, ValidationError

if TYPE_CHECKING:
    from .engine import Engine
    from .records import ExecutionRecord, StepRecord
    from .store import ExecutionStore

__all__ = ["EXIT_FAILED", "EXIT_INVALID", "EXIT_OK", "EXIT_WAITING", "create_app", "main"]

EXIT_OK, EXIT_FAILED, EXIT_INVALID, EXIT_WAITING = 0, 1, 2, 3
DEFAULT_DATABASE_URL = "sqlite:///./docg.db"
T = TypeVar("T")

out = Console(highlight=False, soft_wrap=True)
err = Console(stderr=True, highlight=False, soft_wrap=True)

STATUS_STYLE = {
    "success": "[green]✓[/]",
    "failed": "[red]✗[/]",
    "waiting": "[yellow]⏸[/]",
    "skipped": "[dim]-[/]",
    "running": "[blue]…[/]",
    "pending": "[dim]·[/]",
}

JsonOpt = Annotated[bool, typer.Option("--json", help="Print the execution record as JSON.")]
DbOpt = Annotated[
    str | None,
    typer.Option(
        "--database-url",
        envvar="DATABASE_URL",
        help=f"Where executions are kept (default: {DEFAULT_DATABASE_URL}).",
    ),
]
ConnOpt = Annotated[
    Path | None,
    typer.Option(
        "--connections",
        envvar="DOCG_CONNECTIONS_FILE",
        help="YAML/JSON file mapping connection ids to their credentials.",
    ),
]


def _fail_input(problems: list[Problem] | str) -> None:
    if isinstance(problems, str):
        problems = [Problem(problems)]
    err.print(
        f"[red]error:[/] {len(problems)} problem(s):" if len(problems) > 1 else "[red]error:[/]",
        end="",
    )
    if len(problems) == 1:
        err.print(f" {problems[0]}", markup=False)
    else:
        err.print()
        for p in problems:
            err.print(f"  - {p}", markup=False)
    raise typer.Exit(EXIT_INVALID)


def _run_async(make: Callable[[], Coroutine[Any, Any, T]]) -> T:
    try:
        return asyncio.run(make())
    except ValidationError as exc:
        _fail_input(exc.problems)
        raise  # unreachable: _fail_input exits
    except DocgError as exc:
        _fail_input(str(exc))
        raise
    except Exception as exc:
        if isinstance(exc, OSError) or type(exc).__module__.startswith("sqlalchemy"):
            # the database or a file: the message says what is wrong
            err.print(f"[red]error:[/] {_escape(f'{type(exc).__name__}: {exc}')}")
            raise typer.Exit(EXIT_FAILED) from None
        if os.environ.get("DOCG_DEBUG"):
            raise
        err.print(
            f"[red]internal error:[/] {_escape(f'{type(exc).__name__}: {exc}')}\n"
            "Run again with DOCG_DEBUG=1 for the traceback, and please report it."
        )
        raise typer.Exit(EXIT_FAILED) from None


def _read_json_arg(value: str, what: str) -> Any:
    """JSON from a file path, ``-`` (stdin) or inline text."""
    if value == "-":
        text, source = sys.stdin.read(), "standard input"
    elif value.lstrip().startswith(("{", "[")):
        text, source = value, what
    else:
        path = Path(value)
        try:
            text, source = path.read_text(encoding="utf-8"), str(path)
        except OSError as exc:
            _fail_input(f"cannot read {what} file {value}: {exc.strerror or exc}")
            raise
        if path.suffix in (".yaml", ".yml"):
            import yaml

            try:
                return yaml.safe_load(text)
            except yaml.YAMLError as exc:
                _fail_input(f"{source}: invalid YAML: {exc}")
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        _fail_input(f"{source}: invalid JSON at line {exc.lineno} column {exc.colno}: {exc.msg}")
        raise


def _store(database_url: str | None) -> ExecutionStore:
    from .sqlstore import SQLStore

    return SQLStore(database_url or DEFAULT_DATABASE_URL)


def _engine(store: ExecutionStore, connections: Path | None, live: bool) -> Engine:
    from .engine import Engine

    creds: dict[str, Any] = {}
    if connections is not None:
        data = _read_json_arg(str(connections), "connections")
        if not isinstance(data, dict):
            _fail_input(f"{connections}: expected a mapping of connection id to credentials")
        creds = data
    return Engine(store=store, connections=creds, on_step=_print_step if live else None)


def _print_step(execution: ExecutionRecord, step: StepRecord) -> None:
    if step.status == "running" and step.attempt <= 1:
        return
    what = f"{step.app}/{step.action}" if step.app else _structure(step)
    line = f" {STATUS_STYLE.get(step.status, step.status)} {step.key:<24} {what}"
    if step.started_at and step.completed_at:
        ms = (step.completed_at - step.started_at).total_seconds() * 1000
        line += f"  [dim]{ms:.0f} ms[/]"
    if step.status == "running":
        line += f"  [yellow]retrying (attempt {step.attempt})[/]"
    if step.error and step.status == "failed":
        line += f"\n     [red]{_escape(step.error)}[/]"
    out.print(line)


def _structure(step: StepRecord) -> str:
    """How a branch, paths or loop step is shown: what it chose or how often it ran."""
    data = (step.data_out or {}).get("data") or {}
    if "branches" in data:
        return "→ " + (", ".join(data["branches"]) or "no branch matched")
    if "count" in data:
        return f"loop × {data['count']}"
    return "loop"


def _escape(text: str) -> str:
    from rich.markup import escape

    return escape(text)


def _finish(
    execution: ExecutionRecord, as_json: bool, live: bool, message: str | None = None
) -> None:
    """Print the outcome (``message`` after the steps) and exit with the status's code."""
    if as_json:
        out.print_json(json.dumps(_public(execution), ensure_ascii=False))
    else:
        if not live:
            for step in execution.steps:
                _print_step(execution, step)
        if message:
            out.print(f"\n{_escape(message)}\n")
        _print_summary(execution)
    raise typer.Exit(
        {"completed": EXIT_OK, "waiting": EXIT_WAITING}.get(execution.status, EXIT_FAILED)
    )


def _public(execution: ExecutionRecord) -> dict[str, Any]:
    record = execution.to_public()
    return {
        "id": record["id"],
        "status": record["status"],
        "flow_name": record["flow_name"],
        "error": record["error"],
        "started_at": record["started_at"],
        "completed_at": record["completed_at"],
        "steps": [
            {
                "node_id": s["node_id"],
                "key": s["key"],
                "status": s["status"],
                "data_in": s["data_in"],
                "data_out": s["data_out"],
                "error": s["error"],
                "attempt": s["attempt"],
                "started_at": s["started_at"],
                "completed_at": s["completed_at"],
            }
            for s in record["steps"]
        ],
    }


def _print_summary(execution: ExecutionRecord) -> None:
    color = {"completed": "green", "waiting": "yellow"}.get(execution.status, "red")
    out.print(f"execution [bold]{execution.id}[/] [{color}]{execution.status}[/]")
    if execution.error:
        out.print(f"  {_escape(execution.error)}")
    for step in execution.steps:
        if step.status == "waiting":
            reason = step.wait.reason if step.wait else "waiting"
            hint = '{"decision": "approved"}' if reason == "approval" else "{}"
            out.print(
                f"  step [bold]{step.key}[/] waits ({reason}); resume it with:\n"
                f"  docg resume {execution.id} {step.key} --payload '{hint}'",
                markup=True,
            )


def create_app(*, extra_plugins: Sequence[object] = ()) -> typer.Typer:
    """The ``docg`` Typer application, with commands added by plugins (and ``extra_plugins``)."""
    app = typer.Typer(
        name="docg",
        help="DocG: workflows that turn data into documents.",
        no_args_is_help=True,
        pretty_exceptions_enable=False,
        add_completion=False,
    )

    @app.command()
    def run(
        flow: Annotated[Path, typer.Argument(help="Workflow file (.yaml or .json).")],
        trigger: Annotated[
            str | None,
            typer.Option(
                "--trigger", "-t", help="Trigger data: a JSON file, inline JSON, or - for stdin."
            ),
        ] = None,
        until_step: Annotated[
            str | None, typer.Option(help="Stop after this node (a test run).")
        ] = None,
        mock: Annotated[
            str | None,
            typer.Option(
                help="JSON file mapping node ids to outputs used instead of running them."
            ),
        ] = None,
        as_json: JsonOpt = False,
        database_url: DbOpt = None,
        connections: ConnOpt = None,
    ) -> None:
        """Run a workflow file. Exit 0 completed, 1 failed, 2 invalid input, 3 waiting."""
        from .workflow import Workflow

        trigger_data = _read_json_arg(trigger, "trigger") if trigger else {}
        mock_data = _read_json_arg(mock, "mock") if mock else None
        if mock_data is not None and not isinstance(mock_data, dict):
            _fail_input("--mock must be a JSON object mapping node ids to outputs")
        live = not as_json and out.is_terminal

        async def go() -> ExecutionRecord:
            workflow = Workflow.from_file(flow)
            store = _store(database_url)
            try:
                engine = _engine(store, connections, live)
                return await engine.run(
                    workflow, trigger_data, until_step=until_step, mock_data=mock_data
                )
            finally:
                await store.close()

        _finish(_run_async(go), as_json, live)

    @app.command()
    def resume(
        execution_id: Annotated[str, typer.Argument(help="The waiting execution.")],
        node_id: Annotated[str, typer.Argument(help="The waiting step (node id).")],
        payload: Annotated[
            str,
            typer.Option(help='Resume payload: JSON, a file or -, e.g. {"decision": "approved"}'),
        ] = "{}",
        as_json: JsonOpt = False,
        database_url: DbOpt = None,
        connections: ConnOpt = None,
    ) -> None:
        """Resume a waiting execution (an approval, a delay). Exit codes as for run."""
        data = _read_json_arg(payload, "payload")
        if not isinstance(data, dict):
            _fail_input("--payload must be a JSON object")
        live = not as_json and out.is_terminal

        async def go() -> ExecutionRecord:
            store = _store(database_url)
            try:
                return await _engine(store, connections, live).resume(execution_id, node_id, data)
            finally:
                await store.close()

        _finish(_run_async(go), as_json, live)

    @app.command("resume-due")
    def resume_due(database_url: DbOpt = None, connections: ConnOpt = None) -> None:
        """Resume executions whose delay has passed or whose approval expired (run it from cron)."""

        async def go() -> list[ExecutionRecord]:
            store = _store(database_url)
            try:
                return await _engine(store, connections, False).resume_due()
            finally:
                await store.close()

        resumed = _run_async(go)
        for execution in resumed:
            out.print(f"{execution.id} {execution.status}")
        out.print(f"{len(resumed)} execution(s) resumed")

    @app.command()
    def runs(
        execution_id: Annotated[
            str | None, typer.Argument(help="Show this execution's steps.")
        ] = None,
        status: Annotated[
            str | None, typer.Option(help="Only executions with this status.")
        ] = None,
        limit: Annotated[int, typer.Option(min=1, max=1000)] = 20,
        as_json: JsonOpt = False,
        database_url: DbOpt = None,
    ) -> None:
        """List recent executions, or show one with its steps."""

        async def go() -> list[ExecutionRecord]:
            store = _store(database_url)
            try:
                if execution_id:
                    return [await store.get_execution(execution_id)]
                return await store.list_executions(status=status, limit=limit)
            finally:
                await store.close()

        found = _run_async(go)
        if execution_id:
            execution = found[0]
            if as_json:
                out.print_json(json.dumps(_public(execution), ensure_ascii=False))
                return
            for step in execution.steps:
                _print_step(execution, step)
            _print_summary(execution)
            return
        if as_json:
            out.print_json(json.dumps([_public(e) for e in found], ensure_ascii=False))
            return
        table = Table("id", "workflow", "status", "started", "steps")
        for e in found:
            table.add_row(
                e.id,
                e.flow_name,
                e.status,
                e.started_at.isoformat(timespec="seconds"),
                str(len(e.steps)),
            )
        out.print(table)

    @app.command()
    def apps(
        app_key: Annotated[
            str | None, typer.Argument(help="Show this app's actions and arguments.")
        ] = None,
        as_json: Annotated[
            bool, typer.Option("--json", help="Print as JSON (with JSON Schemas).")
        ] = False,
    ) -> None:
        """List installed apps, or one app's actions, triggers and arguments."""
        from .plugins import get_registry

        registry = get_registry()
        if app_key is None:
            if as_json:
                out.print_json(json.dumps([a.to_dict() for a in registry.apps()]))
                return
            table = Table("app", "name", "actions", "triggers")
            for a in registry.apps():
                table.add_row(
                    a.key,
                    a.name,
                    ", ".join(x.key for x in a.actions),
                    ", ".join(t.key for t in a.triggers),
                )
            out.print(table)
            for name, reason in registry.broken.items():
                err.print(f"[yellow]warning:[/] plugin {name} not loaded: {_escape(reason)}")
            return
        try:
            found = registry.app(app_key)
        except DocgError as exc:
            _fail_input(str(exc))
            return
        if as_json:
            out.print_json(json.dumps(found.to_dict()))
            return
        out.print(f"[bold]{found.name}[/] ({found.key}) — {found.description}")
        for kind, items in (("action", found.actions), ("trigger", found.triggers)):
            for item in items:
                out.print(f"\n {kind} [bold]{item.key}[/]: {item.name}")
                if item.description:
                    out.print(f"   {_escape(item.description)}")
                for arg in item.arguments:
                    flag = " [red]*[/]" if arg.required else ""
                    out.print(f"   - {arg.key} ({arg.type.value}){flag}: {_escape(arg.label)}")

    @app.command()
    def validate(
        flow: Annotated[Path, typer.Argument(help="Workflow file (.yaml or .json).")],
    ) -> None:
        """Check a workflow file; exit 2 listing every problem."""
        from .plugins import get_registry
        from .validation import check_workflow
        from .workflow import Workflow

        try:
            workflow = Workflow.from_file(flow)
        except ValidationError as exc:
            _fail_input(exc.problems)
            return
        problems = check_workflow(workflow, get_registry())
        if problems:
            _fail_input(problems)
        out.print(
            f"[green]✓[/] {flow}: {workflow.name!r} is valid "
            f"({sum(1 for _ in workflow.iter_nodes())} nodes)"
        )

    @app.command()
    def demo(
        as_json: JsonOpt = False,
    ) -> None:
        """Run the bundled example: a service contract rendered to .docx and PDF (no network,
        nothing to configure; without docg-documents, a text-only example)."""
        from .engine import Engine
        from .plugins import get_registry
        from .storage import LocalStorage
        from .workflow import Workflow

        registry = get_registry()
        contract = "documents" in registry
        folder = _examples_dir() / ("contract" if contract else "demo")
        workflow = Workflow.from_file(folder / "workflow.yaml")
        trigger_data = json.loads((folder / "deal.json").read_text(encoding="utf-8"))
        notes = []
        if contract:
            _locate_demo_files(trigger_data, folder)
            if shutil.which("soffice") is None:
                trigger_data["formats"] = ["docx"]
                notes.append(
                    "LibreOffice is not installed, so no PDF this time "
                    "(apt-get install libreoffice-writer-nogui python3-uno)."
                )
        else:
            notes.append("Install docg-documents to see the contract demo (.docx and PDF).")
        live = not as_json and out.is_terminal
        if not as_json:
            out.print(f"Running [bold]{_escape(workflow.name)}[/] from {folder}\n")
        storage = LocalStorage(os.environ.get("DOCG_STORAGE_DIR") or "./docg-files")
        engine = Engine(registry=registry, storage=storage, on_step=_print_step if live else None)
        execution = _run_async(lambda: engine.run(workflow, trigger_data))
        message = "\n".join([*_demo_outputs(execution, storage), *notes]) or None
        _finish(execution, as_json, live, message)

    from .plugins import get_plugin_manager

    pm, _ = get_plugin_manager(extra=extra_plugins)
    for impl in pm.hook.docg_register_commands.get_hookimpls():
        try:
            impl.function(cli=app)
        except Exception as exc:  # a broken plugin must not break every command
            err.print(
                f"[yellow]warning:[/] plugin {impl.plugin_name} could not add its commands: "
                f"{_escape(repr(exc))}"
            )
    return app


def _locate_demo_files(trigger_data: dict[str, Any], folder: Path) -> None:
    """The demo's data names its templates and logo relative to its folder."""
    templates = trigger_data.get("templates", {})
    for name, path in templates.items():
        templates[name] = str(folder / path)
    logo = trigger_data.get("company", {}).get("logo")
    if isinstance(logo, dict) and isinstance(logo.get("image"), str):
        logo["image"] = str(folder / logo["image"])


def _demo_outputs(execution: ExecutionRecord, storage: Any) -> list[str]:
    """Where the demo's documents are, or its summary text."""
    lines = []
    for step in execution.steps:
        data = (step.data_out or {}).get("data") or {}
        if step.status != "success":
            continue
        for field in ("file_key", "pdf_key"):
            if data.get(field):
                pages = (
                    f" ({data['pages']} pages)" if field == "pdf_key" and data.get("pages") else ""
                )
                lines.append(f"{step.node_id}: {storage.path(data[field])}{pages}")
        if step.node_id == "summary" and "value" in data:
            lines.append(str(data["value"]))
    return lines


def _examples_dir() -> Path:
    bundled = Path(__file__).parent / "_examples"
    if bundled.is_dir():
        return bundled
    return Path(__file__).resolve().parents[3] / "docs" / "examples"


def main() -> None:
    """Entry point of the ``docg`` script."""
    if os.environ.get("NO_COLOR") is None and not sys.stdout.isatty():
        out.no_color = True
    create_app()()
