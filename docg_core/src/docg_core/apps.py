"""The plugin API: apps, actions, triggers, their arguments and results.

Everything here is declarative metadata plus one ``async run(ctx)`` per action, so a server
can list apps and export each action's arguments as JSON Schema without running anything.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from .errors import Problem, ValidationError
from .retry import RetryPolicy

if TYPE_CHECKING:
    import httpx

    from .callbacks import CallbackEvent, InboundRequest
    from .context import ExecutionContext

__all__ = [
    "ActionArgument",
    "ActionResult",
    "ArgumentType",
    "AuthSpec",
    "BaseAction",
    "BaseApp",
    "BaseDynamicData",
    "BaseTrigger",
    "DropdownOption",
    "DynamicData",
    "RetryPolicy",
    "TriggerItem",
    "TriggerType",
    "Wait",
    "validate_arguments",
]


class ArgumentType(StrEnum):
    """The kinds of input an action argument takes (and how a UI renders it)."""

    STRING = "string"
    NUMBER = "number"
    BOOLEAN = "boolean"
    DROPDOWN = "dropdown"
    MULTILINE = "multiline"
    CODE = "code"
    JSON = "json"
    DATE = "date"
    DATETIME = "datetime"
    FILE = "file"
    HIDDEN = "hidden"


@dataclass(frozen=True)
class DropdownOption:
    """One choice of a dropdown: the stored ``value`` and the ``label`` shown."""

    value: Any
    label: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "value": self.value,
            "label": self.label if self.label is not None else str(self.value),
        }


@dataclass(frozen=True)
class DynamicData:
    """Reference to one of the app's dynamic-data sources (``BaseApp.dynamic_data``) by key."""

    key: str


@dataclass(frozen=True)
class ActionArgument:
    """One input of an action, trigger or auth form.

    ``options`` are static dropdown choices (checked at run time); ``source`` names a dynamic
    one (listed by the server, not checked). ``secret`` values are masked in step records.
    ``variables`` says whether ``{{...}}`` may be used in it.
    """

    key: str
    label: str
    type: ArgumentType = ArgumentType.STRING
    required: bool = False
    description: str = ""
    default: Any = None
    variables: bool = True
    options: tuple[DropdownOption, ...] | None = None
    source: DynamicData | None = None
    depends_on: str | Sequence[str] | None = None
    multiple: bool = False
    secret: bool = False

    def json_schema(self) -> dict[str, Any]:
        """This argument as a JSON Schema property (describing the *resolved* value)."""
        schema: dict[str, Any] = dict(_TYPE_SCHEMAS[self.type])
        schema["title"] = self.label
        if self.description:
            schema["description"] = self.description
        if self.default is not None:
            schema["default"] = self.default
        if self.type is ArgumentType.DROPDOWN and self.options is not None:
            schema["enum"] = [o.value for o in self.options]
            schema["x-docg-options"] = [o.to_dict() for o in self.options]
        if self.multiple:
            schema = {"type": "array", "items": schema, "title": self.label}
        schema["x-docg-type"] = self.type.value
        if self.source is not None:
            schema["x-docg-source"] = self.source.key
        if self.depends_on:
            deps = [self.depends_on] if isinstance(self.depends_on, str) else list(self.depends_on)
            schema["x-docg-depends-on"] = deps
        if self.secret:
            schema["writeOnly"] = True
        schema["x-docg-variables"] = self.variables
        return schema

    def coerce(self, value: Any) -> Any:
        """Convert a resolved value to this argument's type; raise ``ValueError`` if it can't."""
        if self.multiple:
            items = value if isinstance(value, list) else [value]
            return [self._coerce_one(v) for v in items]
        return self._coerce_one(value)

    def _coerce_one(self, value: Any) -> Any:
        t = self.type
        if t in (ArgumentType.STRING, ArgumentType.MULTILINE, ArgumentType.CODE):
            if isinstance(value, str):
                return value
            if isinstance(value, bool):
                return "true" if value else "false"
            if isinstance(value, int | float):
                return str(value)
            raise ValueError(f"expected text, got {_kind(value)}")
        if t is ArgumentType.NUMBER:
            return _to_number(value)
        if t is ArgumentType.BOOLEAN:
            return _to_bool(value)
        if t is ArgumentType.JSON:
            if isinstance(value, str):
                try:
                    return json.loads(value)
                except json.JSONDecodeError as exc:
                    raise ValueError(
                        f"invalid JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
                    ) from None
            return value
        if t is ArgumentType.DROPDOWN:
            if self.options is not None:
                allowed = [o.value for o in self.options]
                if value not in allowed and str(value) not in [str(a) for a in allowed]:
                    raise ValueError(
                        f"{value!r} is not one of {', '.join(repr(a) for a in allowed)}"
                    )
                for a in allowed:
                    if a == value or str(a) == str(value):
                        return a
            return value
        if t is ArgumentType.DATE:
            return _to_date(value)
        if t is ArgumentType.DATETIME:
            return _to_datetime(value)
        return value  # FILE, HIDDEN: taken as given


_TYPE_SCHEMAS: dict[ArgumentType, dict[str, Any]] = {
    ArgumentType.STRING: {"type": "string"},
    ArgumentType.MULTILINE: {"type": "string"},
    ArgumentType.CODE: {"type": "string"},
    ArgumentType.NUMBER: {"type": "number"},
    ArgumentType.BOOLEAN: {"type": "boolean"},
    ArgumentType.DROPDOWN: {},
    ArgumentType.JSON: {},
    ArgumentType.DATE: {"type": "string", "format": "date"},
    ArgumentType.DATETIME: {"type": "string", "format": "date-time"},
    ArgumentType.FILE: {"type": ["string", "object"]},
    ArgumentType.HIDDEN: {},
}

_TRUE = {"true", "yes", "y", "1", "on", "sim", "s"}
_FALSE = {"false", "no", "n", "0", "off", "não", "nao", ""}


def _kind(value: Any) -> str:
    if value is None:
        return "nothing"
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


def _to_number(value: Any) -> int | float:
    if isinstance(value, bool):
        raise ValueError("expected a number, got a boolean")
    if isinstance(value, int | float):
        if isinstance(value, float) and not math.isfinite(value):
            raise ValueError("expected a finite number")
        return value
    if isinstance(value, str):
        text = value.strip()
        try:
            return int(text)
        except ValueError:
            pass
        try:
            number = float(text)
        except ValueError:
            raise ValueError(f"expected a number, got {value!r}") from None
        if not math.isfinite(number):
            raise ValueError(f"expected a finite number, got {value!r}")
        return number
    raise ValueError(f"expected a number, got {_kind(value)}")


def _to_bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str):
        text = value.strip().lower()
        if text in _TRUE:
            return True
        if text in _FALSE:
            return False
    raise ValueError(f"expected true or false, got {value!r}")


def _to_date(value: Any) -> str:
    if isinstance(value, datetime):
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return date.fromisoformat(value.strip()[:10]).isoformat()
        except ValueError:
            pass
    raise ValueError(f"expected a date (YYYY-MM-DD), got {value!r}")


def _to_datetime(value: Any) -> str:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, str):
        try:
            return datetime.fromisoformat(value.strip().replace("Z", "+00:00")).isoformat()
        except ValueError:
            pass
    raise ValueError(f"expected an ISO 8601 date-time, got {value!r}")


def _is_empty(value: Any) -> bool:
    return value is None or value == "" or value == [] or value == {}


def validate_arguments(
    arguments: Sequence[ActionArgument],
    values: Mapping[str, Any],
    *,
    node_id: str | None = None,
) -> dict[str, Any]:
    """Check and coerce resolved parameters against declared arguments.

    Returns a new dict (defaults filled in, values coerced; undeclared keys kept as given).
    Raises :class:`ValidationError` listing every bad argument, each naming the node.
    """
    result = dict(values)
    problems: list[Problem] = []
    for arg in arguments:
        value = values.get(arg.key)
        if _is_empty(value):
            if arg.required and _is_empty(arg.default):
                problems.append(Problem(f"{arg.label} is required", node_id, arg.key))
                continue
            if arg.default is not None:
                result[arg.key] = arg.default
            continue
        try:
            result[arg.key] = arg.coerce(value)
        except ValueError as exc:
            problems.append(Problem(str(exc), node_id, arg.key))
    if problems:
        raise ValidationError(problems)
    return result


def arguments_json_schema(title: str, arguments: Sequence[ActionArgument]) -> dict[str, Any]:
    """A JSON Schema (2020-12) object describing ``arguments``."""
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "type": "object",
        "properties": {a.key: a.json_schema() for a in arguments},
        "required": [a.key for a in arguments if a.required],
        "additionalProperties": False,
    }


@dataclass(frozen=True)
class Wait:
    """Why and until when a step waits; set through :meth:`ActionResult.wait`."""

    reason: str
    resume_token: str | None = None
    resume_at: datetime | None = None
    expires_at: datetime | None = None


@dataclass
class ActionResult:
    """What an action returns: the vendor's ``raw`` answer, mapped ``data``, extra ``metadata``.

    Later steps read ``{{step.<id>.<path>}}`` from ``data`` and ``{{step.<id>.raw.<path>}}``
    from ``raw``.
    """

    raw: Any = None
    data: dict[str, Any] = field(default_factory=dict)
    metadata: dict[str, Any] = field(default_factory=dict)
    waiting: Wait | None = None
    ends_execution: bool = False

    @classmethod
    def wait(
        cls,
        reason: str,
        *,
        resume_token: str | None = None,
        resume_at: datetime | None = None,
        expires_at: datetime | None = None,
        data: dict[str, Any] | None = None,
        raw: Any = None,
        metadata: dict[str, Any] | None = None,
    ) -> ActionResult:
        """A result that pauses the execution until it is resumed (approval, signature, delay).

        ``resume_at`` resumes it automatically at that time (``Engine.resume_due``);
        ``data`` is visible in the step record while it waits.
        """
        return cls(
            raw=raw,
            data=data or {},
            metadata=metadata or {},
            waiting=Wait(reason, resume_token, resume_at, expires_at),
        )

    @classmethod
    def end(cls, data: dict[str, Any] | None = None, *, raw: Any = None) -> ActionResult:
        """A result that ends the execution as completed; later nodes do not run."""
        return cls(raw=raw, data=data or {}, ends_execution=True)

    def to_output(self) -> dict[str, Any]:
        """The step's ``data_out``: ``{"raw", "data", "metadata"}``."""
        return {"raw": self.raw, "data": self.data, "metadata": self.metadata}


class BaseAction:
    """An operation of an app. Subclasses set the metadata and implement :meth:`run`."""

    key: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str] = ""
    arguments: ClassVar[Sequence[ActionArgument]] = ()
    retry: ClassVar[RetryPolicy] = RetryPolicy()
    # True for actions that may pause (approval, signature): they must implement ``resume``.
    can_wait: ClassVar[bool] = False

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        """Do the work. ``ctx.step.parameters`` holds the resolved, validated arguments."""
        raise NotImplementedError

    async def resume(self, ctx: ExecutionContext, payload: Mapping[str, Any]) -> ActionResult:
        """Finish a step that waited, given the resume payload (default: payload = data)."""
        return ActionResult(raw=dict(payload), data=dict(payload))

    @classmethod
    def check_parameters(cls, parameters: Mapping[str, Any]) -> list[str]:
        """Save-time checks beyond the declared arguments (e.g. a cron expression).

        Called with the raw parameters, which may still hold ``{{variables}}``: check only
        literal values. Return one message per problem, starting with the argument key.
        """
        return []

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        """The arguments as one JSON Schema object."""
        return arguments_json_schema(cls.name, cls.arguments)

    @classmethod
    def to_dict(cls) -> dict[str, Any]:
        return {
            "key": cls.key,
            "name": cls.name,
            "description": cls.description,
            "can_wait": cls.can_wait,
            "arguments": cls.json_schema(),
        }


class TriggerType(StrEnum):
    """How a trigger starts executions."""

    MANUAL = "manual"
    WEBHOOK = "webhook"
    POLLING = "polling"
    SCHEDULE = "schedule"


@dataclass(frozen=True)
class TriggerItem:
    """One item found by a polling trigger; ``dedupe_key`` must be stable for the same item."""

    dedupe_key: str
    data: dict[str, Any]


class BaseTrigger:
    """What starts a workflow. ``run`` shapes the incoming payload into the trigger output."""

    key: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str] = ""
    trigger_type: ClassVar[TriggerType] = TriggerType.WEBHOOK
    arguments: ClassVar[Sequence[ActionArgument]] = ()

    async def run(self, ctx: ExecutionContext) -> ActionResult:
        """Turn ``ctx.trigger_output`` (the payload received) into the trigger's output."""
        return ActionResult(raw=ctx.trigger_output, data=dict(ctx.trigger_output))

    async def poll(self, ctx: ExecutionContext) -> list[TriggerItem]:
        """For polling triggers: the items found since the last poll."""
        raise NotImplementedError(f"trigger {self.key!r} does not poll")

    def verify_request(
        self, request: InboundRequest, credentials: Mapping[str, Any], parameters: Mapping[str, Any]
    ) -> None:
        """Check a webhook's authenticity before a run starts; raise
        :class:`~docg_core.callbacks.CallbackRejected` to refuse it.

        ``credentials`` are the trigger's connection's (empty without one); ``parameters``
        the trigger's. The default accepts every request (the server's URL token is the
        only secret); vendors that sign their webhooks override it.
        """

    @classmethod
    def check_parameters(cls, parameters: Mapping[str, Any]) -> list[str]:
        """Save-time checks beyond the declared arguments (e.g. a cron expression).

        Called with the raw parameters, which may still hold ``{{variables}}``: check only
        literal values. Return one message per problem, starting with the argument key.
        """
        return []

    @classmethod
    def json_schema(cls) -> dict[str, Any]:
        return arguments_json_schema(cls.name, cls.arguments)

    @classmethod
    def to_dict(cls) -> dict[str, Any]:
        return {
            "key": cls.key,
            "name": cls.name,
            "description": cls.description,
            "type": cls.trigger_type.value,
            "arguments": cls.json_schema(),
        }


class BaseDynamicData:
    """A list of choices for a dropdown, fetched from the app's API (e.g. HubSpot pipelines)."""

    key: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str] = ""

    async def run(self, ctx: ExecutionContext) -> list[DropdownOption]:
        raise NotImplementedError


@dataclass(frozen=True)
class AuthSpec:
    """How an app's connection authenticates, and the fields of its form.

    Build it with :meth:`oauth2`, :meth:`api_key` or :meth:`basic`.
    """

    type: Literal["oauth2", "api_key", "basic"]
    fields: tuple[ActionArgument, ...] = ()
    authorize_url: str | None = None
    token_url: str | None = None
    scopes: tuple[str, ...] = ()
    pkce: bool = False

    @classmethod
    def oauth2(
        cls,
        *,
        authorize_url: str,
        token_url: str,
        scopes: Sequence[str] = (),
        pkce: bool = True,
        fields: Sequence[ActionArgument] = (),
    ) -> AuthSpec:
        """OAuth 2.0 authorization-code flow (with PKCE S256 unless ``pkce=False``)."""
        return cls("oauth2", tuple(fields), authorize_url, token_url, tuple(scopes), pkce)

    @classmethod
    def api_key(cls, fields: Sequence[ActionArgument] | None = None) -> AuthSpec:
        """A token pasted by the user; by default one secret field ``api_key``."""
        if fields is None:
            fields = (ActionArgument(key="api_key", label="API key", required=True, secret=True),)
        return cls("api_key", tuple(fields))

    @classmethod
    def basic(cls) -> AuthSpec:
        """Username and password."""
        return cls(
            "basic",
            (
                ActionArgument(key="username", label="Username", required=True),
                ActionArgument(key="password", label="Password", required=True, secret=True),
            ),
        )

    @property
    def secret_keys(self) -> frozenset[str]:
        keys = {f.key for f in self.fields if f.secret}
        if self.type == "oauth2":
            keys |= {"access_token", "refresh_token", "client_secret"}
        return frozenset(keys)

    def to_dict(self) -> dict[str, Any]:
        return {
            "type": self.type,
            "fields": arguments_json_schema("Connection", self.fields),
            "authorize_url": self.authorize_url,
            "token_url": self.token_url,
            "scopes": list(self.scopes),
            "pkce": self.pkce,
        }


class BaseApp:
    """An integration: metadata, auth, actions, triggers and dynamic data.

    ``before_request`` shapes every request of ``ctx.http`` (auth header, token refresh);
    ``base_url`` (or :meth:`get_base_url`) is its base URL.
    """

    key: ClassVar[str]
    name: ClassVar[str]
    description: ClassVar[str] = ""
    icon_url: ClassVar[str | None] = None
    base_url: ClassVar[str | None] = None
    auth: ClassVar[AuthSpec | None] = None
    actions: ClassVar[Sequence[type[BaseAction]]] = ()
    triggers: ClassVar[Sequence[type[BaseTrigger]]] = ()
    dynamic_data: ClassVar[Sequence[type[BaseDynamicData]]] = ()

    def get_base_url(self, ctx: ExecutionContext) -> str | None:
        """Base URL of ``ctx.http``; override to pick sandbox or production from ``ctx.auth``."""
        return self.base_url

    async def before_request(self, ctx: ExecutionContext, request: httpx.Request) -> None:
        """Called before every request sent through ``ctx.http``; mutate ``request`` in place."""

    async def test_connection(self, ctx: ExecutionContext) -> str:
        """Check that the connection's credentials (``ctx.auth``) work, with one cheap
        authenticated request through ``ctx.http``.

        Return a short sentence for people (e.g. the account the credentials belong to);
        raise to say they do not work — an ``httpx.HTTPStatusError`` (401, 403) or a
        :class:`~docg_core.errors.StepError` whose message says what to fix. Never change
        ``ctx.auth``. The default raises ``NotImplementedError``: the app has no connection
        test (see :meth:`can_test_connection`).
        """
        raise NotImplementedError(f"app {self.key!r} has no connection test")

    @classmethod
    def can_test_connection(cls) -> bool:
        """True when the app overrides :meth:`test_connection`."""
        return cls.test_connection is not BaseApp.test_connection

    def parse_callback(self, request: InboundRequest) -> list[CallbackEvent]:
        """The waiting steps a vendor callback concerns (see :mod:`docg_core.callbacks`).

        Parse only: the request is not yet trusted. An event the app does not act on gives
        an empty list. The default handles no callbacks.
        """
        return []

    def verify_callback(self, request: InboundRequest, credentials: Mapping[str, Any]) -> None:
        """Raise :class:`~docg_core.callbacks.CallbackRejected` unless ``request`` is authentic
        for the connection whose ``credentials`` are given. The default rejects everything, so
        an app that parses callbacks must say how they are verified."""
        from .callbacks import CallbackRejected

        raise CallbackRejected(f"app {self.key!r} does not accept callbacks")

    def action(self, key: str) -> type[BaseAction] | None:
        return next((a for a in self.actions if a.key == key), None)

    def trigger(self, key: str) -> type[BaseTrigger] | None:
        return next((t for t in self.triggers if t.key == key), None)

    def dynamic_data_source(self, key: str) -> type[BaseDynamicData] | None:
        return next((d for d in self.dynamic_data if d.key == key), None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "name": self.name,
            "description": self.description,
            "icon_url": self.icon_url,
            "auth": self.auth.to_dict() if self.auth else None,
            "actions": [a.to_dict() for a in self.actions],
            "triggers": [t.to_dict() for t in self.triggers],
            "dynamic_data": [
                {"key": d.key, "name": d.name, "description": d.description}
                for d in self.dynamic_data
            ],
        }
