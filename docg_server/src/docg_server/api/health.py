"""``/healthz`` (the process answers) and ``/readyz`` (and can reach its database)."""

from __future__ import annotations

import logging

import sqlalchemy as sa
from fastapi import APIRouter, Request
from pydantic import BaseModel
from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from ..errors import HTTPProblem, problem_responses

__all__ = ["router"]

logger = logging.getLogger("docg.server")

router = APIRouter(tags=["health"])


class Health(BaseModel):
    status: str = "ok"


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up (for liveness probes; touches nothing else)."""
    return Health()


@router.get("/readyz", response_model=Health, responses=problem_responses(503))
def readyz(request: Request) -> Health:
    """The database answers; 503 problem otherwise (for readiness probes)."""
    engine: Engine = request.app.state.engine
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("SELECT 1"))
    except SQLAlchemyError as exc:
        # The class name only: a driver's message can include the URL's host and user.
        logger.warning("readiness check failed: database unreachable (%s)", type(exc).__name__)
        raise HTTPProblem(503, "the database is unreachable") from None
    return Health()
