"""The server's execution store, telling run event streams when an execution changes.

:class:`NotifyingStore` notifies the :class:`~.notifier.RunNotifier` after every write a
stream shows: a step record (including a running record the engine writes late, once the
step has run for ``running_record_delay``), and an execution's own status — waiting,
resumed, completed, failed, cancelled —, so a stream ends as soon as its run has finished.
"""

from __future__ import annotations

from sqlalchemy.engine import URL

from docg_core.records import ExecutionRecord, StepRecord
from docg_core.sqlstore import SQLStore

from .notifier import RunNotifier

__all__ = ["NotifyingStore"]


class NotifyingStore(SQLStore):
    """:class:`~docg_core.sqlstore.SQLStore` that calls ``notifier.notify`` after each write
    of a step or of an execution's status."""

    def __init__(
        self, url: str | URL, *, notifier: RunNotifier, create_tables: bool = True
    ) -> None:
        super().__init__(url, create_tables=create_tables)
        self.notifier = notifier

    async def create_execution(self, execution: ExecutionRecord) -> None:
        await super().create_execution(execution)
        self.notifier.notify(execution.id)

    async def save_step(self, execution_id: str, step: StepRecord) -> None:
        try:
            await super().save_step(execution_id, step)
        finally:
            self.notifier.notify(execution_id)

    async def update_execution(self, execution: ExecutionRecord) -> None:
        try:
            await super().update_execution(execution)
        finally:
            self.notifier.notify(execution.id)

    async def claim_waiting_step(self, execution_id: str, step_key: str) -> bool:
        claimed = await super().claim_waiting_step(execution_id, step_key)
        if claimed:
            self.notifier.notify(execution_id)
        return claimed
