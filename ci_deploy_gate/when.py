"""The `when` map: each key a fact, every key must hold. The form a key takes follows
from its fact's kind (`context.FACTS`), in `FORMS`; the conditions are those the `if`
language builds, through the same constructors."""

from __future__ import annotations

import re

from ci_deploy_gate.conditions import (
    All,
    ConditionError,
    Contains,
    Frozen,
    Is,
    Matches,
    Not,
    Within,
    changed,
    fact_named,
    search,
    value_pattern,
)
from ci_deploy_gate.context import ENV_PREFIX, FACTS
from ci_deploy_gate.patterns import is_regex_literal
from ci_deploy_gate.records import NamedTuple
from ci_deploy_gate.spec import INVALID, At, Fields, Key, Section, Text, Walk
from ci_deploy_gate.yamllines import YamlMap, kind_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ci_deploy_gate.conditions import Expr

    Reader = Callable[[Walk, str, object, At], "list[Expr]"]

ALIASES = {"window": "within"}  # `window: NAME` reads as `within: NAME`


class Form(NamedTuple):
    """How a `when` key of one fact kind is written: its reader and its JSON Schema."""

    read: Reader
    schema: dict[str, Any]


def _one_or_list(item: dict[str, Any]) -> dict[str, Any]:
    return {"anyOf": [item, {"type": "array", "minItems": 1, "items": item}]}


def _flag(walk: Walk, name: str, value: object, at: At) -> list[Expr]:
    if not isinstance(value, bool):
        walk.problem(at, f"expected true or false, found {value!r}")
        return []
    return [Is(f"{name}: {str(value).lower()}", 0, name, value)]


def _values(walk: Walk, name: str, value: object, at: At) -> list[Expr]:
    values = value if isinstance(value, list) else [value]
    patterns = []
    for item in values:
        if isinstance(item, bool) or not isinstance(item, (str, int)) or item == "":
            hint = " (quote it)" if isinstance(item, (bool, float)) else ""
            walk.problem(
                at, f"expected text or a list of text, found {kind_of(item)} {item!r}{hint}"
            )
            return []
        try:
            patterns.append(value_pattern(str(item)))
        except ConditionError as exc:
            walk.problem(at, str(exc))
            return []
    if not patterns:
        walk.problem(at, "the list is empty: it would match nothing")
        return []
    shown = ", ".join(p.source for p in patterns)
    text = f"{name}: [{shown}]" if isinstance(value, list) else f"{name}: {shown}"
    return [Matches(text, 0, name, tuple(patterns))]


class PathPatterns(NamedTuple):
    """Gitignore-style path patterns: one, or a list read in order."""

    def read(self, walk: Walk, value: object, at: At) -> object:
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(item, str) and item for item in items):
            found = kind_of(value)
            return walk.problem(at, f"expected a path pattern or a list of them, found {found}")
        return tuple(items) if isinstance(value, list) else value

    def schema(self) -> dict[str, Any]:
        return _one_or_list({"type": "string", "minLength": 1})


ONLY = Section((Key("only", PathPatterns(), required=True),))


def _changed(walk: Walk, name: str, value: object, at: At) -> list[Expr]:
    """`changed: PATTERNS` (any path) or `changed: {only: PATTERNS}` (every path)."""
    only = isinstance(value, YamlMap)
    found = ONLY.read(walk, value, at) if only else PathPatterns().read(walk, value, at)
    if isinstance(found, Fields):
        found = found.values["only"]
    if not isinstance(found, (str, tuple)):
        return []
    patterns = (found,) if isinstance(found, str) else found
    shown = f"[{', '.join(patterns)}]" if isinstance(found, tuple) else found
    text = f"changed: {{only: {shown}}}" if only else f"changed: {shown}"
    try:
        return [changed(text, 0, patterns, only)]
    except ConditionError as exc:
        walk.problem(at, str(exc))
        return []


class Regex(NamedTuple):
    """A /regex/ written as text, searched for in prose."""

    def read(self, walk: Walk, value: object, at: At) -> object:
        if not isinstance(value, str) or not value:
            return walk.problem(at, f"expected text, found {kind_of(value)}")
        if not is_regex_literal(value):
            return walk.problem(at, f"expected a /regex/, found {value!r}")
        return value

    def schema(self) -> dict[str, Any]:
        return {
            "type": "string",
            "pattern": "^/.*/$",
            "description": "a /regex/, searched for; ^ and $ take each line",
        }


SEARCH = Section(
    (
        Key("contains", Text(), "the message holds this text"),
        Key("matches", Regex()),
    )
)


def _search(walk: Walk, name: str, value: object, at: At) -> list[Expr]:
    """`message: {contains: TEXT, matches: /re/}`: every key given must hold."""
    problems = len(walk.problems)
    fields = SEARCH.read(walk, value, at)
    if not isinstance(fields, Fields):
        return []
    given = [key.name for key in SEARCH.keys if key.name in fields.given]
    if not given:
        walk.problem(at, "give contains: TEXT or matches: /regex/")
        return []
    found: list[Expr] = []
    for key in given:
        item = fields.values[key]
        if key == "contains" and isinstance(item, str):
            found.append(Contains(f"{name} contains {item!r}", 0, name, item))
        elif isinstance(item, str):
            try:
                found.append(search(f"{name} matches {item}", 0, name, item))
            except ConditionError as exc:
                walk.problem(at.key(key, fields.line(key)), str(exc))
    return found if len(walk.problems) == problems else []


def _within(walk: Walk, name: str, value: object, at: At) -> list[Expr]:
    if isinstance(value, str) and value.strip():
        return [Within(f"within {value.strip()}", 0, "within", value.strip())]
    walk.problem(at, f"expected a window name, found {kind_of(value)}")
    return []


def _frozen(walk: Walk, name: str, value: object, at: At) -> list[Expr]:
    """`frozen: true` (some freeze is in force), `frozen: false` (none is)."""
    if not isinstance(value, bool):
        walk.problem(at, f"expected true or false, found {value!r}")
        return []
    frozen = Frozen("frozen", 0, "frozen", None)
    return [frozen if value else Not("frozen: false", 0, frozen)]


_TEXT = {"type": ["string", "integer"]}
FORMS: dict[str, Form] = {
    "text": Form(_values, _one_or_list(_TEXT)),
    "flag": Form(_flag, {"type": "boolean"}),
    "paths": Form(_changed, {"anyOf": [PathPatterns().schema(), ONLY.schema()]}),
    "prose": Form(_search, {**SEARCH.schema(), "minProperties": 1}),
    "messages": Form(_search, {**SEARCH.schema(), "minProperties": 1}),
    "window": Form(
        _within, {"type": "string", "minLength": 1, "description": "a window of windows:"}
    ),
    "freeze": Form(_frozen, {"type": "boolean"}),
}


class When(NamedTuple):
    """The `when` map of a rule: one condition per key (a search map may give two)."""

    def read(self, walk: Walk, value: object, at: At) -> object:
        if not isinstance(value, YamlMap) or not value:
            return walk.problem(at, f"expected a mapping of facts, found {kind_of(value)}")
        conditions: list[Expr] = []
        failed = False
        for key, item in value.items():
            name = ALIASES.get(str(key), str(key))
            inner = at.key(key, value.lines[key])
            try:
                kind = fact_named(name).kind
            except ConditionError as exc:
                walk.problem(At(inner.line, at.where), str(exc))
                failed = True
                continue
            found = FORMS[kind].read(walk, name, item, inner)
            failed = failed or not found
            conditions.extend(found)
        if failed:
            return INVALID
        text = " and ".join(leaf.text for leaf in conditions)
        return conditions[0] if len(conditions) == 1 else All(text, 0, tuple(conditions))

    def schema(self) -> dict[str, Any]:
        properties = {name: FORMS[fact.kind].schema for name, fact in FACTS.items()}
        properties.update((alias, properties[name]) for alias, name in ALIASES.items())
        return {
            "type": "object",
            "minProperties": 1,
            "additionalProperties": False,
            "description": "every key must hold",
            "properties": properties,
            "patternProperties": {f"^{re.escape(ENV_PREFIX)}.+$": FORMS["text"].schema},
        }
