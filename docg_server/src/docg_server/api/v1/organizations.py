"""``/api/v1/organizations``: the caller's own organization (there is no way to name another)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from ...errors import problem_responses
from ...models import Role, User
from ..deps import CurrentOrg, SessionDep, require_role
from ..schemas import OrganizationOut

__all__ = ["router"]

router = APIRouter(
    prefix="/organizations", tags=["organizations"], responses=problem_responses(401)
)

OrgAdmin = Annotated[User, Depends(require_role(Role.OWNER, Role.ADMIN))]


class OrganizationUpdate(BaseModel):
    """What an owner or admin may change; plan and limits change only through billing."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    name: str = Field(min_length=1, max_length=200)


@router.get("/me", response_model=OrganizationOut)
def get_my_organization(org: CurrentOrg) -> OrganizationOut:
    """The organization of the signed-in user."""
    return OrganizationOut.model_validate(org)


@router.put(
    "/me",
    response_model=OrganizationOut,
    responses=problem_responses(403, 422),
)
def update_my_organization(
    body: OrganizationUpdate, session: SessionDep, org: CurrentOrg, _admin: OrgAdmin
) -> OrganizationOut:
    """Rename the organization (owners and admins only; members get 403)."""
    org.name = body.name
    session.commit()
    return OrganizationOut.model_validate(org)
