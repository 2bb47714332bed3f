"""CircleCI's logic statements (a workflow's `when:` and `unless:`), evaluated for a set of
pipeline parameters, so `check` and `init` can tell which workflows a pipeline runs.

A value the config takes from outside the parameters (`<< pipeline.git.branch >>`) is
unknown, and so is what it decides: the logic has three values, True, False and None
(unknown). The statements are CircleCI's: literals, `<< pipeline.parameters.X >>`,
`and`, `or`, `not`, `equal` and `matches` (configuration reference, "Logic statements").
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Union

    Truth = Union[bool, None]  # None: depends on what the config cannot tell


class _Unknown:
    """A value only the running pipeline knows (its branch, its trigger source...)."""

    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN = _Unknown()
_INTERPOLATION = re.compile(r"<<\s*([^<>]*?)\s*>>")
PARAMETER = "pipeline.parameters."


def value(node: object, parameters: Mapping[str, object]) -> object:
    """A literal with its `<< pipeline.parameters.X >>` put in (`parameters` maps the
    interpolation's whole name to its value): a whole-string one keeps the value's type, as
    CircleCI substitutes it; inside text it becomes text; one not in `parameters` is UNKNOWN."""
    if not isinstance(node, str):
        return node
    whole = _INTERPOLATION.fullmatch(node.strip())
    if whole:
        return _lookup(whole.group(1), parameters)
    parts: list[str] = []
    position = 0
    for found in _INTERPOLATION.finditer(node):
        said = _lookup(found.group(1), parameters)
        if said is UNKNOWN:
            return UNKNOWN
        parts += [node[position : found.start()], _text(said)]
        position = found.end()
    return "".join([*parts, node[position:]])


def _lookup(name: str, known: Mapping[str, object]) -> object:
    return known.get(name, UNKNOWN)


def _text(said: object) -> str:
    if isinstance(said, bool):
        return "true" if said else "false"
    return "" if said is None else str(said)


def truth(node: object, parameters: Mapping[str, object]) -> Truth:
    """Whether a logic statement holds for these parameters; None when it cannot be told."""
    if isinstance(node, Mapping) and len(node) == 1:
        ((operator, argument),) = node.items()
        rule = _OPERATORS.get(operator)
        return rule(argument, parameters) if rule else None
    if isinstance(node, (Mapping, list)):
        return None  # not a statement CircleCI accepts: claim nothing
    return _truthy(value(node, parameters))


def _truthy(said: object) -> Truth:
    """CircleCI's falsy values: false, null, 0, NaN and the empty string."""
    if said is UNKNOWN:
        return None
    if isinstance(said, float) and math.isnan(said):
        return False
    return bool(said) if isinstance(said, (bool, int, float, str)) or said is None else True


def _and(argument: object, parameters: Mapping[str, object]) -> Truth:
    said = [truth(each, parameters) for each in _arguments(argument)]
    if not said or False in said:
        return False  # a statement with no arguments is false
    return None if None in said else True


def _or(argument: object, parameters: Mapping[str, object]) -> Truth:
    said = [truth(each, parameters) for each in _arguments(argument)]
    if True in said:
        return True
    return None if None in said else False


def _not(argument: object, parameters: Mapping[str, object]) -> Truth:
    said = truth(argument, parameters)
    return None if said is None else not said


def _equal(argument: object, parameters: Mapping[str, object]) -> Truth:
    said = [value(each, parameters) for each in _arguments(argument)]
    if not said:
        return False
    if any(each is UNKNOWN for each in said):
        return None
    return all(_same(said[0], each) for each in said[1:])


def _same(one: object, other: object) -> bool:
    """Equal as CircleCI compares: `true` is not 1."""
    return type(one) is type(other) and one == other


def _matches(argument: object, parameters: Mapping[str, object]) -> Truth:
    if not isinstance(argument, Mapping):
        return None
    pattern, said = (
        value(argument.get("pattern"), parameters),
        value(argument.get("value"), parameters),
    )
    if not isinstance(pattern, str) or said is UNKNOWN:
        return None
    try:
        return re.fullmatch(pattern, _text(said)) is not None
    except re.error:
        return None


def _arguments(argument: object) -> list[object]:
    return list(argument) if isinstance(argument, list) else [argument]


_OPERATORS = {"and": _and, "or": _or, "not": _not, "equal": _equal, "matches": _matches}


def runs(workflow: Mapping[str, object], parameters: Mapping[str, object]) -> Truth:
    """Whether a workflow runs in a pipeline with these parameters: its `when` holds (no
    `when` holds) and its `unless` does not."""
    when = truth(workflow["when"], parameters) if "when" in workflow else True
    unless = truth(workflow["unless"], parameters) if "unless" in workflow else False
    if when is False or unless is True:
        return False
    return True if when is True and unless is False else None


def interpolated(node: object) -> Iterator[str]:
    """The names in `<< ... >>` anywhere in a piece of config (`pipeline.parameters.X`,
    `parameters.Y`), in order."""
    if isinstance(node, str):
        yield from (found.group(1) for found in _INTERPOLATION.finditer(node))
    elif isinstance(node, Mapping):
        for each in node.values():
            yield from interpolated(each)
    elif isinstance(node, list):
        for each in node:
            yield from interpolated(each)


def parameter(name: str) -> str:
    """The interpolation name of pipeline parameter `name`."""
    return PARAMETER + name
