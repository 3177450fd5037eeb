"""Helpers for testing actions and plugins without a workflow or a server.

- :func:`run_action` runs one action as the engine would (validated parameters, a real
  context, ``ctx.http`` on a fake transport).
- :class:`AppConformance` is the plugin conformance kit: a base test class that every
  plugin's tests subclass (``class TestAcme(AppConformance): app = AcmeApp``) to get the
  checks every app must pass — complete metadata, valid JSON Schema, existing dynamic-data
  sources, registration through a registry, secrets masked in step records, idempotent
  retries and correct error mapping.

This module never imports pytest: :func:`run_action` works anywhere ``docg-core`` is
installed. ``AppConformance`` is written for pytest (its ``test_*`` methods are collected in
subclasses named ``Test*``) and imports pytest only inside a test that must skip or fail, so
importing this module costs nothing to code that does not test. The JSON Schema check needs
``jsonschema`` (imported when that test runs).
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple, NoReturn

import httpx

from ._http import http_factory
from .apps import (
    ActionArgument,
    ActionResult,
    ArgumentType,
    BaseAction,
    BaseApp,
    BaseTrigger,
    validate_arguments,
)
from .context import AppInfo, ExecutionInfo, FlowInfo, StepInfo, build_context
from .errors import RetryableError, StepError, ValidationError
from .hookspecs import hookimpl
from .retry import classify_error
from .storage import LocalStorage, Storage
from .store import ExecutionStore, InMemoryStore

if TYPE_CHECKING:
    from .plugins import Registry
    from .records import ExecutionRecord, StepRecord

__all__ = ["AppConformance", "ErrorCase", "run_action"]


async def run_action(
    app: BaseApp,
    action: type[BaseAction],
    parameters: Mapping[str, Any],
    *,
    auth: Mapping[str, Any] | None = None,
    trigger_output: Any = None,
    action_output: Mapping[str, Any] | None = None,
    transport: httpx.AsyncBaseTransport | None = None,
    store: ExecutionStore | None = None,
    storage: Storage | None = None,
    template_filters: Mapping[str, Callable[..., Any]] | None = None,
    execution_id: str | None = None,
    organization_id: str | None = None,
    node_id: str = "step",
    attempt: int = 1,
) -> ActionResult:
    """Validate ``parameters`` (already resolved) and run one action as the engine would.

    ``transport`` replaces the network for ``ctx.http`` (e.g. ``httpx.MockTransport(fake)``).
    Two calls with the same ``execution_id``, ``node_id`` and ``store`` see the same
    ``ctx.step.idempotency_key`` and datastore: that is how the engine retries a step
    (``attempt`` is the retry number the action sees in ``ctx.step.attempt``).
    """
    execution_id = execution_id or str(uuid.uuid4())
    params = validate_arguments(action.arguments, parameters, node_id=node_id)
    ctx = build_context(
        store=store or InMemoryStore(),
        app=AppInfo(app.key, app.name),
        flow=FlowInfo(None, "test"),
        step=StepInfo(
            id=node_id,
            key=node_id,
            app=app.key,
            action=action.key,
            parameters=params,
            idempotency_key=f"{execution_id}:{node_id}",
            attempt=attempt,
        ),
        execution=ExecutionInfo(execution_id, test_run=True, organization_id=organization_id),
        auth=auth,
        trigger_output=trigger_output,
        action_output=action_output,
        storage=storage,
        template_filters=template_filters,
        http_factory=http_factory(app, transport=transport),
    )
    try:
        return await action().run(ctx)
    finally:
        await ctx.aclose()


# --------------------------------------------------------------------------- conformance kit


class ErrorCase(NamedTuple):
    """One entry of :attr:`AppConformance.error_cases`: run ``action`` with ``parameters``
    (against the class's fake transport) and expect it to fail, retryably or not."""

    action: str
    parameters: Mapping[str, Any]
    retryable: bool


# App keys are used in URLs, workflow files and entry point names.
_SLUG = re.compile(r"^[a-z][a-z0-9]*(?:-[a-z0-9]+)*$")
_STEP = "step"
_CONNECTION = "conformance"


class _AppPlugin:
    """A pluggy plugin object providing one app, as a plugin module would."""

    def __init__(self, app: type[BaseApp]) -> None:
        self._app = app

    @hookimpl
    def docg_apps(self) -> Sequence[type[BaseApp]]:
        return [self._app]


async def _no_sleep(seconds: float) -> None:
    """The engine's retry backoff, skipped: conformance runs must not wait."""


def _skip(reason: str) -> NoReturn:
    import pytest

    pytest.skip(reason)


def _fail_if(problems: Sequence[str], what: str) -> None:
    if problems:
        import pytest

        pytest.fail(f"{what}:\n- " + "\n- ".join(problems), pytrace=False)


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def _depends_on(argument: ActionArgument) -> list[str]:
    deps = argument.depends_on
    if not deps:
        return []
    return [deps] if isinstance(deps, str) else list(deps)


class AppConformance:
    """Base test class of the plugin conformance kit; subclass it once per app::

        from docg_core.testing import AppConformance
        from docg_greetings.app import GreetingsApp

        class TestGreetings(AppConformance):
            app = GreetingsApp
            samples = {"greet": {"name": "Ana", "language": "pt"}}

    Every ``test_*`` method is a check the app gets for free; a check with nothing to check
    (no samples, no transport, no secret argument...) skips with the reason, never passes
    empty. Configure it with class attributes (or override the ``make_*`` methods when a value
    must be built per test, such as a template file or a stateful fake):

    - :attr:`app` (required): the app class.
    - :attr:`samples`: valid parameters per action key for the behavioural checks.
    - :attr:`auth_sample`: the credentials of a sample connection, given to every run.
    - :attr:`transport`: an ``httpx`` transport (a vendor fake) replacing the network.
    - :attr:`volatile_fields`: paths in the result ``data`` that may differ between a run and
      its retry (``"generated_at"``, ``"lineage.generated_at"``).
    - :attr:`error_cases`: :class:`ErrorCase` entries, each an action run expected to fail.
    - :attr:`http_error_statuses`: the statuses the generic error-mapping check answers.
    - :attr:`entry_point`: the plugin's ``docg.apps`` entry point name, checked when installed.

    The helpers (:meth:`run_sample`, :meth:`retry_sample`, :meth:`run_in_engine`,
    :meth:`make_storage`...) are public: use them in the plugin's own tests. Test methods are
    synchronous (they run the async helpers with ``asyncio.run``), so the kit works with or
    without pytest-asyncio. State (store, storage, transport) is per test; a subclass that
    defines ``teardown_method`` must call ``super().teardown_method(method)``.
    """

    app: ClassVar[type[BaseApp]]
    samples: ClassVar[Mapping[str, Mapping[str, Any]]] = {}
    auth_sample: ClassVar[Mapping[str, Any] | None] = None
    transport: ClassVar[httpx.AsyncBaseTransport | None] = None
    volatile_fields: ClassVar[frozenset[str]] = frozenset()
    error_cases: ClassVar[Sequence[ErrorCase]] = ()
    http_error_statuses: ClassVar[Mapping[int, bool]] = {400: False, 429: True, 503: True}
    entry_point: ClassVar[str | None] = None

    # -- configuration hooks (override for per-test values) --------------------------------

    def make_app(self) -> BaseApp:
        """The app instance the checks run (default: ``self.app()``)."""
        try:
            app_class = type(self).app
        except AttributeError:
            raise TypeError(
                f"{type(self).__name__} must set `app = <your BaseApp subclass>`"
            ) from None
        return app_class()

    def make_samples(self) -> Mapping[str, Mapping[str, Any]]:
        """Sample parameters per action key (default: :attr:`samples`); called once per test.

        Override it when a sample needs a file or a value made at run time.
        """
        return self.samples

    def make_transport(self) -> httpx.AsyncBaseTransport | None:
        """The transport of ``ctx.http`` (default: :attr:`transport`); called once per test,
        so a stateful fake returned here sees a run and its retry."""
        return self.transport

    def make_storage(self, directory: str | Path | None = None) -> Storage:
        """A :class:`LocalStorage` in ``directory``, or in a temporary directory removed when
        the test ends."""
        if directory is None:
            directory = tempfile.mkdtemp(prefix="docg-conformance-")
            self._state().setdefault("tmpdirs", []).append(directory)
        # A fixed signing secret: a run and its retry sign the same URL.
        return LocalStorage(directory, secret="conformance-secret")  # noqa: S106

    def teardown_method(self, method: object) -> None:
        """Remove the temporary directories of :meth:`make_storage`."""
        state = self.__dict__.pop("_conformance", {})
        for directory in state.get("tmpdirs", []):
            shutil.rmtree(directory, ignore_errors=True)

    # -- per-test state ---------------------------------------------------------------------

    def _state(self) -> dict[str, Any]:
        state: dict[str, Any] = self.__dict__.setdefault("_conformance", {})
        return state

    def _cached(self, name: str, factory: Callable[[], Any]) -> Any:
        state = self._state()
        if name not in state:
            state[name] = factory()
        return state[name]

    @property
    def store(self) -> ExecutionStore:
        """This test's execution store (datastore included), shared by every run of the test."""
        store: ExecutionStore = self._cached("store", InMemoryStore)
        return store

    @property
    def storage(self) -> Storage:
        """This test's file storage (from :meth:`make_storage`), shared by every run."""
        storage: Storage = self._cached("storage", self.make_storage)
        return storage

    @property
    def http_transport(self) -> httpx.AsyncBaseTransport | None:
        """This test's transport (from :meth:`make_transport`), shared by every run."""
        transport: httpx.AsyncBaseTransport | None = self._cached("transport", self.make_transport)
        return transport

    @property
    def sample_set(self) -> Mapping[str, Mapping[str, Any]]:
        """This test's samples (from :meth:`make_samples`)."""
        samples: Mapping[str, Mapping[str, Any]] = self._cached("samples", self.make_samples)
        return samples

    # -- helpers ----------------------------------------------------------------------------

    def action_class(self, action_key: str) -> type[BaseAction]:
        """The app's action ``action_key``; ``LookupError`` naming the keys if unknown."""
        app = self.make_app()
        action = app.action(action_key)
        if action is None:
            keys = ", ".join(a.key for a in app.actions) or "none"
            raise LookupError(f"app {app.key!r} has no action {action_key!r} (actions: {keys})")
        return action

    def sample_parameters(self, action_key: str, **overrides: Any) -> dict[str, Any]:
        """The sample of ``action_key`` with ``overrides`` applied; ``LookupError`` if the
        action has no sample."""
        samples = self.sample_set
        if action_key not in samples:
            raise LookupError(f"no sample for action {action_key!r}: add it to `samples`")
        return {**samples[action_key], **overrides}

    def sampled_actions(self) -> list[type[BaseAction]]:
        """The app's actions that have a sample, in declaration order."""
        samples = self.sample_set
        return [a for a in self.make_app().actions if a.key in samples]

    async def run_with(
        self,
        action_key: str,
        parameters: Mapping[str, Any],
        *,
        execution_id: str | None = None,
        node_id: str = _STEP,
        attempt: int = 1,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> ActionResult:
        """Run one action with :func:`run_action` on this test's store, storage, transport
        (``transport`` replaces it for this run) and :attr:`auth_sample`."""
        return await run_action(
            self.make_app(),
            self.action_class(action_key),
            parameters,
            auth=self.auth_sample,
            transport=transport if transport is not None else self.http_transport,
            store=self.store,
            storage=self.storage,
            execution_id=execution_id,
            node_id=node_id,
            attempt=attempt,
        )

    async def run_sample(self, action_key: str, /, **overrides: Any) -> ActionResult:
        """Run the sample of ``action_key`` (with ``overrides``) in a new execution."""
        return await self.run_with(action_key, self.sample_parameters(action_key, **overrides))

    async def retry_sample(
        self, action_key: str, /, **overrides: Any
    ) -> tuple[ActionResult, ActionResult]:
        """Run the sample twice as the engine runs a step and its retry: the same execution
        id and node id (so the same ``ctx.step.idempotency_key``), store and storage; the
        second run sees ``ctx.step.attempt == 2``."""
        parameters = self.sample_parameters(action_key, **overrides)
        execution_id = str(uuid.uuid4())
        first = await self.run_with(action_key, parameters, execution_id=execution_id)
        second = await self.run_with(action_key, parameters, execution_id=execution_id, attempt=2)
        return first, second

    def registry(self) -> Registry:
        """A registry with the built-ins and this app (no installed plugin): the app is added
        through a plugin object, as its plugin module would add it."""
        from .plugins import get_registry

        app_class = type(self.make_app())
        builtins = get_registry(plugins=[])
        if app_class.key in builtins and type(builtins.app(app_class.key)) is app_class:
            return builtins
        return get_registry(plugins=[], extra=[_AppPlugin(app_class)])

    async def run_in_engine(
        self, action_key: str, parameters: Mapping[str, Any]
    ) -> ExecutionRecord:
        """Run the action as the only node (id ``"step"``) of a manual workflow through a real
        :class:`~docg_core.engine.Engine` (fresh in-memory store, this test's storage and
        transport, a connection with :attr:`auth_sample` if set, retries without waiting).
        Returns the execution as stored."""
        from .engine import Engine
        from .workflow import Workflow

        node: dict[str, Any] = {
            "id": _STEP,
            "app": self.make_app().key,
            "action": action_key,
            "parameters": dict(parameters),
        }
        connections: dict[str, Mapping[str, Any]] = {}
        if self.auth_sample is not None:
            node["connection"] = _CONNECTION
            connections[_CONNECTION] = self.auth_sample
        workflow = Workflow.model_validate(
            {
                "name": f"conformance {self.make_app().key}/{action_key}",
                "trigger": {"app": "manual", "key": "manual"},
                "nodes": [node],
            }
        )
        store = InMemoryStore()
        engine = Engine(
            registry=self.registry(),
            store=store,
            connections=connections,
            http_transport=self.http_transport,
            storage=self.storage,
            sleep=_no_sleep,
            env_allowlist=(),
        )
        execution = await engine.run(workflow, {})
        return await store.get_execution(execution.id)

    async def _retry_with_files(
        self, action_key: str
    ) -> tuple[ActionResult, set[str] | None, ActionResult]:
        parameters = self.sample_parameters(action_key)
        execution_id = str(uuid.uuid4())
        first = await self.run_with(action_key, parameters, execution_id=execution_id)
        files = self.stored_files()
        second = await self.run_with(action_key, parameters, execution_id=execution_id, attempt=2)
        return first, files, second

    def comparable(self, data: Any) -> Any:
        """``data`` without the :attr:`volatile_fields` (dotted paths into nested objects)."""
        return _without(data, [f.split(".") for f in self.volatile_fields])

    def stored_files(self) -> set[str] | None:
        """The keys of the files in this test's storage, or None if it is not a
        :class:`LocalStorage` (then files cannot be listed)."""
        storage = self.storage
        if not isinstance(storage, LocalStorage):
            return None
        root = storage.root
        return {
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and not p.name.startswith(".docg-")
        }

    async def error_of(
        self, action_key: str, parameters: Mapping[str, Any], **kw: Any
    ) -> StepError:
        """Run the action and return the step error the engine would record (the exception
        mapped by :func:`~docg_core.retry.classify_error`); ``AssertionError`` if it succeeds.
        ``kw`` goes to :meth:`run_with`."""
        try:
            result = await self.run_with(action_key, parameters, **kw)
        except ValidationError as exc:
            return StepError(str(exc), code="invalid")
        except Exception as exc:
            return classify_error(exc)
        raise AssertionError(f"{action_key} succeeded with data {result.data!r}; expected an error")

    # -- metadata problems (public: reuse them in your own assertions) ----------------------

    def components(self) -> Iterator[tuple[str, type[BaseAction] | type[BaseTrigger]]]:
        """``("action <key>", cls)`` and ``("trigger <key>", cls)`` for each action and trigger."""
        app = self.make_app()
        for action in app.actions:
            yield f"action {getattr(action, 'key', action.__name__)!r}", action
        for trigger in app.triggers:
            yield f"trigger {getattr(trigger, 'key', trigger.__name__)!r}", trigger

    def argument_lists(self) -> Iterator[tuple[str, Sequence[ActionArgument]]]:
        """Every argument list of the app: each action's, each trigger's, the auth form's."""
        for where, component in self.components():
            yield where, component.arguments
        app = self.make_app()
        if app.auth is not None:
            yield "connection form", app.auth.fields

    def metadata_problems(self) -> list[str]:
        """What is missing or wrong in the app's declarative metadata (see the guide)."""
        app = self.make_app()
        problems: list[str] = []
        key = getattr(app, "key", "")
        if not isinstance(key, str) or not key:
            problems.append("app: `key` is empty")
        elif not _SLUG.match(key):
            problems.append(f"app: key {key!r} is not a lowercase slug (a-z, 0-9, hyphens)")
        if not getattr(app, "name", ""):
            problems.append("app: `name` is empty")
        kinds: list[tuple[str, Sequence[type[Any]]]] = [
            ("action", app.actions),
            ("trigger", app.triggers),
            ("dynamic data", app.dynamic_data),
        ]
        for kind, classes in kinds:
            seen: set[str] = set()
            for cls in classes:
                ckey = getattr(cls, "key", "")
                label = f"{kind} {ckey or cls.__name__!r}"
                for attribute in ("key", "name", "description"):
                    value = getattr(cls, attribute, "")
                    if not isinstance(value, str) or not value.strip():
                        problems.append(f"{label}: `{attribute}` is empty")
                if ckey in seen:
                    problems.append(f"{label}: key used by another {kind} of the app")
                seen.add(ckey)
        for where, arguments in self.argument_lists():
            seen = set()
            for arg in arguments:
                label = f"{where}, argument {arg.key or '?'!r}"
                if not arg.key:
                    problems.append(f"{label}: `key` is empty")
                if not arg.label:
                    problems.append(f"{label}: `label` is empty")
                if arg.key in seen:
                    problems.append(f"{label}: key used twice")
                seen.add(arg.key)
                declared: object = arg.type  # typed as ArgumentType; a plugin may pass a str
                if not isinstance(declared, ArgumentType):
                    problems.append(f"{label}: type {declared!r} is not an ArgumentType")
                if arg.type is ArgumentType.DROPDOWN and not arg.options and arg.source is None:
                    problems.append(f"{label}: a DROPDOWN needs `options` or a `source`")
        return problems

    def required_default_problems(self) -> list[str]:
        """Required arguments with a default: the default always fills them, so ``required``
        never fails — drop the default, or make the argument optional."""
        return [
            f"{where}, argument {arg.key!r}: required with default {arg.default!r}"
            for where, arguments in self.argument_lists()
            for arg in arguments
            if arg.required and not _is_empty(arg.default)
        ]

    def reference_problems(self) -> tuple[int, list[str]]:
        """(references checked, problems) for ``source=DynamicData(...)`` and ``depends_on``."""
        app = self.make_app()
        sources = {d.key for d in app.dynamic_data}
        checked = 0
        problems: list[str] = []
        for where, arguments in self.argument_lists():
            keys = {a.key for a in arguments}
            for arg in arguments:
                label = f"{where}, argument {arg.key!r}"
                if arg.source is not None:
                    checked += 1
                    if arg.source.key not in sources:
                        known = ", ".join(sorted(sources)) or "none"
                        problems.append(
                            f"{label}: source DynamicData({arg.source.key!r}) is not in the "
                            f"app's dynamic_data (sources: {known})"
                        )
                for dep in _depends_on(arg):
                    checked += 1
                    if dep == arg.key:
                        problems.append(f"{label}: depends on itself")
                    elif dep not in keys:
                        problems.append(f"{label}: depends_on {dep!r} is not an argument here")
        return checked, problems

    def schema_problems(self) -> list[str]:
        """Invalid JSON Schemas (Draft 2020-12), defaults their own schema rejects, and
        ``to_dict()`` output that is not JSON."""
        validators: Any = importlib.import_module("jsonschema")
        draft = validators.Draft202012Validator
        problems: list[str] = []
        schemas: list[tuple[str, dict[str, Any]]] = [
            (where, component.json_schema()) for where, component in self.components()
        ]
        app = self.make_app()
        if app.auth is not None:
            schemas.append(("connection form", app.auth.to_dict()["fields"]))
        for where, schema in schemas:
            try:
                draft.check_schema(schema)
            except validators.SchemaError as exc:
                problems.append(f"{where}: invalid JSON Schema: {exc.message}")
                continue
            for name, prop in schema.get("properties", {}).items():
                default = prop.get("default")
                if default is None:
                    continue
                errors = [e.message for e in draft(prop).iter_errors(default)]
                if errors:
                    problems.append(
                        f"{where}, argument {name!r}: default {default!r} fails its own "
                        f"schema: {errors[0]}"
                    )
        try:
            json.dumps(app.to_dict())
        except (TypeError, ValueError) as exc:
            problems.append(f"app.to_dict() is not JSON-serialisable: {exc}")
        return problems

    # -- the checks -------------------------------------------------------------------------

    def test_metadata_is_complete(self) -> None:
        """App key/name, every action/trigger/dynamic-data key, name and description, unique
        keys, argument keys/labels/types, dropdowns with options or a source."""
        _fail_if(self.metadata_problems(), "incomplete metadata")

    def test_required_arguments_have_no_default(self) -> None:
        """A required argument with a default can never be missing: the flag is pointless."""
        _fail_if(self.required_default_problems(), "required arguments with a default")

    def test_arguments_export_as_valid_json_schema(self) -> None:
        """Each action's and trigger's arguments (and the connection form) are a valid Draft
        2020-12 schema, defaults pass their own schema, ``app.to_dict()`` is JSON."""
        try:
            importlib.import_module("jsonschema")
        except ImportError:
            _skip("jsonschema is not installed (pip install jsonschema)")
        _fail_if(self.schema_problems(), "JSON Schema export")

    def test_dynamic_data_sources_and_dependencies_exist(self) -> None:
        """Every ``DynamicData(key)`` is in ``app.dynamic_data``; every ``depends_on`` names
        another argument of the same action or trigger."""
        checked, problems = self.reference_problems()
        if not checked:
            _skip("no argument has a dynamic-data source or depends_on")
        _fail_if(problems, "dynamic data references")

    def test_app_registers_through_a_registry(self) -> None:
        """``get_registry(extra=[plugin])`` provides the app, with nothing broken."""
        app_class = type(self.make_app())
        registry = self.registry()
        assert registry.broken == {}, f"broken plugins: {registry.broken}"
        assert app_class.key in registry, f"app {app_class.key!r} not in the registry"
        assert type(registry.app(app_class.key)) is app_class

    def test_entry_point_loads_the_app(self) -> None:
        """With :attr:`entry_point` set and the distribution installed, loading only that
        entry point provides the app."""
        if self.entry_point is None:
            _skip("no entry_point set")
        from importlib import metadata

        from .plugins import ENTRY_POINT_GROUP, get_registry

        names = {ep.name for ep in metadata.entry_points(group=ENTRY_POINT_GROUP)}
        if self.entry_point not in names:
            _skip(f"entry point {self.entry_point!r} is not installed")
        registry = get_registry(plugins=[self.entry_point])
        assert registry.broken == {}, f"broken plugins: {registry.broken}"
        key = self.make_app().key
        assert key in registry, f"entry point {self.entry_point!r} does not provide {key!r}"

    def test_secrets_are_masked_in_data_in(self) -> None:
        """Secret argument values (from the samples) and the sample connection's secret fields
        never appear in the recorded step (``data_in``, ``data_out``, ``error``)."""
        app = self.make_app()
        auth_secrets: list[str] = []
        if self.auth_sample is not None and app.auth is not None:
            auth_secrets = [
                str(v)
                for k, v in self.auth_sample.items()
                if k in app.auth.secret_keys and not _is_empty(v)
            ]
        cases: list[tuple[str, list[str]]] = []
        for action in self.sampled_actions():
            params = self.sample_parameters(action.key)
            secrets = [
                str(params[a.key])
                for a in action.arguments
                if a.secret and not _is_empty(params.get(a.key))
            ]
            if secrets or auth_secrets:
                cases.append((action.key, secrets + auth_secrets))
        if not cases:
            _skip("no sampled action has a secret argument, and no auth_sample with secrets")

        async def check() -> list[str]:
            problems: list[str] = []
            for action_key, secrets in cases:
                execution = await self.run_in_engine(action_key, self.sample_parameters(action_key))
                step = execution.step(_STEP)
                if step is None or step.data_in is None:
                    problems.append(f"{action_key}: the engine recorded no data_in")
                    continue
                problems += _leaks(action_key, step, secrets)
            return problems

        _fail_if(asyncio.run(check()), "secrets recorded in clear")

    def test_retried_actions_are_idempotent(self) -> None:
        """A sample run twice with the same idempotency key returns the same ``data`` (less
        :attr:`volatile_fields`) and writes no new file the second time."""
        actions = self.sampled_actions()
        if not actions:
            _skip("no samples: set `samples = {action_key: {...}}`")

        async def check() -> list[str]:
            problems: list[str] = []
            for action in actions:
                first, files, second = await self._retry_with_files(action.key)
                if self.comparable(second.data) != self.comparable(first.data):
                    problems.append(
                        f"{action.key}: the retry returned {second.data!r}, "
                        f"the first run {first.data!r}"
                    )
                after = self.stored_files()
                if files is not None and after is not None and after != files:
                    problems.append(
                        f"{action.key}: the retry wrote new files {sorted(after - files)}"
                    )
            return problems

        _fail_if(asyncio.run(check()), "not idempotent")

    def test_error_cases_map_to_retryable_or_not(self) -> None:
        """Each :attr:`error_cases` entry fails, as a ``RetryableError`` exactly when expected."""
        if not self.error_cases:
            _skip("no error_cases")

        async def check() -> list[str]:
            problems = []
            for case in self.error_cases:
                error = await self.error_of(case.action, case.parameters)
                got = isinstance(error, RetryableError)
                if got != case.retryable:
                    want = "retryable" if case.retryable else "not retryable"
                    problems.append(
                        f"{case.action} {dict(case.parameters)!r}: expected {want}, got "
                        f"{type(error).__name__} ({error.code}): {error.message}"
                    )
            return problems

        _fail_if(asyncio.run(check()), "error mapping")

    def test_http_errors_map_to_retryable_or_not(self) -> None:
        """With a transport set, each sampled action whose vendor answers a status of
        :attr:`http_error_statuses` (or times out) fails, retryably exactly for 429, 5xx and
        timeouts. Actions that make no request are left out."""
        if self.make_transport() is None:
            _skip("no transport: the app makes no HTTP calls in tests")
        actions = self.sampled_actions()
        if not actions:
            _skip("no samples")
        cases: list[tuple[str, bool]] = [
            (str(s), r) for s, r in self.http_error_statuses.items()
        ] + [("timeout", True)]

        async def check() -> tuple[int, list[str]]:
            problems: list[str] = []
            ran = 0
            for action in actions:
                for case, retryable in cases:
                    answer = _ErrorTransport(case)
                    error = await _error_or_none(self, action.key, answer)
                    if not answer.calls:
                        break  # this action does not call out
                    ran += 1
                    if error is None:
                        problems.append(f"{action.key}: succeeded when the vendor answered {case}")
                    elif isinstance(error, RetryableError) != retryable:
                        want = "retryable" if retryable else "not retryable"
                        problems.append(
                            f"{action.key}, vendor answered {case}: expected {want}, got "
                            f"{type(error).__name__} ({error.code}): {error.message}"
                        )
            return ran, problems

        ran, problems = asyncio.run(check())
        if not ran:
            _skip("no sampled action made an HTTP request")
        _fail_if(problems, "HTTP error mapping")


class _ErrorTransport(httpx.AsyncBaseTransport):
    """Answers every request with one HTTP error status, or times out."""

    def __init__(self, case: str) -> None:
        self.case = case
        self.calls = 0

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if self.case == "timeout":
            raise httpx.ReadTimeout("conformance: the vendor did not answer", request=request)
        status = int(self.case)
        headers = {"Retry-After": "0"} if status == 429 else {}
        return httpx.Response(
            status, json={"error": f"conformance {status}"}, headers=headers, request=request
        )


async def _error_or_none(
    kit: AppConformance, action_key: str, transport: httpx.AsyncBaseTransport
) -> StepError | None:
    try:
        await kit.run_with(action_key, kit.sample_parameters(action_key), transport=transport)
    except ValidationError as exc:
        return StepError(str(exc), code="invalid")
    except Exception as exc:
        return classify_error(exc)
    return None


def _leaks(action_key: str, step: StepRecord, secrets: Iterable[str]) -> list[str]:
    recorded = {
        "data_in": json.dumps(step.data_in, default=str),
        "data_out": json.dumps(step.data_out, default=str),
        "error": step.error or "",
    }
    return [
        f"{action_key}: a secret value ({secret[:2]}…) appears in the step's {field}"
        for secret in secrets
        for field, text in recorded.items()
        if secret in text
    ]


def _without(data: Any, paths: list[list[str]]) -> Any:
    if not paths or not isinstance(data, Mapping):
        return data
    result: dict[str, Any] = {}
    for key, value in data.items():
        if [key] in paths:
            continue
        nested = [p[1:] for p in paths if len(p) > 1 and p[0] == key]
        result[key] = _without(value, nested)
    return result
