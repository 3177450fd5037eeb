"""Plugin loading: built-ins, entry points, DOCG_PLUGINS, broken plugins reported by name."""

from __future__ import annotations

from collections.abc import Sequence
from importlib import metadata

import pytest

from docg_core import hookimpl
from docg_core.apps import BaseAction, BaseApp
from docg_core.errors import PluginError
from docg_core.plugins import ENTRY_POINT_GROUP, get_registry

BUILTIN = {"approval", "delay", "formatter", "http", "manual", "schedule", "stop", "webhook"}


class Hello(BaseAction):
    key = "hello"
    name = "Hello"


class HelloApp(BaseApp):
    key = "hello"
    name = "Hello"
    actions = (Hello,)


def test_builtin_apps_are_registered_like_any_plugin() -> None:
    registry = get_registry()
    assert {a.key for a in registry.apps()} == BUILTIN
    assert {registry.plugin_of(k) for k in BUILTIN} == {"docg-builtin"}


def test_registry_looks_up_apps_actions_and_triggers() -> None:
    registry = get_registry()
    assert registry.action("formatter", "text").key == "text"
    assert registry.trigger("schedule", "cron").key == "cron"
    with pytest.raises(
        PluginError, match="unknown app 'formater' \\(did you mean 'formatter'\\?\\)"
    ):
        registry.app("formater")
    with pytest.raises(PluginError, match=r"no action 'txt'.*did you mean 'text'"):
        registry.action("formatter", "txt")
    with pytest.raises(PluginError, match="no trigger"):
        registry.trigger("manual", "nope")


def test_extra_plugin_objects_add_apps() -> None:
    class Plugin:
        @hookimpl
        def docg_apps(self) -> Sequence[type[BaseApp]]:
            return [HelloApp]

    registry = get_registry(extra=[Plugin()])
    assert registry.action("hello", "hello") is Hello


def test_a_plugin_whose_hook_raises_is_reported_and_skipped() -> None:
    class Broken:
        @hookimpl
        def docg_apps(self) -> Sequence[type[BaseApp]]:
            raise RuntimeError("missing API key at import")

    registry = get_registry(extra=[Broken()])
    assert {a.key for a in registry.apps()} >= BUILTIN
    assert any("missing API key at import" in reason for reason in registry.broken.values())


def test_a_plugin_returning_something_else_than_apps_is_reported() -> None:
    class Odd:
        @hookimpl
        def docg_apps(self) -> Sequence[object]:
            return ["not an app"]

    registry = get_registry(extra=[Odd()])
    assert any("not a BaseApp subclass" in r for r in registry.broken.values())


def test_a_duplicate_app_key_is_reported_with_both_plugins() -> None:
    class Clash(BaseApp):
        key = "formatter"
        name = "Other formatter"

    class Plugin:
        @hookimpl
        def docg_apps(self) -> Sequence[type[BaseApp]]:
            return [Clash]

    registry = get_registry(extra=[Plugin()])
    assert registry.app("formatter").name == "Formatter"
    assert any("already provided by plugin 'docg-builtin'" in r for r in registry.broken.values())


def test_template_filters_are_collected_from_plugins() -> None:
    class Filters:
        @hookimpl
        def docg_template_filters(self) -> dict[str, object]:
            return {"shout": lambda v: str(v).upper()}

    registry = get_registry(extra=[Filters()])
    assert registry.template_filters["shout"]("a") == "A"


def _fake_entry_points(monkeypatch: pytest.MonkeyPatch, *points: tuple[str, str]) -> None:
    eps = [metadata.EntryPoint(name, value, ENTRY_POINT_GROUP) for name, value in points]

    def entry_points(*, group: str) -> list[metadata.EntryPoint]:
        return eps if group == ENTRY_POINT_GROUP else []

    monkeypatch.setattr("docg_core.plugins.metadata.entry_points", entry_points)


HELLO_MODULE = "support.hello_plugin"


def test_entry_points_load_unless_docg_plugins_excludes_them(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_entry_points(monkeypatch, ("hello", HELLO_MODULE))
    monkeypatch.delenv("DOCG_PLUGINS")
    assert "hello" in get_registry()
    monkeypatch.setenv("DOCG_PLUGINS", "")
    assert "hello" not in get_registry()
    monkeypatch.setenv("DOCG_PLUGINS", "other, hello")
    assert "hello" in get_registry()
    assert "hello" not in get_registry(plugins=[])


def test_an_entry_point_that_fails_to_import_is_reported_by_name(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    _fake_entry_points(monkeypatch, ("ghost", "no_such_module_xyz"), ("hello", HELLO_MODULE))
    registry = get_registry(plugins=["ghost", "hello"])
    assert "hello" in registry
    assert "ModuleNotFoundError" in registry.broken["ghost"]
