"""Key rotation: re-encrypt every connection's credentials under the newest key.

``ENCRYPTION_KEY`` lists keys newest first; every key decrypts, the first encrypts. After a
new key is put first, :func:`rotate_credentials` walks ``data_source_connections`` in id
order, ``batch_size`` rows at a time, one transaction per batch:

- a row already under the newest key is skipped (so a second run does nothing);
- any other row is decrypted and encrypted again under the newest key, bound to its id as
  before; the write only happens if the row still holds the token that was read, so a
  concurrent API update is never overwritten (that row is counted as skipped);
- a row no configured key opens is reported by id and left as it is; the run goes on.

``updated_at`` and ``credentials_version`` are left alone: the credentials are the same, so
a token refresh racing the rotation must not be refused. Nothing decrypted is ever logged or
printed.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

import sqlalchemy as sa
from sqlalchemy.orm import Session, sessionmaker

from .crypto import DecryptionError, KeyRing
from .models import DataSourceConnection

__all__ = ["DEFAULT_BATCH_SIZE", "RotationFailure", "RotationReport", "rotate_credentials"]

DEFAULT_BATCH_SIZE = 200


@dataclass(frozen=True)
class RotationFailure:
    """A row that could not be re-encrypted, and why (never any key or credential)."""

    connection_id: uuid.UUID
    reason: str


@dataclass
class RotationReport:
    """Counts so far; :func:`rotate_credentials` passes it after each batch."""

    kid: str
    batches: int = 0
    rotated: int = 0
    skipped: int = 0
    failed: list[RotationFailure] = field(default_factory=list)

    @property
    def seen(self) -> int:
        return self.rotated + self.skipped + len(self.failed)


def _rotate_batch(
    session: Session, keyring: KeyRing, after: uuid.UUID | None, size: int, report: RotationReport
) -> uuid.UUID | None:
    """Rotate the next ``size`` rows after id ``after``; the last id seen (None: no rows)."""
    query = sa.select(DataSourceConnection.id, DataSourceConnection.credentials)
    if after is not None:
        query = query.where(DataSourceConnection.id > after)
    rows = session.execute(query.order_by(DataSourceConnection.id).limit(size)).all()
    for connection_id, token in rows:
        try:
            if not keyring.needs_rotation(token):
                report.skipped += 1
                continue
            fresh = keyring.reencrypt(token, str(connection_id))
        except DecryptionError as exc:
            report.failed.append(RotationFailure(connection_id, str(exc)))
            continue
        written = session.execute(
            sa.update(DataSourceConnection)
            .where(DataSourceConnection.id == connection_id)
            .where(DataSourceConnection.credentials == token)
            # Set to itself so the column's onupdate does not fire.
            .values(credentials=fresh, updated_at=DataSourceConnection.updated_at)
            .execution_options(synchronize_session=False)
        )
        if written.rowcount == 1:  # type: ignore[attr-defined]
            report.rotated += 1
        else:  # replaced through the API meanwhile, hence already under the newest key
            report.skipped += 1
    return rows[-1][0] if rows else None


def rotate_credentials(
    factory: sessionmaker[Session],
    keyring: KeyRing,
    *,
    batch_size: int = DEFAULT_BATCH_SIZE,
    on_batch: Callable[[RotationReport], None] | None = None,
) -> RotationReport:
    """Re-encrypt every connection's credentials under ``keyring``'s newest key."""
    if batch_size < 1:
        raise ValueError("batch_size must be at least 1")
    report = RotationReport(kid=keyring.primary_kid)
    after: uuid.UUID | None = None
    while True:
        with factory() as session:
            last = _rotate_batch(session, keyring, after, batch_size, report)
            session.commit()
        if last is None:
            return report
        after = last
        report.batches += 1
        if on_batch is not None:
            on_batch(report)
