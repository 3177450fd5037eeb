"""The engine's execution tables (:mod:`docg_core.sqlstore`), owned by the server's migrations.

The server's runs are the engine's records: :class:`docg_core.sqlstore.SQLStore` reads and
writes these tables in the server's own database (``create_tables=False``), so a run started
by one server process can be resumed by another and survives a restart. The tables are copied
into the server's metadata so Alembic creates and checks them like the server's own.
"""

from __future__ import annotations

import sqlalchemy as sa

from docg_core.sqlstore import metadata as engine_metadata

from .base import Base

__all__ = ["ENGINE_TABLES", "datastore", "dedupe_keys", "executions", "steps"]

ENGINE_TABLES: dict[str, sa.Table] = {
    table.name: table.to_metadata(Base.metadata) for table in engine_metadata.sorted_tables
}
executions = ENGINE_TABLES["docg_executions"]
steps = ENGINE_TABLES["docg_steps"]
dedupe_keys = ENGINE_TABLES["docg_dedupe_keys"]
datastore = ENGINE_TABLES["docg_datastore"]
