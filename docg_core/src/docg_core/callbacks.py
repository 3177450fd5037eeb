"""Inbound HTTP from vendors: webhooks that start a workflow and callbacks that resume one.

A server receives the request and hands the plugin an :class:`InboundRequest` (headers with
lower-case names, the raw body, the query and the full URL, exactly as received). Two hooks:

- :meth:`docg_core.apps.BaseTrigger.verify_request` — a webhook trigger checks the request's
  signature before a run starts (HubSpot's ``X-HubSpot-Signature-v3``).
- :meth:`docg_core.apps.BaseApp.parse_callback` then :meth:`~docg_core.apps.BaseApp.verify_callback`
  — a vendor reports on something a waiting step started (an e-signature envelope). The
  server parses the untrusted body only to find the waiting step (by ``resume_token``), loads
  that step's connection, and acts only once ``verify_callback`` accepts the signature with
  those credentials. ``event_id`` lets the server apply a redelivered event once.

Both raise :class:`CallbackRejected` for a request that must not be acted on; the server
answers 401 and changes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .errors import DocgError

__all__ = ["CallbackEvent", "CallbackRejected", "InboundRequest"]


class CallbackRejected(DocgError):
    """The request is not authentic (bad or missing signature, stale timestamp) or unusable."""


@dataclass(frozen=True)
class InboundRequest:
    """An HTTP request as received; ``headers`` keys are lower-case."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes
    query: Mapping[str, str] = field(default_factory=dict)

    def header(self, name: str) -> str | None:
        """A header's value by case-insensitive name."""
        return self.headers.get(name.lower())

    def json(self) -> Any:
        """The body parsed as JSON; :class:`CallbackRejected` if it is not JSON."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise CallbackRejected("the request body is not JSON") from None


@dataclass(frozen=True)
class CallbackEvent:
    """What a vendor callback means for one waiting step.

    :param resume_token: the ``resume_token`` the step's :meth:`ActionResult.wait` set.
    :param payload: passed to the action's ``resume`` (which may wait again for a later event).
    :param event_id: the vendor's id of this delivery, for at-most-once processing.
    """

    resume_token: str
    payload: dict[str, Any]
    event_id: str | None = None
