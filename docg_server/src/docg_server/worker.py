"""``docg worker``: run executions' steps from Temporal, and the runner the server uses.

A worker connects to ``TEMPORAL_ADDRESS`` (namespace ``TEMPORAL_NAMESPACE``), takes work from
the task queue ``TEMPORAL_TASK_QUEUE`` and runs it with the server's engine: the same
database, apps, file storage and connections as ``docg serve``. Start as many as the load
needs, on as many machines; SIGTERM (or Ctrl-C) stops taking work and lets running steps
finish for ``--grace`` seconds.

:func:`build_temporal_runner` is what the server's runtime uses instead of the inline runner
when ``TEMPORAL_ADDRESS`` is set.
"""

from __future__ import annotations

import asyncio
import logging
import signal
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from docg_core.engine import Engine
    from docg_core.runners import Runner

    from .config import Settings

__all__ = ["build_temporal_runner", "register", "worker"]

logger = logging.getLogger("docg.server.worker")


def build_temporal_runner(settings: Settings, engine: Engine) -> Runner:
    """A runner starting executions on Temporal (``TEMPORAL_ADDRESS`` must be set); it
    connects on first use. Requires ``docg-core[temporal]``."""
    if not settings.TEMPORAL_ADDRESS:
        raise ValueError("TEMPORAL_ADDRESS is not set; executions run inline without it")
    from docg_core.runners.temporal import TemporalRunner

    return TemporalRunner(
        engine,
        address=settings.TEMPORAL_ADDRESS,
        namespace=settings.TEMPORAL_NAMESPACE,
        task_queue=settings.TEMPORAL_TASK_QUEUE,
    )


def worker(
    max_activities: Annotated[
        int, typer.Option(min=1, help="Steps this worker runs at the same time.")
    ] = 100,
    max_workflows: Annotated[
        int, typer.Option(min=1, help="Workflow tasks this worker runs at the same time.")
    ] = 100,
    grace: Annotated[
        float, typer.Option(min=0, help="Seconds running steps get to finish on shutdown.")
    ] = 30.0,
) -> None:
    """Run executions from Temporal (TEMPORAL_ADDRESS) with the server's configuration."""
    from .config import SettingsError, get_settings

    try:
        settings = get_settings()
    except SettingsError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    if not settings.TEMPORAL_ADDRESS:
        typer.echo("error: TEMPORAL_ADDRESS is not set; set it to the Temporal frontend", err=True)
        raise typer.Exit(2)
    try:
        import temporalio  # noqa: F401
    except ImportError:
        typer.echo("error: install docg-core[temporal] to run a worker", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    asyncio.run(_serve(settings, max_activities, max_workflows, grace))


async def _serve(settings: Settings, max_activities: int, max_workflows: int, grace: float) -> None:
    from temporalio.client import Client

    from docg_core.plugins import get_registry
    from docg_core.runners.temporal import create_worker

    from .db import create_db_engine, session_factory
    from .runtime import Runtime
    from .storage import build_storage

    assert settings.TEMPORAL_ADDRESS is not None
    db = create_db_engine(settings.DATABASE_URL)
    runtime = Runtime(
        settings,
        registry=get_registry(),
        storage=build_storage(settings, base_url=settings.PUBLIC_URL),
        session_factory=session_factory(db),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    try:
        client = await Client.connect(
            settings.TEMPORAL_ADDRESS, namespace=settings.TEMPORAL_NAMESPACE
        )
        running = create_worker(
            client,
            runtime.engine,
            task_queue=settings.TEMPORAL_TASK_QUEUE,
            max_concurrent_activities=max_activities,
            max_concurrent_workflow_tasks=max_workflows,
            graceful_shutdown=grace,
        )
        async with running:
            logger.info(
                "worker on %s, namespace %s, task queue %s",
                settings.TEMPORAL_ADDRESS,
                settings.TEMPORAL_NAMESPACE,
                settings.TEMPORAL_TASK_QUEUE,
            )
            await stop.wait()
            logger.info("stopping: running steps get %.0fs to finish", grace)
    finally:
        await runtime.engine.storage.close()
        await runtime.store.close()
        db.dispose()


def register(cli: typer.Typer) -> None:
    """Add ``worker`` to the ``docg`` application ``cli``."""
    cli.command("worker")(worker)
