"""DocG HubSpot app: CRM records, associations, files and notes, webhooks and polling.

Registered through the ``docg.apps`` entry point (``hubspot = "docg_hubspot"``). Besides the
app, this package offers what a server needs for HubSpot: :func:`refresh_access_token`, the
signature checks of :mod:`docg_hubspot.signatures` and the custom workflow action helpers of
:mod:`docg_hubspot.workflow_actions`.
"""

from __future__ import annotations

from collections.abc import Sequence

from docg_core import hookimpl
from docg_core.apps import BaseApp

from .auth import refresh_access_token

__all__ = ["docg_apps", "refresh_access_token"]


@hookimpl
def docg_apps() -> Sequence[type[BaseApp]]:
    """The HubSpot app."""
    from .app import HubSpotApp

    return [HubSpotApp]
