"""A worker process for the crash test: ``python crash_worker.py ADDRESS QUEUE DB_URL FILES``.

Runs the test apps with a SQL store and local files, prints ``ready`` once it polls, and runs
until it is killed.
"""

from __future__ import annotations

import asyncio
import sys

from support.apps import TestPlugin
from temporal.apps import TemporalTestPlugin
from temporalio.client import Client

from docg_core.engine import Engine
from docg_core.plugins import get_registry
from docg_core.runners.temporal import create_worker
from docg_core.sqlstore import SQLStore
from docg_core.storage import LocalStorage


async def main(address: str, task_queue: str, database_url: str, files: str) -> None:
    engine = Engine(
        registry=get_registry(extra=[TestPlugin(), TemporalTestPlugin()]),
        store=SQLStore(database_url),
        storage=LocalStorage(files),
        env_allowlist=(),
    )
    client = await Client.connect(address)
    async with create_worker(client, engine, task_queue=task_queue, heartbeat_every=0.5):
        print("ready", flush=True)
        await asyncio.Event().wait()


if __name__ == "__main__":
    asyncio.run(main(*sys.argv[1:5]))
