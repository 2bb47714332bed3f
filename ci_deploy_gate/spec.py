"""A file format described as data: the kinds of value a key can hold, one walker that
checks a loaded document against a description and converts it, and the JSON Schema of
the same description (pre-commit's `clientlib.py` with cfgv is the model).

Unlike cfgv, the walker never stops at the first problem and every problem keeps its
`file:line`, its key path and a "did you mean". `rules` describes the rules file with
these kinds; adding a key is one `Key` there.
"""

from __future__ import annotations

import re

from ci_deploy_gate.errors import suggest
from ci_deploy_gate.records import NamedTuple
from ci_deploy_gate.yamllines import YamlList, YamlMap, kind_of, line_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any, Protocol

    class Kind(Protocol):
        """What every kind of value provides."""

        def read(self, walk: Walk, value: object, at: At) -> object: ...
        def schema(self) -> dict[str, Any]: ...

    Check = Callable[["Walk", "Fields", "At"], None]


class Invalid:
    """What a value with a problem reads as; the problem itself is in `Walk.problems`."""

    def __repr__(self) -> str:
        return "INVALID"


INVALID = Invalid()


class Problem(NamedTuple):
    path: str
    line: int
    where: str
    message: str

    def __str__(self) -> str:
        where = f"{self.where}: " if self.where else ""
        return f"{self.path}:{self.line}: {where}{self.message}"


class At(NamedTuple):
    """Where a value stands: its line, the key path a problem names, and how a key inside
    it is joined to that path (`circleci.url`, `rules[0] (name): trigger.job`)."""

    line: int
    where: str = ""
    joiner: str = "."
    owner: str = ""  # the path of the mapping holding it
    name: str = ""  # its key in that mapping

    def key(self, name: object, line: int) -> At:
        where = f"{self.where}{self.joiner}{name}" if self.where else str(name)
        return At(line, where, ".", self.where, str(name))


class Fields(NamedTuple):
    """A mapping read by a `Section`: every key's converted value (its default when
    absent) and the lines, for the checks that relate one key to another."""

    values: dict[str, Any]
    given: YamlMap
    at: At

    def line(self, key: str) -> int:
        return line_of(self.given, key)

    def ok(self, *keys: str) -> bool:
        return not any(isinstance(self.values.get(key), Invalid) for key in keys)


class Walk:
    """One pass over a loaded document: problems collected, values converted."""

    def __init__(self, path: str, document: object) -> None:
        self.path = path
        self.document = document
        self.problems: list[Problem] = []
        self.found: dict[str, object] = {}  # top-level key -> its value, once read

    def problem(self, at: At, message: str, *, owner: bool = False) -> Invalid:
        """Record a problem at `at` (or, `owner`, at the mapping holding it)."""
        where = at.owner if owner else at.where
        self.problems.append(Problem(self.path, at.line, where, message))
        return INVALID

    def sorted_problems(self) -> list[Problem]:
        return sorted(self.problems, key=lambda problem: problem.line)


# --- kinds of value ----------------------------------------------------------------------


class Key(NamedTuple):
    name: str
    kind: Kind
    description: str = ""
    default: object = None
    required: bool = False
    missing: str = ""  # said after "missing required key": what to give
    only_with: tuple[str, str] | None = None  # (key, value) of the same section it needs


class Section(NamedTuple):
    """A mapping with known keys; unknown keys are problems with a "did you mean"."""

    keys: tuple[Key, ...]
    description: str = ""
    one_of: tuple[str, ...] = ()  # exactly one of these keys
    checks: tuple[Check, ...] = ()  # relations between keys, after each key is read
    top: bool = False  # the document itself: its values are `Walk.found` as they are read

    def key(self, name: str) -> Key:
        return next(key for key in self.keys if key.name == name)

    def with_key(self, name: str, **changes: Any) -> Section:
        """This section with one key changed: a variant derived from the one description,
        not a copy of it."""
        keys = tuple(key._replace(**changes) if key.name == name else key for key in self.keys)
        return self._replace(keys=keys)

    def read(self, walk: Walk, value: object, at: At) -> object:
        if not isinstance(value, YamlMap):
            return walk.problem(at, f"expected a mapping, found {kind_of(value)}")
        names = [key.name for key in self.keys]
        for name in value:
            if name not in names:
                hint = suggest(str(name), names) if isinstance(name, str) else None
                extra = f" ({hint})" if hint else f" (known keys: {', '.join(names)})"
                walk.problems.append(
                    Problem(
                        walk.path, line_of(value, name), at.where, f"unknown key {name!r}{extra}"
                    )
                )
        for key in self.keys:
            if key.required and key.name not in value:
                said = f" ({key.missing})" if key.missing else ""
                walk.problem(At(value.line, at.where), f"missing required key {key.name!r}{said}")
        fields = Fields({}, value, At(value.line, at.where, at.joiner, at.owner))
        for key in self.keys:
            if key.name not in value:
                fields.values[key.name] = key.default
            else:
                inner = at.key(key.name, line_of(value, key.name))
                fields.values[key.name] = key.kind.read(walk, value[key.name], inner)
                if key.only_with and fields.values.get(key.only_with[0]) != key.only_with[1]:
                    other, wanted = key.only_with
                    walk.problem(
                        inner,
                        f"applies only with {other}: {wanted} "
                        f"(set {_dotted(at.where, other)}: {wanted})",
                    )
            if self.top:
                walk.found[key.name] = fields.values[key.name]
        given = [name for name in self.one_of if name in value]
        if self.one_of and len(given) != 1:
            quoted = " or ".join(repr(name) for name in self.one_of)
            walk.problem(At(value.line, at.where), f"needs exactly one of {quoted}")
        for check in self.checks:
            check(walk, fields, at)
        return fields

    def schema(self) -> dict[str, Any]:
        found: dict[str, Any] = {"type": "object", "additionalProperties": False}
        if self.description:
            found["description"] = self.description
        required = [key.name for key in self.keys if key.required]
        if required:
            found["required"] = required
        if self.one_of:
            found["oneOf"] = [{"required": [name]} for name in self.one_of]
        found["properties"] = {key.name: key_schema(key) for key in self.keys}
        return found


def _dotted(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key


def key_schema(key: Key) -> dict[str, Any]:
    found = key.kind.schema()
    if key.default is not None and "default" not in found:
        default = key.default
        found["default"] = _plain(default) if isinstance(default, float) else default
    if key.description and "description" not in found:
        found["description"] = key.description
    return found


class ListOf(NamedTuple):
    """A non-empty list; each item is named in problems by its index and its `label` key."""

    item: Kind
    what: str  # "a list of rules"
    label: str = "name"
    joiner: str = "."  # between an item and a key inside it
    unique: str = ""  # the message when an item's label repeats: {name}, {first}
    description: str = ""

    def read(self, walk: Walk, value: object, at: At) -> object:
        if not isinstance(value, YamlList) or not value:
            return walk.problem(at, f"expected {self.what}, found {kind_of(value)}")
        seen: dict[str, str] = {}
        items = []
        for index, item in enumerate(value):
            name = item.get(self.label) if isinstance(item, YamlMap) else None
            name = name.strip() if isinstance(name, str) and name.strip() else None
            where = f"{at.where}[{index}]" + (f" ({name})" if name else "")
            inner = At(line_of(value, index), where, self.joiner, at.where)
            if name is not None and self.unique:
                if name in seen:
                    walk.problem(inner, self.unique.format(name=name, first=seen[name]))
                seen.setdefault(name, f"{at.where}[{index}]")
            items.append(self.item.read(walk, item, inner))
        return items

    def schema(self) -> dict[str, Any]:
        found: dict[str, Any] = {"type": "array", "minItems": 1}
        if self.description:
            found["description"] = self.description
        found["items"] = self.item.schema()
        return found


class MapOf(NamedTuple):
    """A non-empty mapping of names the user chooses to values of one kind."""

    value: Kind
    what: str  # "a mapping of named windows"
    description: str = ""

    def read(self, walk: Walk, value: object, at: At) -> object:
        if not isinstance(value, YamlMap) or not value:
            return walk.problem(at, f"expected {self.what}, found {kind_of(value)}")
        return {
            str(name): self.value.read(walk, item, at.key(name, line_of(value, name)))
            for name, item in value.items()
        }

    def schema(self) -> dict[str, Any]:
        found: dict[str, Any] = {"type": "object", "minProperties": 1}
        if self.description:
            found["description"] = self.description
        found["additionalProperties"] = self.value.schema()
        return found


class TextOr(NamedTuple):
    """A short text form or a mapping (`trigger: deploy` or `trigger: {job: ...}`)."""

    text: Text
    section: Section
    blank: str  # the problem with a blank text
    description: str = ""

    def read(self, walk: Walk, value: object, at: At) -> object:
        if isinstance(value, str):
            return value.strip() if value.strip() else walk.problem(at, self.blank)
        return self.section.read(walk, value, at)

    def schema(self) -> dict[str, Any]:
        found: dict[str, Any] = {"description": self.description} if self.description else {}
        found["anyOf"] = [self.text.schema(), self.section.schema()]
        return found


class Text(NamedTuple):
    """Non-blank text, stripped; `pattern` (a regex the JSON Schema shares) or `check`
    (what a regex cannot say) may narrow it."""

    pattern: str | None = None
    says: str = "expected text matching {pattern}, found {value!r}"
    check: Callable[[str], str | None] | None = None

    def read(self, walk: Walk, value: object, at: At) -> object:
        if not isinstance(value, str) or not value.strip():
            return walk.problem(at, f"expected text, found {kind_of(value)}")
        text = value.strip()
        if self.pattern is not None and not re.match(self.pattern, text):
            return walk.problem(at, self.says.format(value=text, pattern=self.pattern))
        problem = self.check(text) if self.check else None
        return walk.problem(at, problem) if problem else text

    def schema(self) -> dict[str, Any]:
        found: dict[str, Any] = {"type": "string", "minLength": 1}
        if self.pattern is not None:
            found["pattern"] = self.pattern
        return found


class Choice(NamedTuple):
    """One of a few names, said as "a or b", or (`listed`) as "one of a, b". `text`: a
    setting read as text first (stripped; anything else is "expected text"), as every
    `circleci` setting is."""

    values: tuple[str, ...]
    text: bool = False
    listed: bool = False

    def read(self, walk: Walk, value: object, at: At) -> object:
        if self.text:
            value = Text().read(walk, value, at)
            if isinstance(value, Invalid):
                return value
        if value in self.values:
            return value
        named = f"one of {', '.join(self.values)}" if self.listed else " or ".join(self.values)
        return walk.problem(at, f"expected {named}, found {value!r}")

    def schema(self) -> dict[str, Any]:
        return {"enum": list(self.values)}


class Flag(NamedTuple):
    def read(self, walk: Walk, value: object, at: At) -> object:
        if isinstance(value, bool):
            return value
        return walk.problem(at, f"expected true or false, found {value!r}")

    def schema(self) -> dict[str, Any]:
        return {"type": "boolean"}


class Number(NamedTuple):
    low: float
    high: float
    whole: bool
    what: str  # "a whole number", "a number of seconds"

    def read(self, walk: Walk, value: object, at: At) -> object:
        kinds = (int,) if self.whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds):
            return self._problem(walk, value, at)
        assert isinstance(value, (int, float))
        if not self.low <= value <= self.high:
            return self._problem(walk, value, at)
        return int(value) if self.whole else float(value)

    def _problem(self, walk: Walk, value: object, at: At) -> Invalid:
        return walk.problem(
            at, f"expected {self.what} from {self.low:g} to {self.high:g}, found {value!r}"
        )

    def schema(self) -> dict[str, Any]:
        return {
            "type": "integer" if self.whole else "number",
            "minimum": _plain(self.low),
            "maximum": _plain(self.high),
        }


def _plain(number: float) -> int | float:
    return int(number) if float(number).is_integer() else number


class Const(NamedTuple):
    value: int
    says: str  # "{value!r} is not supported (this gate reads {const})"

    def read(self, walk: Walk, value: object, at: At) -> object:
        if value != self.value or isinstance(value, bool):
            return walk.problem(at, self.says.format(value=value, const=self.value))
        return value

    def schema(self) -> dict[str, Any]:
        return {"const": self.value}


def walk_document(section: Section, document: object, path: str) -> tuple[object, list[Problem]]:
    """The converted document and every problem in it, in line order."""
    walk = Walk(path, document)
    found = section.read(walk, document, At(1))
    return found, walk.sorted_problems()


def json_schema(section: Section, *, title: str, description: str) -> dict[str, Any]:
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": title,
        "description": description,
        **section.schema(),
    }
