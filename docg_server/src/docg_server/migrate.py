"""Schema migrations (Alembic) with the configuration built in code, so they run when installed.

Used by ``docg db upgrade|downgrade|revision``. The engine's execution tables (``docg_*`` of
:mod:`docg_core.sqlstore`) are part of the server's schema (:mod:`docg_server.models.engine`)
since revision 0003, which adopts them when the engine created them first.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa
from alembic import command
from alembic.autogenerate.api import AutogenContext
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy.dialects import postgresql
from sqlalchemy.engine import URL
from sqlalchemy.schema import SchemaItem

from docg_core.sqlstore import _UTCDateTime as EngineUTCDateTime

from .models.base import UTCDateTime

__all__ = [
    "MIGRATIONS_DIR",
    "alembic_config",
    "downgrade",
    "include_object",
    "render_item",
    "revision",
    "upgrade",
]

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
ENGINE_TABLE_PREFIX = "docg_"


def alembic_config(url: str | URL) -> Config:
    """An Alembic configuration for the server's migrations against ``url``."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("file_template", "%%(rev)s_%%(slug)s")
    # Passed as an attribute, not an ini option: '%' in a password would break interpolation.
    config.attributes["url"] = url
    return config


def upgrade(url: str | URL, revision: str = "head") -> None:
    """Migrate the database at ``url`` up to ``revision``."""
    command.upgrade(alembic_config(url), revision)


def downgrade(url: str | URL, revision: str) -> None:
    """Migrate the database at ``url`` down to ``revision`` (``base`` drops every table)."""
    command.downgrade(alembic_config(url), revision)


def revision(url: str | URL, message: str, *, autogenerate: bool = True) -> Path:
    """Write a new revision comparing the models with the database at ``url`` (at head).

    Revision ids are sequential (``0002``, ``0003``...) so files sort in migration order.
    Returns the new file's path; review it before committing.
    """
    config = alembic_config(url)
    script = ScriptDirectory.from_config(config)
    numbers = [int(rev.revision) for rev in script.walk_revisions() if rev.revision.isdigit()]
    rev_id = f"{max(numbers, default=0) + 1:04d}"
    created = command.revision(config, message=message, autogenerate=autogenerate, rev_id=rev_id)
    if isinstance(created, list):  # only with several heads, which this project never has
        created = created[0]
    if created is None or created.path is None:
        raise RuntimeError("alembic did not write a revision")
    return Path(created.path)


def include_object(
    obj: SchemaItem, name: str | None, type_: str, reflected: bool, compare_to: Any
) -> bool:
    """Leave the engine's ``docg_*`` tables (not in our metadata) out of autogenerate."""
    return not (type_ == "table" and reflected and compare_to is None and _is_engine_table(name))


def _is_engine_table(name: str | None) -> bool:
    return bool(name and name.startswith(ENGINE_TABLE_PREFIX))


def render_item(type_: str, obj: Any, autogen_context: AutogenContext) -> str | Literal[False]:
    """Render our column types as plain SQLAlchemy types, so migrations never import models."""
    if type_ != "type":
        return False
    if isinstance(obj, UTCDateTime | EngineUTCDateTime):
        return "sa.DateTime(timezone=True)"
    if isinstance(obj, sa.JSON) and not isinstance(obj, postgresql.JSONB):
        # Alembic's own rendering of the JSONB variant refers to an unimported Text().
        autogen_context.imports.add("from sqlalchemy.dialects import postgresql")
        return (
            "sa.JSON(none_as_null=True)"
            ".with_variant(postgresql.JSONB(none_as_null=True), 'postgresql')"
        )
    return False
