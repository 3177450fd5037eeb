"""PriceTable: plans ↔ Stripe prices, both directions, refusing ambiguous tables."""

from __future__ import annotations

import pytest

from docg_stripe import PriceTable


def test_each_plan_maps_to_its_price_and_back() -> None:
    table = PriceTable({"starter": "price_s", "pro": "price_p", "team": None})

    assert (table.price_for("pro"), table.plan_for("price_s")) == ("price_p", "starter")
    assert table.plans == ["starter", "pro"]
    assert (table.price_for("team"), table.plan_for("price_unknown"), table.plan_for(None)) == (
        None,
        None,
        None,
    )


def test_one_price_for_two_plans_is_refused() -> None:
    with pytest.raises(ValueError, match="each plan needs its own price"):
        PriceTable({"pro": "price_x", "team": "price_x"})


def test_the_free_plan_cannot_be_sold() -> None:
    with pytest.raises(ValueError, match="free plan"):
        PriceTable({"free": "price_free"})
