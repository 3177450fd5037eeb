"""The 3-step flow the engine, temporal and api benchmarks all run (webhook → formatter →
formatter), and its trigger data: one definition, so their figures stay comparable."""

from __future__ import annotations

from typing import Any

FLOW_DOCUMENT: dict[str, Any] = {
    "name": "bench",
    "trigger": {"app": "webhook", "key": "catch-hook"},
    "nodes": [
        {
            "id": "name",
            "app": "formatter",
            "action": "text",
            "parameters": {"transform": "upper", "input": "{{trigger.deal.name}}"},
        },
        {
            "id": "amount",
            "app": "formatter",
            "action": "number",
            "parameters": {
                "transform": "format",
                "input": "{{trigger.deal.amount}}",
                "locale": "en-US",
                "decimals": 2,
            },
        },
    ],
}
TRIGGER: dict[str, Any] = {"deal": {"name": "acme renewal", "amount": 18450.9}}
