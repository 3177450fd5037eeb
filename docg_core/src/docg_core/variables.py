"""The ``{{...}}`` variable resolver (ARCHITECTURE section 6).

:func:`compute_parameters` returns a copy of a parameters structure (dicts, lists, strings)
with every ``{{path}}`` replaced by its value in ``scope``::

    {"trigger": {...}, "step": {node_id: {"data": ..., "raw": ..., "metadata": ...}},
     "flow": {...}, "execution": {...}, "env": {...}, "loop": {"item": ..., "index": ...}}

Grammar of a placeholder (whitespace around the path and its separators is ignored)::

    path    := name ( "." name | "[" index "]" )*
    name    := one or more of: letters, digits, "_", "-", "$", "@"
    index   := integer | "quoted key" | 'quoted key'

``{{step.<id>.<path>}}`` reads the step's ``data``; ``{{step.<id>.raw.<path>}}`` and
``{{step.<id>.metadata.<path>}}`` read its raw response and metadata. Every other root reads
``scope[root]`` (so ``{{env.X}}`` only sees what the engine put in ``scope["env"]``), except
``{{now}}`` and ``{{uuid}}``. A ``{{...}}`` whose content is not a path (``{{ a | upper }}``)
is left as it is: resolution never evaluates code. ``\\{{`` is a literal ``{{``.

``{{now}}`` is the current UTC time in ISO 8601 (``2024-05-01T12:00:00.123456+00:00``) and
``{{uuid}}`` a new UUID4 at each occurrence, unless the scope holds ``"now"`` (a zero-argument
callable, a datetime or a string) or ``"uuid"`` (a callable or a string): durable replays pass
those so that a re-run resolves to the same values.

Each distinct template string is parsed once into a small closure and cached (bounded), so a
workflow run resolves its parameters without re-parsing; see :func:`template_cache_info`.
"""

from __future__ import annotations

import contextlib
import json
import re
import uuid as _uuid
from collections.abc import Callable, Iterator, Mapping
from datetime import UTC, date, datetime
from typing import Any, Final, NamedTuple

from docg_core.errors import VariableError

__all__ = [
    "TemplateCacheInfo",
    "clear_template_cache",
    "compute_parameters",
    "iter_references",
    "template_cache_info",
]

_Scope = Mapping[str, Any]
_Resolver = Callable[[_Scope, bool], Any]


class _Missing:
    """Marks a path that does not resolve (distinct from a value that is None)."""

    __slots__ = ()

    def __repr__(self) -> str:
        return "<missing>"


_MISSING: Final = _Missing()


# --------------------------------------------------------------------------------------------
# Parsing


class _Seg(NamedTuple):
    """One step of a path: its key in mappings, and its index in lists when it is an integer."""

    key: str
    number: int | None


class _Ref(NamedTuple):
    """A parsed ``{{...}}``: its normalised dotted path and the lookup steps from the scope."""

    path: str
    lookup: tuple[_Seg, ...]


class _Parsed(NamedTuple):
    """A template string: ``head``, then each reference followed by the literal after it.

    ``whole`` is True when the string is exactly one reference (it keeps the value's type).
    """

    head: str
    parts: tuple[tuple[_Ref, str], ...]
    whole: bool


_NAME = r"[\w$@-]+"
_ROOT_RE: Final = re.compile(rf"\s*({_NAME})")
_NEXT_RE: Final = re.compile(
    rf"""\s*(?:\.\s*({_NAME})|\[\s*(?:(-?[0-9]+)|"([^"]*)"|'([^']*)')\s*\])"""
)
_INT_RE: Final = re.compile(r"-?[0-9]+")
_SPECIAL_STEP_PARTS: Final = frozenset({"raw", "metadata"})


def _seg(key: str) -> _Seg:
    return _Seg(key, int(key) if _INT_RE.fullmatch(key) else None)


def _parse_path(content: str) -> _Ref | None:
    """Parse the inside of ``{{...}}``; None when it is not a path (left as literal text)."""
    m = _ROOT_RE.match(content)
    if m is None:
        return None
    segs = [_seg(m.group(1))]
    pos = m.end()
    end = len(content.rstrip())
    while pos < end:
        m = _NEXT_RE.match(content, pos)
        if m is None:
            return None
        name, number, dq, sq = m.groups()
        if name is not None:
            segs.append(_seg(name))
        elif number is not None:
            segs.append(_Seg(number, int(number)))
        else:
            segs.append(_Seg(dq if dq is not None else sq, None))
        pos = m.end()
    path = ".".join(s.key for s in segs)
    lookup = list(segs)
    # {{step.<id>.<path>}} reads the step's data unless <path> starts with raw or metadata.
    reads_data = len(segs) == 2 or (len(segs) > 2 and segs[2].key not in _SPECIAL_STEP_PARTS)
    if segs[0].key == "step" and reads_data:
        lookup.insert(2, _Seg("data", None))
    return _Ref(path, tuple(lookup))


def _parse(template: str) -> _Parsed:
    """Split ``template`` into literal text and references; ``\\{{`` becomes ``{{``."""
    parts: list[tuple[_Ref, str]] = []
    head: str | None = None
    chunks: list[str] = []  # literal text since the last reference
    lit_start = 0  # start of the literal text not yet copied into chunks
    search = 0
    n = len(template)
    whole = False
    while True:
        i = template.find("{{", search)
        if i < 0:
            break
        if i > 0 and template[i - 1] == "\\":
            chunks.append(template[lit_start : i - 1])
            chunks.append("{{")
            lit_start = search = i + 2
            continue
        j = template.find("}}", i + 2)
        if j < 0:
            break
        ref = _parse_path(template[i + 2 : j])
        if ref is None:
            search = i + 1  # not a path: keep it as text, but look for one inside it
            continue
        chunks.append(template[lit_start:i])
        literal = "".join(chunks)
        if head is None:
            head = literal
            whole = i == 0 and j + 2 == n
        else:
            parts[-1] = (parts[-1][0], literal)
        parts.append((ref, ""))
        chunks = []
        lit_start = search = j + 2
    chunks.append(template[lit_start:])
    literal = "".join(chunks)
    if head is None:
        return _Parsed(literal, (), False)
    if parts:
        parts[-1] = (parts[-1][0], literal)
    return _Parsed(head, tuple(parts), whole and not literal)


# --------------------------------------------------------------------------------------------
# Looking values up


def _walk_path(value: Any, segs: tuple[_Seg, ...]) -> Any:
    """Follow ``segs`` from ``value``: keys in mappings, indexes in lists; else missing.

    This is the reference behaviour; the compiled fast paths below agree with it.
    """
    try:
        for key, index in segs:
            cls = value.__class__
            if cls is dict or (cls is not list and isinstance(value, Mapping)):
                found = value.get(key, _MISSING)
                if found is _MISSING and index is not None:
                    found = value.get(index, _MISSING)  # a Python dict with int keys
                if found is _MISSING:
                    return _MISSING
                value = found
            elif cls is list or isinstance(value, list | tuple):
                if index is None or not -len(value) <= index < len(value):
                    return _MISSING
                value = value[index]
            else:
                return _MISSING
    except Exception:  # an odd mapping whose .get raises: treat as missing, never fail
        return _MISSING
    return value


def _fallback(scope: _Scope, segs: tuple[_Seg, ...], path: str, strict: bool) -> Any:
    """The slow path of a compiled reference: walk carefully, then apply the missing rule."""
    value = _walk_path(scope, segs)
    if value is _MISSING:
        if strict:
            raise VariableError(path)
        return None
    return _copy(value) if value.__class__ in _CONTAINERS else value


def _make_resolver(ref: _Ref) -> _Resolver:
    """A function ``(scope, strict) -> value`` for one reference.

    Plain paths try a chain of subscripts, unrolled for short paths (several times faster
    than a loop). Whenever that chain fails (a missing key, a string where a mapping was
    expected, an index out of range) the careful :func:`_walk_path` decides. A chain that
    ends with a list index could index a string (giving a character), so those paths check
    each container's type instead. Containers are copied so the result never aliases the
    scope; a missing path is None, or raises :class:`VariableError` when ``strict``.
    """
    path, segs = ref.path, ref.lookup
    if path == "now":
        return _resolve_now
    if path == "uuid":
        return _resolve_uuid
    copy, containers, fallback = _copy, _CONTAINERS, _fallback

    if segs[-1].number is not None:

        def resolve_indexed(scope: _Scope, strict: bool) -> Any:
            value: Any = scope
            for key, index in segs:
                cls = value.__class__
                if cls is dict and key in value:
                    value = value[key]
                elif cls is list and index is not None and -len(value) <= index < len(value):
                    value = value[index]
                else:
                    return fallback(scope, segs, path, strict)
            return copy(value) if value.__class__ in containers else value

        return resolve_indexed

    keys = [s.key if s.number is None else s.number for s in segs]
    a = segs[0].key  # the root is always a name
    if len(keys) == 1:

        def resolve1(scope: _Scope, strict: bool) -> Any:
            try:
                value = scope[a]
            except Exception:
                return fallback(scope, segs, path, strict)
            return copy(value) if value.__class__ in containers else value

        return resolve1
    if len(keys) == 2:
        _, b = keys

        def resolve2(scope: _Scope, strict: bool) -> Any:
            try:
                value = scope[a][b]
            except Exception:
                return fallback(scope, segs, path, strict)
            return copy(value) if value.__class__ in containers else value

        return resolve2
    if len(keys) == 3:
        _, b, c = keys

        def resolve3(scope: _Scope, strict: bool) -> Any:
            try:
                value = scope[a][b][c]
            except Exception:
                return fallback(scope, segs, path, strict)
            return copy(value) if value.__class__ in containers else value

        return resolve3
    if len(keys) == 4:
        _, b, c, d = keys

        def resolve4(scope: _Scope, strict: bool) -> Any:
            try:
                value = scope[a][b][c][d]
            except Exception:
                return fallback(scope, segs, path, strict)
            return copy(value) if value.__class__ in containers else value

        return resolve4
    if len(keys) == 5:
        _, b, c, d, e = keys

        def resolve5(scope: _Scope, strict: bool) -> Any:
            try:
                value = scope[a][b][c][d][e]
            except Exception:
                return fallback(scope, segs, path, strict)
            return copy(value) if value.__class__ in containers else value

        return resolve5
    if len(keys) == 6:
        _, b, c, d, e, f = keys

        def resolve6(scope: _Scope, strict: bool) -> Any:
            try:
                value = scope[a][b][c][d][e][f]
            except Exception:
                return fallback(scope, segs, path, strict)
            return copy(value) if value.__class__ in containers else value

        return resolve6
    key_tuple = tuple(keys)

    def resolve_n(scope: _Scope, strict: bool) -> Any:
        value: Any = scope
        try:
            for key in key_tuple:
                value = value[key]
        except Exception:
            return fallback(scope, segs, path, strict)
        return copy(value) if value.__class__ in containers else value

    return resolve_n


def _utc_iso(moment: datetime) -> str:
    if moment.tzinfo is None:  # a naive datetime is taken to be UTC already
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat()


def _resolve_now(scope: _Scope, strict: bool) -> str:
    """``{{now}}``: ``scope["now"]`` (a callable, datetime or string) when given, else now."""
    try:
        given = scope.get("now")
        if callable(given):
            given = given()
    except Exception:
        given = None
    if given is None:
        return datetime.now(UTC).isoformat()
    if isinstance(given, datetime):
        return _utc_iso(given)
    return given if isinstance(given, str) else str(given)


def _resolve_uuid(scope: _Scope, strict: bool) -> str:
    """``{{uuid}}``: ``scope["uuid"]`` (a callable or string) when given, else a new UUID4."""
    try:
        given = scope.get("uuid")
        if callable(given):
            given = given()
    except Exception:
        given = None
    if given is None:
        return str(_uuid.uuid4())
    return given if isinstance(given, str) else str(given)


# --------------------------------------------------------------------------------------------
# Rendering


def _json_default(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    if isinstance(value, set | frozenset):
        return list(value)
    return str(value)


def _render(value: Any) -> str:
    """A value as it appears inside text."""
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, dict | list | tuple | Mapping):
        try:
            return json.dumps(
                value, ensure_ascii=False, separators=(",", ":"), default=_json_default
            )
        except Exception:  # for example, non-string keys that JSON cannot hold
            return _str_or_empty(value)
    if isinstance(value, datetime | date):
        return value.isoformat()
    return _str_or_empty(value)


def _str_or_empty(value: Any) -> str:
    try:
        return str(value)
    except Exception:  # a __str__ that fails, data nested deeper than the recursion limit
        return ""


def _copy(value: Any) -> Any:
    """Copy dicts and lists (the leaves are shared) so the result never aliases the scope."""
    try:
        return _copy_containers(value)
    except RecursionError:  # absurdly deep data: share it rather than fail
        return value


def _copy_containers(value: Any) -> Any:
    cls = value.__class__
    if cls is dict:
        return {
            k: _copy_containers(v) if v.__class__ in _CONTAINERS else v for k, v in value.items()
        }
    if cls is list:
        return [_copy_containers(v) if v.__class__ in _CONTAINERS else v for v in value]
    return value


_CONTAINERS: Final = frozenset({dict, list})


# --------------------------------------------------------------------------------------------
# Compiling and caching


def _compile_text(head: str, parts: tuple[tuple[_Ref, str], ...]) -> _Resolver:
    steps = tuple((_make_resolver(ref), literal) for ref, literal in parts)
    render = _render
    # Text usually holds one to a few references; building the string with an f-string is
    # markedly faster than a list and str.join at those sizes.
    if len(steps) == 1:
        ((ra, la),) = steps

        def resolve_text1(scope: _Scope, strict: bool) -> str:
            va = ra(scope, strict)
            return f"{head}{va if va.__class__ is str else render(va)}{la}"

        return resolve_text1
    if len(steps) == 2:
        (ra, la), (rb, lb) = steps

        def resolve_text2(scope: _Scope, strict: bool) -> str:
            va = ra(scope, strict)
            if va.__class__ is not str:
                va = render(va)
            vb = rb(scope, strict)
            if vb.__class__ is not str:
                vb = render(vb)
            return f"{head}{va}{la}{vb}{lb}"

        return resolve_text2
    if len(steps) <= 16:

        def resolve_text(scope: _Scope, strict: bool) -> str:
            out = head
            for resolve, literal in steps:
                value = resolve(scope, strict)
                if value.__class__ is not str:
                    value = render(value)
                out = f"{out}{value}{literal}"
            return out

        return resolve_text

    def resolve_long_text(scope: _Scope, strict: bool) -> str:
        out = [head]
        append = out.append
        for resolve, literal in steps:
            value = resolve(scope, strict)
            append(value if value.__class__ is str else render(value))
            append(literal)
        return "".join(out)

    return resolve_long_text


def _compile_literal(text: str) -> _Resolver:
    def resolve_literal(scope: _Scope, strict: bool) -> str:
        return text

    return resolve_literal


class TemplateCacheInfo(NamedTuple):
    """How many templates were compiled since the last clear, and the cache's size."""

    compiled: int
    currsize: int
    maxsize: int


_CACHE_MAXSIZE: Final = 8192
_cache: dict[str, _Resolver] = {}
_compiled_count = 0


def _compile(template: str) -> _Resolver:
    """Compile ``template`` (a string containing ``{{``) and remember it."""
    global _compiled_count
    parsed = _parse(template)
    if not parsed.parts:
        resolver = _compile_literal(parsed.head)
    elif parsed.whole:
        resolver = _make_resolver(parsed.parts[0][0])
    else:
        resolver = _compile_text(parsed.head, parsed.parts)
    if len(_cache) >= _CACHE_MAXSIZE:
        # Evict the oldest entry (dicts keep insertion order); another thread may have.
        with contextlib.suppress(KeyError, RuntimeError, StopIteration):
            del _cache[next(iter(_cache))]
    _cache[template] = resolver
    _compiled_count += 1
    return resolver


def template_cache_info() -> TemplateCacheInfo:
    """Statistics of the compiled-template cache (each distinct string is compiled once)."""
    return TemplateCacheInfo(_compiled_count, len(_cache), _CACHE_MAXSIZE)


def clear_template_cache() -> None:
    """Forget every compiled template and reset the counter."""
    global _compiled_count
    _cache.clear()
    _compiled_count = 0


# --------------------------------------------------------------------------------------------
# Public API


def compute_parameters(parameters: Any, scope: Mapping[str, Any], *, strict: bool = False) -> Any:
    """Return ``parameters`` with every ``{{path}}`` resolved against ``scope``.

    Dicts, lists and tuples are walked (dict keys are not resolved) and rebuilt; the input is
    never changed. A string that is exactly one ``{{...}}`` becomes the value itself, of any
    type (containers are copied); inside text a value is rendered (dict/list as compact JSON,
    None as empty, booleans as ``true``/``false``). A missing path gives None, or "" inside
    text; with ``strict=True`` it raises :class:`~docg_core.errors.VariableError` naming it.
    """
    return _resolve(parameters, scope, strict)


def _resolve(value: Any, scope: _Scope, strict: bool) -> Any:
    cls = value.__class__
    if cls is str:
        if "{{" not in value:
            return value
        resolver = _cache.get(value)
        if resolver is None:
            resolver = _compile(value)
        return resolver(scope, strict)
    if cls is dict:
        return _resolve_dict(value, scope, strict)
    if cls is list:
        return _resolve_list(value, scope, strict)
    if cls in _SCALARS:
        return value
    if isinstance(value, str):
        return _resolve(str(value), scope, strict) if "{{" in value else value
    if isinstance(value, Mapping):
        return _resolve_dict(value, scope, strict)
    if isinstance(value, tuple):
        return tuple(_resolve_list(value, scope, strict))
    if isinstance(value, list):
        return _resolve_list(value, scope, strict)
    return value


_SCALARS: Final = frozenset({int, float, bool, type(None)})


def _resolve_dict(value: Mapping[Any, Any], scope: _Scope, strict: bool) -> dict[Any, Any]:
    # The string case is inlined: most fields are strings, and a call per field costs.
    cache_get = _cache.get
    out: dict[Any, Any] = {}
    for key, item in value.items():
        cls = item.__class__
        if cls is str:
            if "{{" in item:
                resolver = cache_get(item)
                if resolver is None:
                    resolver = _compile(item)
                item = resolver(scope, strict)
        elif cls not in _SCALARS:
            item = _resolve(item, scope, strict)
        out[key] = item
    return out


def _resolve_list(value: list[Any] | tuple[Any, ...], scope: _Scope, strict: bool) -> list[Any]:
    cache_get = _cache.get
    out: list[Any] = []
    append = out.append
    for item in value:
        cls = item.__class__
        if cls is str:
            if "{{" in item:
                resolver = cache_get(item)
                if resolver is None:
                    resolver = _compile(item)
                item = resolver(scope, strict)
        elif cls not in _SCALARS:
            item = _resolve(item, scope, strict)
        append(item)
    return out


def iter_references(parameters: Any) -> Iterator[str]:
    """Yield the dotted path of every ``{{...}}`` in ``parameters``, in order, per occurrence.

    Paths are normalised (``{{ step.deal.items[0] }}`` gives ``"step.deal.items.0"``);
    escaped ``\\{{...}}`` and non-path contents are not references. Dict keys are not read.
    """
    if isinstance(parameters, str):
        if "{{" in parameters:
            for ref, _literal in _parse(parameters).parts:
                yield ref.path
    elif isinstance(parameters, Mapping):
        for item in parameters.values():
            yield from iter_references(item)
    elif isinstance(parameters, list | tuple):
        for item in parameters:
            yield from iter_references(item)
