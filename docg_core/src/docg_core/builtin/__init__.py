"""Built-in apps, registered on the plugin manager like any installed plugin."""

from __future__ import annotations

from collections.abc import Sequence

from ..apps import BaseApp
from ..hookspecs import hookimpl


@hookimpl
def docg_apps() -> Sequence[type[BaseApp]]:
    from .approval import ApprovalApp
    from .delay import DelayApp
    from .formatter import FormatterApp
    from .http import HttpApp
    from .schedule import ScheduleApp
    from .stop import StopApp
    from .triggers import ManualApp, WebhookApp

    return [
        ManualApp,
        WebhookApp,
        ScheduleApp,
        ApprovalApp,
        DelayApp,
        HttpApp,
        FormatterApp,
        StopApp,
    ]
