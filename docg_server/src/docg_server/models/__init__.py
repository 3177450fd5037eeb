"""The server's tables (SQLAlchemy 2 typed models); :data:`metadata` is what Alembic migrates."""

from __future__ import annotations

from .auth import LoginAttempt, RefreshToken
from .base import Base, TimestampedBase, UTCDateTime
from .connection import ConnectionStatus, DataSourceConnection
from .document import GeneratedDocument, Template
from .engine import ENGINE_TABLES
from .event import ProcessedEvent
from .invitation import INVITABLE_ROLES, Invitation
from .oauth import OAuthState
from .organization import Organization, Role, User
from .workflow import (
    AIGenerationMapping,
    StructuralType,
    TriggerType,
    Workflow,
    WorkflowNode,
    WorkflowStatus,
)

metadata = Base.metadata

__all__ = [
    "ENGINE_TABLES",
    "INVITABLE_ROLES",
    "AIGenerationMapping",
    "Base",
    "ConnectionStatus",
    "DataSourceConnection",
    "GeneratedDocument",
    "Invitation",
    "LoginAttempt",
    "OAuthState",
    "Organization",
    "ProcessedEvent",
    "RefreshToken",
    "Role",
    "StructuralType",
    "Template",
    "TimestampedBase",
    "TriggerType",
    "UTCDateTime",
    "User",
    "Workflow",
    "WorkflowNode",
    "WorkflowStatus",
    "metadata",
]
