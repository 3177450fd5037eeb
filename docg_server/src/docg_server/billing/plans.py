"""The plan table, as code: users, documents per billing period and workflows per plan.

``None`` means unlimited. An organization copies its plan's limits into its own columns
(:meth:`docg_server.models.Organization.apply_plan`), so a contract can raise one customer's
limit without a new plan.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType

__all__ = ["PLAN_LIMITS", "Plan", "PlanLimits", "limits_for"]


class Plan(StrEnum):
    FREE = "free"
    STARTER = "starter"
    PRO = "pro"
    TEAM = "team"
    ENTERPRISE = "enterprise"


@dataclass(frozen=True, slots=True)
class PlanLimits:
    """A plan's limits; ``None`` is unlimited."""

    users: int | None
    documents_per_month: int | None
    workflows: int | None


PLAN_LIMITS: Mapping[Plan, PlanLimits] = MappingProxyType(
    {
        Plan.FREE: PlanLimits(users=1, documents_per_month=10, workflows=5),
        Plan.STARTER: PlanLimits(users=3, documents_per_month=50, workflows=5),
        Plan.PRO: PlanLimits(users=10, documents_per_month=200, workflows=20),
        Plan.TEAM: PlanLimits(users=None, documents_per_month=500, workflows=50),
        Plan.ENTERPRISE: PlanLimits(users=None, documents_per_month=None, workflows=None),
    }
)


def limits_for(plan: str) -> PlanLimits:
    """The limits of ``plan`` (a :class:`Plan` or its value); unknown plans are an error."""
    try:
        return PLAN_LIMITS[Plan(plan)]
    except ValueError:
        known = ", ".join(p.value for p in Plan)
        raise ValueError(f"unknown plan {plan!r}; known plans: {known}") from None
