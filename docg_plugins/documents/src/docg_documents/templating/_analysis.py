"""Read a template without rendering it: its tags, their problems, the data paths it uses.

The renderers and :func:`inspect_template` collect the tags of a document in order, each with
where it is (``paragraph 3``, ``slide 2, shape 'Title 1'``, ``line 4``). Each group of tags
(a Word story, a PowerPoint text frame, an HTML file) is one Jinja template; the tags of a
group are parsed as one skeleton template, one tag per line, so a Jinja error's line number
names the tag.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from jinja2 import TemplateSyntaxError, nodes

from ._model import TemplateInfo, TemplateProblem
from ._runs import OPENER, TAG, clean_tag
from .environment import join_path, make_environment

__all__ = ["LocatedTag", "analyse", "find_tags"]

# Names a template may use that are not data.
_GLOBALS = frozenset(
    {"range", "lipsum", "dict", "cycler", "joiner", "namespace", "loop", "self", "caller"}
)
# Filters that return the elements of their input: a loop over them walks the same list.
_SAME_ELEMENTS = frozenset(
    {"sort", "reverse", "list", "unique", "selectattr", "rejectattr", "default", "d"}
)
_BLOCKS = ("for", "if", "with", "macro", "call", "filter", "raw", "block", "autoescape")


@dataclass(frozen=True)
class LocatedTag:
    text: str
    location: str


def find_tags(text: str, location: str) -> tuple[list[LocatedTag], list[TemplateProblem]]:
    """The tags in ``text`` (one paragraph or one file) and the tags opened but never closed."""
    tags: list[LocatedTag] = []
    problems: list[TemplateProblem] = []
    position = 0
    for match in TAG.finditer(text):
        problems.extend(_unclosed(text[position : match.start()], location))
        tags.append(LocatedTag(clean_tag(match.group()), location))
        position = match.end()
    problems.extend(_unclosed(text[position:], location))
    return tags, problems


def _unclosed(text: str, location: str) -> list[TemplateProblem]:
    match = OPENER.search(text)
    if match is None:
        return []
    closer = {"{{": "}}", "{%": "%}", "{#": "#}"}[match.group()]
    fragment = text[match.start() : match.start() + 60]
    return [
        TemplateProblem(
            f"the tag is not closed: add {closer!r} (a tag must end in the same paragraph)",
            location,
            fragment,
        )
    ]


# ----------------------------------------------------------------------- docxtpl dialect

_DOCXTPL_PREFIX = re.compile(r"^\{([{%#])(?:tr|tc|p|r)\s")
_DOCXTPL_CELL = re.compile(r"^\{%\s*(?:colspan|cellbg)\s+(.*?)\s*%\}$", re.DOTALL)
_DOCXTPL_MERGE = re.compile(r"^\{%\s*(?:vm|hm)\s*%\}$")


def docxtpl_to_jinja(tag: str) -> str:
    """``{%tr for x in y %}`` → ``{% for x in y %}``; docxtpl's own tags as plain Jinja."""
    if _DOCXTPL_MERGE.match(tag):
        return ""
    cell = _DOCXTPL_CELL.match(tag)
    if cell:
        return "{{ " + cell.group(1) + " }}"
    return _DOCXTPL_PREFIX.sub(lambda m: "{" + m.group(1) + " ", tag)


# ------------------------------------------------------------------------------ analysis


def _message(exc: TemplateSyntaxError) -> str:
    return str(exc.message or exc).strip()


def analyse(
    groups: Iterable[Sequence[LocatedTag]],
    problems: Sequence[TemplateProblem] = (),
    *,
    filters: Mapping[str, Callable[..., Any]] | None = None,
    docxtpl: bool = False,
    order: Sequence[str] = (),
) -> TemplateInfo:
    """Syntax problems, variables, loops and image placeholders of the tag ``groups``.

    ``order`` lists the locations in document order; errors are sorted by it.
    """
    env = make_environment(filters)
    env.filters.setdefault("image", lambda value, *a, **k: value)
    collector = _Collector(env.filters, env.tests)
    found = list(problems)
    for group in groups:
        lines: list[str] = []
        expressions: list[tuple[LocatedTag, nodes.Template]] = []
        for tag in group:
            text = docxtpl_to_jinja(tag.text) if docxtpl else tag.text
            if text.startswith("{{"):
                try:
                    expression = env.parse(text)
                except TemplateSyntaxError as exc:
                    found.append(TemplateProblem(_message(exc), tag.location, tag.text))
                    text = "{{ '' }}"
                else:
                    found.extend(_unknown_names(expression, tag, env.filters, env.tests))
                    expressions.append((tag, expression))
            lines.append(text.replace("\n", " ").replace("\r", " "))
        try:
            tree = env.parse("\n".join(lines))
        except TemplateSyntaxError as exc:
            found.extend(_block_problems(exc, group, lines))
            # Best effort: the variables of the expressions, without loop context.
            for tag, expression in expressions:
                collector.group = [tag]
                collector.visit(expression, {})
            continue
        collector.group = group
        collector.visit(tree, {})
    found.extend(collector.problems)
    return TemplateInfo(
        variables=list(collector.variables),
        loops=list(collector.loops),
        images=list(collector.images),
        errors=_in_order(_unique(found), order),
    )


def _unknown_name(
    node: nodes.Filter | nodes.Test,
    tag: LocatedTag,
    filters: Mapping[str, Any],
    tests: Mapping[str, Any],
) -> list[TemplateProblem]:
    known = filters if isinstance(node, nodes.Filter) else tests
    if node.name in known:
        return []
    kind = "filter" if isinstance(node, nodes.Filter) else "test"
    return [TemplateProblem(f"unknown {kind} {node.name!r}", tag.location, tag.text)]


def _unknown_names(
    tree: nodes.Node, tag: LocatedTag, filters: Mapping[str, Any], tests: Mapping[str, Any]
) -> list[TemplateProblem]:
    problems = []
    for node in tree.find_all((nodes.Filter, nodes.Test)):
        if isinstance(node, nodes.Filter | nodes.Test):
            problems.extend(_unknown_name(node, tag, filters, tests))
    return problems


def _unique(problems: list[TemplateProblem]) -> list[TemplateProblem]:
    return list(dict.fromkeys(problems))


def _in_order(problems: list[TemplateProblem], order: Sequence[str]) -> list[TemplateProblem]:
    rank = {location: index for index, location in enumerate(dict.fromkeys(order))}
    return sorted(problems, key=lambda p: rank.get(p.location, len(rank)))


def _block_problems(
    exc: TemplateSyntaxError, group: Sequence[LocatedTag], lines: Sequence[str]
) -> list[TemplateProblem]:
    if "end of template" in _message(exc):
        problems = []
        for tag, name in _unclosed_blocks(group, lines):
            prefix = _DOCXTPL_PREFIX.match(tag.text)
            kind = f"{tag.text[2 : prefix.end() - 1]} " if prefix else " "
            problems.append(
                TemplateProblem(
                    f"{{%{kind}{name} %}} is never closed: add {{%{kind}end{name} %}} after it",
                    tag.location,
                    tag.text,
                )
            )
        if problems:
            return problems
    if not group:
        return [TemplateProblem(_message(exc), "template", "")]
    tag = group[min(max((exc.lineno or 1) - 1, 0), len(group) - 1)]
    return [TemplateProblem(_message(exc), tag.location, tag.text)]


def _unclosed_blocks(
    group: Sequence[LocatedTag], lines: Sequence[str]
) -> list[tuple[LocatedTag, str]]:
    stack: list[tuple[LocatedTag, str]] = []
    for tag, line in zip(group, lines, strict=True):
        match = re.match(r"\{%-?\s*(\w+)(.*?)-?%\}$", line, re.DOTALL)
        if match is None:
            continue
        name, rest = match.group(1), match.group(2)
        if name in _BLOCKS or (name == "set" and "=" not in rest):
            stack.append((tag, name))
        elif name.startswith("end") and stack and stack[-1][1] == name[3:]:
            stack.pop()
    return stack


def _bound_names(target: nodes.Node) -> list[str]:
    """The names a ``for``/``set``/``with`` target binds (``x``; ``k, v``)."""
    if isinstance(target, nodes.Name):
        return [target.name]
    return [name.name for name in target.find_all(nodes.Name)]


@dataclass
class _Collector:
    filters: Mapping[str, Any]
    tests: Mapping[str, Any]
    group: Sequence[LocatedTag] = ()
    variables: dict[str, None] = field(default_factory=dict)
    loops: dict[str, None] = field(default_factory=dict)
    images: dict[str, None] = field(default_factory=dict)
    problems: list[TemplateProblem] = field(default_factory=list)

    def _tag(self, node: nodes.Node) -> LocatedTag:
        index = min(max(node.lineno - 1, 0), len(self.group) - 1)
        return self.group[index] if self.group else LocatedTag("", "template")

    def path(self, node: nodes.Node, scope: dict[str, str | None]) -> str | None:
        """The data path an expression reads, or None when it is not one."""
        if isinstance(node, nodes.Name):
            if node.name in scope:
                return scope[node.name]
            return None if node.name in _GLOBALS else node.name
        if isinstance(node, nodes.Getattr):
            base = self.path(node.node, scope)
            return None if base is None else join_path(base, node.attr)
        if isinstance(node, nodes.Getitem):
            base = self.path(node.node, scope)
            if base is None:
                return None
            if isinstance(node.arg, nodes.Const) and isinstance(node.arg.value, str | int):
                return join_path(base, node.arg.value)
            return f"{base}[]"
        if isinstance(node, nodes.Filter) and node.name in _SAME_ELEMENTS and node.node is not None:
            return self.path(node.node, scope)
        if (
            isinstance(node, nodes.Call)
            and isinstance(node.node, nodes.Getattr)
            and node.node.attr in ("items", "values", "keys")
        ):
            return self.path(node.node.node, scope)
        return None

    def visit(self, node: nodes.Node, scope: dict[str, str | None]) -> None:
        if isinstance(node, nodes.Name | nodes.Getattr | nodes.Getitem):
            path = self.path(node, scope)
            if path is not None:
                self.variables.setdefault(path, None)
                if isinstance(node, nodes.Getitem):
                    self.visit(node.arg, scope)
                return
        elif isinstance(node, nodes.Call) and isinstance(node.node, nodes.Getattr):
            base = self.path(node.node.node, scope)
            if base is not None and node.node.attr in ("items", "values", "keys", "get"):
                first = node.args[0] if node.args else None
                if node.node.attr == "get" and isinstance(first, nodes.Const):
                    self.variables.setdefault(join_path(base, first.value), None)
                else:
                    self.variables.setdefault(base, None)
                for argument in node.args[1:] if node.node.attr == "get" else node.args:
                    self.visit(argument, scope)
                return
        elif isinstance(node, nodes.For):
            self.visit(node.iter, scope)
            iterated = self.path(node.iter, scope)
            if iterated is not None:
                self.loops.setdefault(iterated, None)
            inner = dict(scope)
            inner["loop"] = None
            for bound in _bound_names(node.target):
                inner[bound] = None
            if isinstance(node.target, nodes.Name) and iterated is not None:
                inner[node.target.name] = f"{iterated}[]"
            for child in [*(node.body or []), *([node.test] if node.test else [])]:
                self.visit(child, inner)
            for child in node.else_ or []:
                self.visit(child, scope)
            return
        elif isinstance(node, nodes.Assign):
            self.visit(node.node, scope)
            alias = self.path(node.node, scope) if isinstance(node.target, nodes.Name) else None
            for bound in _bound_names(node.target):
                scope[bound] = alias
            return
        elif isinstance(node, nodes.AssignBlock):
            for child in node.body:
                self.visit(child, scope)
            for bound in _bound_names(node.target):
                scope[bound] = None
            return
        elif isinstance(node, nodes.With):
            inner = dict(scope)
            for target, value in zip(node.targets, node.values, strict=True):
                self.visit(value, scope)
                for bound in _bound_names(target):
                    inner[bound] = (
                        self.path(value, scope) if isinstance(target, nodes.Name) else None
                    )
            for child in node.body:
                self.visit(child, inner)
            return
        elif isinstance(node, nodes.Macro | nodes.CallBlock):
            inner = dict(scope)
            for argument in node.args:
                inner[argument.name] = None
            inner["caller"] = None
            for child in node.body:
                self.visit(child, inner)
            return
        elif isinstance(node, nodes.Filter | nodes.Test):
            self.problems.extend(_unknown_name(node, self._tag(node), self.filters, self.tests))
            if isinstance(node, nodes.Filter) and node.name == "image" and node.node is not None:
                image = self.path(node.node, scope)
                if image is not None:
                    self.images.setdefault(image, None)
        for child in node.iter_child_nodes():
            self.visit(child, scope)
