"""The sandboxed Jinja environment every document template renders in.

- Sandboxed and immutable (:class:`jinja2.sandbox.ImmutableSandboxedEnvironment`): templates
  cannot reach ``__class__`` and friends, call ``str.format`` unsafely, or change the data
  (``deal.clear()``). ``**`` and ``*`` are capped so ``2 ** 100000`` or ``"x" * 10**10`` cannot
  exhaust the worker; ``range`` is capped by Jinja at 100 000 items.
- ``deal.items`` means the key ``items`` when ``deal`` has one (CRM records have fields called
  ``items``, ``values``, ``keys``); the dict method is used only when there is no such key.
- ``None`` prints as nothing; characters XML cannot hold are dropped from printed values.
- A missing variable prints as nothing and is **recorded** with its full path
  (``deal.owner.name``; ``deal.items[].sku`` for a field of a list element) when the template
  prints it, iterates it, tests it or computes with it — but not when it only asks
  ``is defined`` or gives it a ``default``. After rendering, ``env.missing_variables`` lists
  them; with ``strict=True``, :meth:`DocgEnvironment.check_missing` raises one
  :class:`TemplateRenderError` naming them all.
"""

from __future__ import annotations

import re
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from types import CodeType
from typing import Any, ClassVar

from jinja2 import TemplateSyntaxError, Undefined, UndefinedError, nodes
from jinja2.exceptions import SecurityError
from jinja2.runtime import Context
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import _PassArg, missing
from markupsafe import Markup

from ._model import TemplateRenderError
from .filters import BUILTIN_FILTERS

__all__ = ["DocgEnvironment", "MissingVariables", "make_environment"]

_MAX_DEPTH = 64
_CODE_CACHE_SIZE = 32  # templates; a Word template's code holds its XML (tens of KB to MBs)
_MAX_SEQUENCE_PRODUCT = 1_000_000
_MAX_EXPONENT = 100
_PLAIN_KEY = re.compile(r"[\w-]+")
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def join_path(parent: str, key: object) -> str:
    """``deal`` + ``owner`` → ``deal.owner``; ``items`` + ``0`` → ``items[0]``."""
    if isinstance(key, str) and _PLAIN_KEY.fullmatch(key):
        return f"{parent}.{key}" if parent else key
    if isinstance(key, int):
        return f"{parent}[{key}]"
    return f"{parent}[{key!r}]"


class MissingVariables:
    """Records missing variables during one render, and knows the data path of each container.

    The path of a dict or list of the data is looked up by identity, so a missing field of a
    loop variable or of a ``{% set %}`` alias is still reported with its path in the data.
    """

    def __init__(self) -> None:
        self.paths: dict[int, str] = {}
        self._missing: dict[str, None] = {}

    def path_of(self, obj: object, name: object) -> str:
        if obj is missing:
            return str(name)
        return join_path(self.paths.get(id(obj), ""), name)

    def record(self, path: str) -> None:
        self._missing.setdefault(path, None)

    @property
    def names(self) -> list[str]:
        return list(self._missing)


class RecordingUndefined(Undefined):
    """A missing variable: empty when printed, and recorded by its environment when used.

    Attribute and item access chain (``missing.a.b`` is the missing ``missing.a.b``, not an
    error). An undefined made by the sandbox for a forbidden attribute keeps raising
    :class:`~jinja2.sandbox.SecurityError` on any use.
    """

    __slots__ = ("_docg_fallback", "_docg_path")
    _docg_recorder: ClassVar[MissingVariables] = MissingVariables()

    def __init__(
        self,
        hint: str | None = None,
        obj: Any = missing,
        name: str | None = None,
        exc: type[Exception] = UndefinedError,
        *,
        path: str | None = None,
        fallback: Callable[..., Any] | None = None,
    ) -> None:
        super().__init__(hint, obj, name, exc)  # type: ignore[arg-type]
        self._docg_path = path if path is not None else self._docg_recorder.path_of(obj, name)
        self._docg_fallback = fallback

    def _docg_use(self) -> None:
        if self._undefined_exception is not UndefinedError:  # SecurityError from the sandbox
            self._fail_with_undefined_error()
        self._docg_recorder.record(self._docg_path)

    def _docg_child(self, key: object) -> RecordingUndefined:
        if self._undefined_exception is not UndefinedError:
            self._fail_with_undefined_error()
        return type(self)(name=str(key), path=join_path(self._docg_path, key))

    def __getattr__(self, name: str) -> Any:
        if name[:2] == "__" and name[-2:] == "__":
            raise AttributeError(name)
        return self._docg_child(name)

    def __getitem__(self, key: object) -> Any:
        return self._docg_child(key)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if self._docg_fallback is not None:  # `deal.items()` where deal has no "items" key
            return self._docg_fallback(*args, **kwargs)
        self._docg_use()
        return self

    def _docg_operation(self, *args: Any, **kwargs: Any) -> Any:
        self._docg_use()
        return self

    __add__ = __radd__ = __sub__ = __rsub__ = _docg_operation
    __mul__ = __rmul__ = __div__ = __rdiv__ = _docg_operation
    __truediv__ = __rtruediv__ = __floordiv__ = __rfloordiv__ = _docg_operation
    __mod__ = __rmod__ = __pos__ = __neg__ = __pow__ = __rpow__ = _docg_operation
    __lt__ = __le__ = __gt__ = __ge__ = _docg_operation

    def __int__(self) -> int:  # type: ignore[override]
        self._docg_use()
        return 0

    def __float__(self) -> float:  # type: ignore[override]
        self._docg_use()
        return 0.0

    def __complex__(self) -> complex:  # type: ignore[override]
        self._docg_use()
        return 0j

    def __eq__(self, other: object) -> bool:
        self._docg_use()
        return type(self) is type(other)

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    def __hash__(self) -> int:
        return id(type(self))

    def __str__(self) -> str:
        self._docg_use()
        return ""

    def __len__(self) -> int:
        self._docg_use()
        return 0

    def __iter__(self) -> Iterator[Any]:
        self._docg_use()
        yield from ()

    def __bool__(self) -> bool:
        self._docg_use()
        return False

    def __repr__(self) -> str:
        return f"Undefined({self._docg_path!r})"


def finalize_value(value: Any) -> Any:
    """What ``{{ value }}`` prints: nothing for None; no characters XML cannot hold; ``\\n``
    line ends."""
    if value is None:
        return ""
    if isinstance(value, str):
        cleaned = value
        if "\r" in cleaned:
            cleaned = cleaned.replace("\r\n", "\n").replace("\r", "\n")
        cleaned = _NOT_XML.sub("", cleaned)
        # Dropping characters from markup keeps it markup.
        return Markup(cleaned) if isinstance(value, Markup) else cleaned  # noqa: S704
    return value


class _CodeCache:
    """Compiled template code by source and environment settings, shared by environments.

    Each render makes a new environment (the missing-variable record is per render), so
    Jinja's own per-environment cache never hits; compiling a Word document's XML is the
    largest part of a render. Code objects are immutable and look filters up at run time,
    but Jinja folds constant expressions at compile time (``{{ 2 | currency }}``, ``finalize``
    on literal output), so the key holds the settings, ``finalize`` and every filter and test
    function — except context filters (``@pass_context``), which Jinja never folds: per-render
    filters such as the renderers' ``image`` are written that way so they do not defeat the
    cache.
    """

    def __init__(self, size: int) -> None:
        self._size = size
        self._entries: OrderedDict[tuple[Any, ...], CodeType] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: tuple[Any, ...]) -> CodeType | None:
        with self._lock:
            code = self._entries.get(key)
            if code is not None:
                self._entries.move_to_end(key)
            return code

    def put(self, key: tuple[Any, ...], code: CodeType) -> None:
        with self._lock:
            self._entries[key] = code
            self._entries.move_to_end(key)
            while len(self._entries) > self._size:
                self._entries.popitem(last=False)


_CODE_CACHE = _CodeCache(_CODE_CACHE_SIZE)


def _functions_key(functions: Mapping[str, Any]) -> tuple[tuple[str, Any], ...]:
    return tuple(
        (name, "context" if getattr(f, "jinja_pass_arg", None) is _PassArg.context else f)
        for name, f in sorted(functions.items(), key=lambda item: item[0])
    )


class DocgEnvironment(ImmutableSandboxedEnvironment):
    """The environment of one render: filters, the sandbox, and the missing-variable record.

    Make a new one per render (:func:`make_environment`); the record is per environment.
    """

    intercepted_binops = frozenset({"*", "**"})

    def __init__(
        self,
        filters: Mapping[str, Callable[..., Any]] | None = None,
        *,
        strict: bool = False,
        autoescape: bool = False,
    ) -> None:
        self.strict = strict
        self.recorder = MissingVariables()
        undefined = type(
            "DocgUndefined",
            (RecordingUndefined,),
            {"__slots__": (), "_docg_recorder": self.recorder},
        )
        super().__init__(undefined=undefined, autoescape=autoescape, finalize=finalize_value)
        self.filters.update(BUILTIN_FILTERS)
        self.filters.update(filters or {})

    # -- compiling -------------------------------------------------------------------

    def compile(
        self,
        source: str | nodes.Template,
        name: str | None = None,
        filename: str | None = None,
        raw: bool = False,
        defer_init: bool = False,
    ) -> Any:
        if raw:
            return super().compile(source, name, filename, True, defer_init)
        if not isinstance(source, str):
            return super().compile(source, name, filename, False, defer_init)
        key = self.code_key(source, name, filename, defer_init)
        code = _CODE_CACHE.get(key)
        if code is None:
            code = super().compile(source, name, filename, False, defer_init)
            _CODE_CACHE.put(key, code)
        return code

    def code_key(
        self,
        source: str,
        name: str | None = None,
        filename: str | None = None,
        defer_init: bool = False,
    ) -> tuple[Any, ...]:
        """What the code :meth:`compile` makes of ``source`` depends on: two environments
        with the same key can share it."""
        return (
            source,
            name,
            filename,
            defer_init,
            type(self),
            self.autoescape,
            self.finalize,
            self.trim_blocks,
            self.lstrip_blocks,
            self.keep_trailing_newline,
            self.newline_sequence,
            self.optimized,
            _functions_key(self.filters),
            _functions_key(self.tests),
        )

    # -- data ------------------------------------------------------------------------

    def prepare_context(
        self,
        data: Mapping[str, Any],
        convert: Callable[[Any, str], Any] | None = None,
    ) -> dict[str, Any]:
        """Copy ``data`` into the render context, remembering the path of each dict and list.

        ``convert(value, path)`` may replace any value (the renderers turn image and rich-text
        values into their own objects); returning the value itself keeps walking into it.
        """
        if not isinstance(data, Mapping):
            raise TypeError(f"template data must be a mapping, not {type(data).__name__}")
        return {str(k): self._prepare(v, str(k), convert, 0) for k, v in data.items()}

    def _prepare(
        self, value: Any, path: str, convert: Callable[[Any, str], Any] | None, depth: int
    ) -> Any:
        if convert is not None:
            replaced = convert(value, path)
            if replaced is not value:
                return replaced
        if depth >= _MAX_DEPTH:
            return value
        prepared: dict[str, Any] | list[Any]
        if isinstance(value, Mapping):
            prepared = {
                k: self._prepare(v, join_path(path, k), convert, depth + 1)
                for k, v in value.items()
            }
        elif isinstance(value, list | tuple):
            prepared = [self._prepare(v, f"{path}[]", convert, depth + 1) for v in value]
        else:
            return value
        self.recorder.paths[id(prepared)] = path
        return prepared

    @property
    def missing_variables(self) -> list[str]:
        """The missing variables recorded so far, each once, in the order they were met."""
        return self.recorder.names

    def check_missing(self) -> None:
        """With ``strict=True``, raise if any variable was missing; do nothing otherwise.

        :raises TemplateRenderError: ``code="missing_variables"``, naming every one.
        """
        names = self.missing_variables
        if self.strict and names:
            raise TemplateRenderError(
                f"the template uses {len(names)} variable(s) the data does not have: "
                f"{', '.join(names)}. Add them to the data, or mark them optional in the "
                "template with `| default('…')`",
                code="missing_variables",
                missing_variables=names,
            )

    # -- lookups ---------------------------------------------------------------------

    def getattr(self, obj: Any, attribute: str) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[attribute]
            except (KeyError, TypeError):
                pass
            value = super().getattr(obj, attribute)
            if callable(value) and not isinstance(value, Undefined):
                # `deal.items` with no "items" key: missing when printed, the method when called.
                return self.undefined(obj=obj, name=attribute, fallback=value)  # type: ignore[call-arg]
            return value
        return super().getattr(obj, attribute)

    def getitem(self, obj: Any, argument: Any) -> Any:
        if isinstance(obj, Mapping):
            try:
                return obj[argument]
            except (KeyError, TypeError):
                return self.undefined(obj=obj, name=argument)
        return super().getitem(obj, argument)

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        numbers = all(isinstance(v, int | float) and not isinstance(v, bool) for v in (left, right))
        if operator == "**" and numbers and abs(right) > _MAX_EXPONENT:
            raise SecurityError(f"exponents above {_MAX_EXPONENT} are not allowed")
        if operator == "*":
            for sequence, times in ((left, right), (right, left)):
                if (
                    isinstance(sequence, str | list | tuple)
                    and isinstance(times, int)
                    and len(sequence) * times > _MAX_SEQUENCE_PRODUCT
                ):
                    raise SecurityError("repeating a text or list that many times is not allowed")
        return super().call_binop(context, operator, left, right)


def make_environment(
    filters: Mapping[str, Callable[..., Any]] | None = None,
    *,
    strict: bool = False,
    autoescape: bool = False,
) -> DocgEnvironment:
    """A sandboxed environment with the built-in filters and ``filters`` (which override them).

    Pass the data through :meth:`DocgEnvironment.prepare_context` before rendering so missing
    variables are reported with their full paths (``deal.owner.name``, not ``name``).

    :param filters: extra filters, e.g. from the ``docg_template_filters`` hook.
    :param strict: make :meth:`DocgEnvironment.check_missing` raise when a variable was missing.
    :param autoescape: escape printed values for HTML/XML (the .docx and HTML renderers turn
        it on; values with ``&`` and ``<`` then stay text).
    """
    return DocgEnvironment(filters, strict=strict, autoescape=autoescape)


@contextmanager
def translate_errors(where: str = "") -> Iterator[None]:
    """Turn what a render can raise into :class:`TemplateRenderError` (not retried).

    Syntax errors pass through: the caller knows the template and reports their location.
    """
    suffix = f" ({where})" if where else ""
    try:
        yield
    except (TemplateRenderError, TemplateSyntaxError):
        raise
    except SecurityError as exc:
        raise TemplateRenderError(
            f"the template tried something the sandbox forbids{suffix}: {exc}",
            code="unsafe_template",
        ) from exc
    except Exception as exc:
        raise TemplateRenderError(
            f"the template could not be rendered{suffix}: {exc}", code="render_failed"
        ) from exc
