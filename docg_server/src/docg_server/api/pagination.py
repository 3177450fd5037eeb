"""Cursor pagination shared by every list: newest first by ``(created_at, id)``.

A cursor is the position of the last row of a page, base64url-encoded JSON; clients treat it
as opaque. Anything that is not a cursor this API returned answers 422 ``validation-error``
naming the ``cursor`` query parameter.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime

from ..errors import HTTPProblem

__all__ = ["decode_cursor", "encode_cursor"]


def encode_cursor(created_at: datetime, ident: uuid.UUID) -> str:
    """An opaque cursor for the row after which the next page starts."""
    raw = json.dumps([created_at.isoformat(), str(ident)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    """The ``(created_at, id)`` a cursor from :func:`encode_cursor` names; 422 otherwise."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, ident = json.loads(raw)
        when = datetime.fromisoformat(created)
        if when.tzinfo is None:
            raise ValueError("naive")
        return when, uuid.UUID(ident)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise HTTPProblem(
            422,
            "the cursor is not one this API returned; start again without it",
            slug="validation-error",
            title="Your request is not valid",
            extensions={
                "errors": [
                    {
                        "location": "query",
                        "field": "cursor",
                        "message": "not a cursor returned by this API",
                        "code": "invalid_cursor",
                    }
                ]
            },
        ) from None
