from __future__ import annotations

import pytest

from docg_server.billing import PLAN_LIMITS, Plan, PlanLimits, limits_for


def test_the_plan_table_matches_the_design() -> None:
    assert dict(PLAN_LIMITS) == {
        Plan.FREE: PlanLimits(users=1, documents_per_month=10, workflows=5),
        Plan.STARTER: PlanLimits(users=3, documents_per_month=50, workflows=5),
        Plan.PRO: PlanLimits(users=10, documents_per_month=200, workflows=20),
        Plan.TEAM: PlanLimits(users=None, documents_per_month=500, workflows=50),
        Plan.ENTERPRISE: PlanLimits(users=None, documents_per_month=None, workflows=None),
    }


def test_limits_for_accepts_the_plan_value() -> None:
    assert limits_for("pro") == PLAN_LIMITS[Plan.PRO]


def test_an_unknown_plan_is_an_error_listing_the_known_ones() -> None:
    with pytest.raises(ValueError, match=r"unknown plan 'gold'; known plans: free, starter"):
        limits_for("gold")


def test_the_plan_table_cannot_be_changed_at_run_time() -> None:
    with pytest.raises(TypeError):
        PLAN_LIMITS[Plan.FREE] = PlanLimits(users=99, documents_per_month=99, workflows=99)  # type: ignore[index]
