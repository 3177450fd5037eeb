"""``docg template ...``: inspect and repair templates from the command line."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Annotated

import typer

template_cli = typer.Typer(
    name="template",
    help="Inspect and repair document templates (.docx, .pptx, .html, .md).",
    no_args_is_help=True,
)


@template_cli.command("inspect")
def inspect(
    path: Annotated[Path, typer.Argument(help="The template file.")],
    as_json: Annotated[bool, typer.Option("--json", help="Print the report as JSON.")] = False,
) -> None:
    """List a template's variables, loops and images; exit 2 listing its syntax errors."""
    from .templating import inspect_template

    if not path.is_file():
        typer.echo(f"error: no such file: {path}", err=True)
        raise typer.Exit(2)
    info = inspect_template(path)
    if as_json:
        typer.echo(json.dumps(dataclasses.asdict(info), ensure_ascii=False, indent=2))
    else:
        for title, items in (
            ("variables", info.variables),
            ("loops", info.loops),
            ("images", info.images),
        ):
            typer.echo(f"{title}: {', '.join(items) if items else '(none)'}")
        for problem in info.errors:
            typer.echo(f"error: {problem.location}: {problem.message} in {problem.tag!r}", err=True)
    raise typer.Exit(0 if info.ok else 2)


@template_cli.command("repair")
def repair(
    path: Annotated[Path, typer.Argument(help="The .docx template.")],
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Where to write the repaired file.")
    ],
) -> None:
    """Merge tags Word split across runs and straighten smart quotes in tags (.docx)."""
    from .templating import repair_docx

    if path.suffix.lower() != ".docx" or not path.is_file():
        typer.echo(f"error: expected an existing .docx file, got {path}", err=True)
        raise typer.Exit(2)
    output.write_bytes(repair_docx(path.read_bytes()))
    typer.echo(f"wrote {output}")
