"""Which Stripe price buys which plan: :class:`PriceTable`, both directions."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import MappingProxyType

__all__ = ["FREE_PLAN", "PriceTable"]

FREE_PLAN = "free"
"""The plan an organization without a paying subscription is on."""


class PriceTable:
    """Plan names ↔ Stripe price ids (``price_...``), e.g. ``{"pro": "price_1Pro"}``.

    A price may buy one plan only; the free plan is never sold.
    """

    def __init__(self, prices: Mapping[str, str | None]) -> None:
        by_plan: dict[str, str] = {}
        by_price: dict[str, str] = {}
        for plan, price in prices.items():
            if not price:
                continue
            if plan == FREE_PLAN:
                raise ValueError("the free plan cannot have a Stripe price")
            if price in by_price:
                raise ValueError(
                    f"the Stripe price {price!r} is given to both {by_price[price]!r} "
                    f"and {plan!r}; each plan needs its own price"
                )
            by_plan[plan] = price
            by_price[price] = plan
        self._by_plan: Mapping[str, str] = MappingProxyType(by_plan)
        self._by_price: Mapping[str, str] = MappingProxyType(by_price)

    def price_for(self, plan: str) -> str | None:
        """The price id that buys ``plan``; None when it is not sold."""
        return self._by_plan.get(plan)

    def plan_for(self, price: str | None) -> str | None:
        """The plan ``price`` buys; None for a price this table does not know."""
        return self._by_price.get(price) if price else None

    @property
    def plans(self) -> list[str]:
        """The plans that can be bought, in the order given."""
        return list(self._by_plan)

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return iter(self._by_plan.items())

    def __len__(self) -> int:
        return len(self._by_plan)
