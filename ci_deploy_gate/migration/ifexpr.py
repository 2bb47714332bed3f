"""Conditions in the `if` language, built as a small tree and printed once: what the
shell tests and the workflow filters translate into. Printing quotes every value the
gate's tokenizer (`expr`) would misread, and the result is parsed back by `expr.parse`
before it is written (`rulesfile`), so a printed rule always means what was built.
"""

from __future__ import annotations

import re

from ci_deploy_gate.context import ENV_PREFIX, FACTS
from ci_deploy_gate.expr import KEYWORDS
from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Union

_BARE = re.compile(r"[A-Za-z0-9_.:@+=%^~-][A-Za-z0-9_./:@+=%^~*?-]*")


class Const(NamedTuple):
    value: bool


class Leaf(NamedTuple):
    """`FACT is VALUE`, `FACT matches PATTERN` (a glob or /regex/), or a yes/no fact;
    false when the fact is unset, as in the gate."""

    fact: str
    op: str  # is | matches | flag
    value: str = ""


class Not(NamedTuple):
    operand: Cond


class And(NamedTuple):
    items: tuple[Cond, ...]


class Or(NamedTuple):
    items: tuple[Cond, ...]


if TYPE_CHECKING:
    Cond = Union[Const, Leaf, Not, And, Or]

TRUE = Const(True)
FALSE = Const(False)


def fact_of_variable(variable: str) -> str:
    """The gate's fact for a CircleCI variable, from the fact table: a text fact read from
    that one variable (CIRCLE_BRANCH: branch), else `env.NAME`. A fact made of several
    variables (pull_request: CIRCLE_PULL_REQUEST or CIRCLE_PR_NUMBER) is not one of them
    alone, so a test of one of those variables stays `env.NAME`, which is exact."""
    for name, fact in FACTS.items():
        if fact.source == "env" and fact.variables == (variable,) and fact.kind == "text":
            return name
    return f"{ENV_PREFIX}{variable}"


def is_set(fact: str) -> Cond:
    """Set and not empty: the glob `*` matches every value, and the gate reads an empty
    variable as unset."""
    return Leaf(fact, "matches", "*")


def negate(cond: Cond) -> Cond:
    if isinstance(cond, Const):
        return Const(not cond.value)
    if isinstance(cond, Not):
        return cond.operand
    return Not(cond)


def both(*items: Cond) -> Cond:
    flat: list[Cond] = []
    for item in items:
        if item == FALSE:
            return FALSE
        if item == TRUE:
            continue
        for each in item.items if isinstance(item, And) else (item,):
            if negate(each) in flat:
                return FALSE  # x and not x
            if each not in flat:
                flat.append(each)
    # `FACT is VALUE` and `FACT matches ...` already say the fact is set
    tested = {leaf.fact for leaf in flat if isinstance(leaf, Leaf) and leaf != is_set(leaf.fact)}
    flat = [
        item
        for item in flat
        if not (isinstance(item, Leaf) and item == is_set(item.fact) and item.fact in tested)
    ]
    return TRUE if not flat else flat[0] if len(flat) == 1 else And(tuple(flat))


def either(*items: Cond) -> Cond:
    flat: list[Cond] = []
    for item in items:
        if item == TRUE:
            return TRUE
        if item == FALSE:
            continue
        for each in item.items if isinstance(item, Or) else (item,):
            if negate(each) in flat:
                return TRUE  # x or not x: what an `if` without `else` leaves behind
            if each not in flat:
                flat.append(each)
    return FALSE if not flat else flat[0] if len(flat) == 1 else Or(tuple(flat))


def quote(value: str) -> str:
    """A value as the `if` tokenizer reads it back: bare when it is a plain word, else
    double-quoted with `"` and `\\` escaped."""
    if (
        value
        and _BARE.fullmatch(value)
        and value not in KEYWORDS
        and value not in ("true", "false")
    ):
        return value
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


def render(cond: Cond) -> str:
    """The condition as text; `not` binds tighter than `and`, `and` than `or`."""
    return _render(cond, 0)


def _render(cond: Cond, outer: int) -> str:
    if isinstance(cond, Const):
        return "true" if cond.value else "false"
    if isinstance(cond, Leaf):
        if cond.op == "flag":
            return cond.fact
        value = cond.value if cond.value.startswith("/") else quote(cond.value)
        return f"{cond.fact} {cond.op} {value}"
    if isinstance(cond, Not):
        return f"not {_render(cond.operand, 3)}"
    level, word = (2, " and ") if isinstance(cond, And) else (1, " or ")
    text = word.join(_render(item, level) for item in cond.items)
    return f"({text})" if outer > level else text


_REGEX_SPECIAL = frozenset(".^$*+?{}[]\\|()")
_CLASS_SPECIAL = frozenset("\\]^-[")


def escape(char: str, *, in_class: bool = False) -> str:
    """One literal character in a Python regex, escaped only where it must be (re.escape
    also escapes `-` and `/`, which reads badly in a rule); `/` as the gate's /regex/
    needs it."""
    if char == "/":
        return "\\/"
    special = _CLASS_SPECIAL if in_class else _REGEX_SPECIAL
    if char in special:
        return "\\" + char
    if char == "\n":
        return "\\n"
    return char


def slashed(regex: str) -> str:
    """A Python regex as the body of the gate's /regex/: every `/` escaped."""
    out: list[str] = []
    escaped = False
    for char in regex:
        if char == "/" and not escaped:
            out.append("\\/")
        else:
            out.append(char)
        escaped = char == "\\" and not escaped
    return "".join(out)


def mentions(cond: Cond, fact: str, op: str, value: str) -> bool:
    """Whether `cond` holds only when the leaf does: it is that leaf, or one of an `and`."""
    wanted = Leaf(fact, op, value)
    return cond == wanted or (isinstance(cond, And) and wanted in cond.items)
