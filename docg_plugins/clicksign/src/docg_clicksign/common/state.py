"""Where an envelope stands: each signer's progress and the overall outcome.

The state always comes from the API (the envelope's status and its event list), never from
the callback that woke the step: callbacks can arrive late, twice or out of order, and the
API is the one authority. Outcomes:

- ``pending`` — still running; some signers may have signed already;
- ``signed`` — the envelope is closed and every signer signed;
- ``refused`` — a signer refused;
- ``expired`` — the deadline passed (ClickSign cancels it, or closes it with partial
  signatures);
- ``cancelled`` — cancelled by the sender.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .client import attributes_of

FINAL = ("signed", "refused", "expired", "cancelled")


@dataclass(frozen=True)
class EnvelopeState:
    """An envelope's ClickSign status, outcome and per-signer progress."""

    envelope_status: str
    outcome: str
    signers: list[dict[str, Any]]

    @property
    def final(self) -> bool:
        return self.outcome in FINAL

    def counts(self) -> dict[str, int]:
        """How many signers signed, refused, or are still pending."""
        statuses = [s["status"] for s in self.signers]
        return {k: statuses.count(k) for k in ("signed", "refused", "pending")}


def _event_signer(event: Mapping[str, Any]) -> Mapping[str, Any]:
    data = attributes_of(dict(event)).get("data")
    signer = data.get("signer") if isinstance(data, dict) else None
    return signer if isinstance(signer, dict) else {}


def _matches(recorded: Mapping[str, Any], signer: Mapping[str, Any]) -> bool:
    if signer.get("key") and signer.get("key") == recorded.get("id"):
        return True
    email = recorded.get("email")
    other = signer.get("email")
    return bool(email and isinstance(other, str) and other.lower() == str(email).lower())


def signer_progress(
    recorded: Sequence[Mapping[str, Any]], events: Sequence[Mapping[str, Any]]
) -> list[dict[str, Any]]:
    """Each recorded signer with ``status`` (pending | signed | refused) and when."""
    progress = [
        {**dict(s), "status": "pending", "signed_at": None, "refused_at": None} for s in recorded
    ]
    for event in events:
        attributes = attributes_of(dict(event))
        name = attributes.get("name")
        if name not in ("sign", "refusal"):
            continue
        when = attributes.get("created") or attributes.get("occurred_at")
        signer = _event_signer(event)
        for entry in progress:
            if not _matches(entry, signer) or entry["status"] != "pending":
                continue
            if name == "sign":
                entry["status"], entry["signed_at"] = "signed", when
            else:
                entry["status"], entry["refused_at"] = "refused", when
    return progress


def envelope_state(
    envelope: Mapping[str, Any],
    events: Sequence[Mapping[str, Any]],
    recorded_signers: Sequence[Mapping[str, Any]],
) -> EnvelopeState:
    """The outcome of an envelope from its resource and its event list."""
    status = str(attributes_of(dict(envelope)).get("status") or "unknown")
    signers = signer_progress(recorded_signers, events)
    names = {attributes_of(dict(e)).get("name") for e in events}
    all_signed = bool(signers) and all(s["status"] == "signed" for s in signers)
    if status == "closed" and all_signed:
        outcome = "signed"
    elif any(s["status"] == "refused" for s in signers) or "refusal" in names:
        outcome = "refused"
    elif status == "closed":
        outcome = "expired"  # closed at the deadline with only some signatures
    elif status == "canceled":
        outcome = "expired" if "deadline" in names else "cancelled"
    else:
        outcome = "pending"
    return EnvelopeState(status, outcome, signers)
