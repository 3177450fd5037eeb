"""Plans and their limits (enforcement comes with the REST API)."""

from __future__ import annotations

from .plans import PLAN_LIMITS, Plan, PlanLimits, limits_for

__all__ = ["PLAN_LIMITS", "Plan", "PlanLimits", "limits_for"]
