"""How to work on DocG: `nox -l` lists the sessions, `nox -s NAME` runs one.

Sessions install the repository's distributions in editable mode into their own virtualenv.
"""

from __future__ import annotations

import os
from pathlib import Path

import nox

nox.options.sessions = ["lint", "typecheck", "tests"]
nox.options.reuse_existing_virtualenvs = True
nox.options.error_on_missing_interpreters = False

ROOT = Path(__file__).parent
DISTRIBUTIONS = [
    "docg_core",
    "docg_plugins/documents",
    "docg_plugins/hubspot",
    "docg_plugins/clicksign",
    "docg_plugins/zapsign",
    "docg_plugins/ai",
    "docg_plugins/stripe",
    "docg_server",
]
TEST_DEPS = [
    "pytest>=8",
    "pytest-asyncio>=0.24",
    "pytest-socket>=0.7",
    "hypothesis>=6.100",
    "jsonschema>=4.20",
    "respx>=0.21",
    "hatchling>=1.21",
    "moto[server]>=5",
    "python-docx>=1.1",
    "schemathesis>=4.32",
]
PYTHON = os.environ.get("DOCG_PYTHON") or None  # default: the interpreter running nox


def _install(session: nox.Session, *extras: str) -> None:
    core = f"docg_core[{','.join(extras)}]" if extras else "docg_core"
    session.install(*(arg for dist in [core, *DISTRIBUTIONS[1:]] for arg in ("-e", dist)))


@nox.session(python=PYTHON)
def tests(session: nox.Session) -> None:
    """Run the test suite (SQLite; PostgreSQL tests too when DOCG_TEST_DATABASE_URL is set)."""
    _install(session, "postgres", "s3", "temporal")
    session.install(*TEST_DEPS)
    session.run("pytest", *session.posargs)


@nox.session(python=PYTHON)
def tests_postgres(session: nox.Session) -> None:
    """Run only the PostgreSQL tests (needs DOCG_TEST_DATABASE_URL)."""
    if not os.environ.get("DOCG_TEST_DATABASE_URL"):
        session.error(
            "set DOCG_TEST_DATABASE_URL, e.g. postgresql+psycopg://postgres@127.0.0.1:5432/docg_test"
        )
    _install(session, "postgres", "s3", "temporal")
    session.install(*TEST_DEPS)
    session.run("pytest", "-m", "postgres", *session.posargs)


@nox.session(python=PYTHON)
def lint(session: nox.Session) -> None:
    """Check style and common bugs with ruff (lint and format)."""
    session.install("ruff>=0.6")
    session.run("ruff", "check", ".")
    session.run("ruff", "format", "--check", ".")


@nox.session(python=PYTHON)
def typecheck(session: nox.Session) -> None:
    """Type-check docg_core, the plugins and the server with mypy --strict."""
    _install(session, "testing", "s3", "temporal")
    session.install("mypy>=1.10", "types-PyYAML", "types-jsonschema")
    session.run("mypy")


@nox.session(python=PYTHON)
def demo(session: nox.Session) -> None:
    """Run the demo workflow on embedded defaults (in-memory store, no network)."""
    _install(session)
    session.run("docg", "demo", *session.posargs)


@nox.session(python=PYTHON)
def bench(session: nox.Session) -> None:
    """Run every benchmark in tests/benchmarks; each prints its figures and ratio to a baseline."""
    _install(session, "postgres", "temporal")
    session.install("pytest>=8")
    scripts = sorted((ROOT / "tests" / "benchmarks").glob("bench_*.py"))
    wanted = set(session.posargs)
    for script in scripts:
        if wanted and script.stem.removeprefix("bench_") not in wanted:
            continue
        session.run("python", str(script))
