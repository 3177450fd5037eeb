"""Plugin loading and the :class:`Registry` of apps.

Built-in apps are registered on the same plugin manager as any installed plugin. Installed
plugins come from the ``docg.apps`` entry point group; ``DOCG_PLUGINS`` restricts which load
(unset: all; empty: none; ``a,b``: only the entry points named ``a`` and ``b``). A plugin
that fails to import or whose hook raises is reported in ``Registry.broken`` and skipped.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable, Iterable, Mapping
from difflib import get_close_matches
from importlib import metadata
from typing import Any

import pluggy

from . import hookspecs
from .apps import BaseAction, BaseApp, BaseTrigger
from .errors import PluginError

__all__ = ["ENTRY_POINT_GROUP", "Registry", "get_plugin_manager", "get_registry"]

ENTRY_POINT_GROUP = "docg.apps"
logger = logging.getLogger("docg.plugins")


def _wanted_plugins(names: Iterable[str] | None) -> set[str] | None:
    if names is not None:
        return set(names)
    env = os.environ.get("DOCG_PLUGINS")
    if env is None:
        return None
    return {n.strip() for n in env.split(",") if n.strip()}


def get_plugin_manager(
    *, plugins: Iterable[str] | None = None, extra: Iterable[object] = ()
) -> tuple[pluggy.PluginManager, dict[str, str]]:
    """A new plugin manager with the built-ins, the wanted entry points and ``extra`` objects.

    ``plugins`` overrides ``DOCG_PLUGINS``. Returns the manager and the plugins that failed to
    load (name → reason).
    """
    from . import builtin

    pm = pluggy.PluginManager("docg")
    pm.add_hookspecs(hookspecs)
    pm.register(builtin, name="docg-builtin")
    broken: dict[str, str] = {}
    wanted = _wanted_plugins(plugins)
    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        if wanted is not None and ep.name not in wanted:
            continue
        if pm.get_plugin(ep.name) is not None:
            continue
        try:
            pm.register(ep.load(), name=ep.name)
        except Exception as exc:  # a broken plugin must never stop the others
            broken[ep.name] = f"failed to load {ep.value}: {type(exc).__name__}: {exc}"
            logger.warning("plugin %s skipped: %s", ep.name, broken[ep.name])
    for obj in extra:
        pm.register(obj)
    return pm, broken


class Registry:
    """The apps available to an engine, by key. Build one with :func:`get_registry`."""

    def __init__(self, pm: pluggy.PluginManager, broken: dict[str, str] | None = None) -> None:
        self.plugin_manager = pm
        self.broken: dict[str, str] = dict(broken or {})
        self._apps: dict[str, BaseApp] = {}
        self._owner: dict[str, str] = {}
        self.template_filters: dict[str, Callable[..., Any]] = {}
        for impl in pm.hook.docg_apps.get_hookimpls():
            self._add_apps(impl.plugin_name, impl.function)
        for impl in pm.hook.docg_template_filters.get_hookimpls():
            try:
                filters = impl.function()
                if not isinstance(filters, Mapping):
                    raise TypeError(f"expected a mapping of name to function, got {filters!r}")
                self.template_filters.update(filters)
            except Exception as exc:
                self._report(impl.plugin_name, f"docg_template_filters failed: {exc!r}")

    def _report(self, plugin: str, reason: str) -> None:
        self.broken[plugin] = reason
        logger.warning("plugin %s skipped: %s", plugin, reason)

    def _add_apps(self, plugin: str, hook: Callable[[], object]) -> None:
        try:
            classes: list[object] = list(hook())  # type: ignore[call-overload]
        except Exception as exc:
            self._report(plugin, f"docg_apps failed: {type(exc).__name__}: {exc}")
            return
        for cls in classes:
            if not (isinstance(cls, type) and issubclass(cls, BaseApp)):
                self._report(plugin, f"docg_apps returned {cls!r}, not a BaseApp subclass")
                continue
            key = getattr(cls, "key", None)
            if not key or not getattr(cls, "name", None):
                self._report(plugin, f"app class {cls.__name__} has no key or name")
                continue
            if key in self._apps:
                self._report(
                    plugin, f"app key {key!r} is already provided by plugin {self._owner[key]!r}"
                )
                continue
            self._apps[key] = cls()
            self._owner[key] = plugin

    def __contains__(self, key: object) -> bool:
        return key in self._apps

    def apps(self) -> list[BaseApp]:
        """Every app, sorted by key."""
        return [self._apps[k] for k in sorted(self._apps)]

    def app(self, key: str) -> BaseApp:
        """The app with this key; :class:`PluginError` (with a suggestion) if unknown."""
        try:
            return self._apps[key]
        except KeyError:
            raise PluginError(f"unknown app {key!r}{_suggest(key, self._apps)}") from None

    def action(self, app_key: str, action_key: str) -> type[BaseAction]:
        """The action class ``app_key`` / ``action_key``; :class:`PluginError` if unknown."""
        app = self.app(app_key)
        action = app.action(action_key)
        if action is None:
            keys = [a.key for a in app.actions]
            raise PluginError(
                f"app {app_key!r} has no action {action_key!r}{_suggest(action_key, keys)}"
            )
        return action

    def trigger(self, app_key: str, trigger_key: str) -> type[BaseTrigger]:
        """The trigger class ``app_key`` / ``trigger_key``; :class:`PluginError` if unknown."""
        app = self.app(app_key)
        trigger = app.trigger(trigger_key)
        if trigger is None:
            keys = [t.key for t in app.triggers]
            raise PluginError(
                f"app {app_key!r} has no trigger {trigger_key!r}{_suggest(trigger_key, keys)}"
            )
        return trigger

    def plugin_of(self, app_key: str) -> str:
        """The name of the plugin that provides the app."""
        self.app(app_key)
        return self._owner[app_key]


def _suggest(word: str, choices: Iterable[str]) -> str:
    choices = list(choices)
    close = get_close_matches(word, choices, n=1)
    if close:
        return f" (did you mean {close[0]!r}?)"
    if choices:
        return f" (available: {', '.join(sorted(choices))})"
    return ""


def get_registry(*, plugins: Iterable[str] | None = None, extra: Iterable[object] = ()) -> Registry:
    """A new registry: built-in apps, installed plugins (see ``DOCG_PLUGINS``) and ``extra``
    plugin objects (modules or instances with ``@hookimpl`` functions)."""
    pm, broken = get_plugin_manager(plugins=plugins, extra=extra)
    return Registry(pm, broken)
