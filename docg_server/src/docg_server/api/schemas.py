"""Response and request bodies shared by several resources."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, ConfigDict

__all__ = ["OrganizationOut", "UserOut"]


class UserOut(BaseModel):
    """A user as the API shows it (never the password hash)."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    organization_id: uuid.UUID
    email: str
    name: str | None
    role: str
    created_at: datetime


class OrganizationOut(BaseModel):
    """An organization, its plan and usage; a limit of ``null`` is unlimited."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    plan: str
    documents_limit: int | None
    documents_used: int
    users_limit: int | None
    workflows_limit: int | None
    period_start: datetime
    created_at: datetime
    updated_at: datetime
