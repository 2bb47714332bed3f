"""Conditions as values: the nodes both the `if` language (`expr`) and the `when` map
(`when`) build, how they are evaluated, and the constructors that check what a condition
means, so each meaning is checked once whichever way the rule is written.

Every node keeps its source text and column (0 for the `when` map) for errors and the
explanation. A new condition kind is one more record with `field` and `test`, added to
`Leaf`.
"""

from __future__ import annotations

import re

from ci_deploy_gate.context import FACTS, Calendar, ChangeRange, Fact, PathQuery, fact_of
from ci_deploy_gate.errors import suggest
from ci_deploy_gate.patterns import Pattern, PatternError, path_matcher, pattern
from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator
    from typing import Protocol, Union

    from ci_deploy_gate.context import FactValue

    class Facts(Protocol):
        def get(self, name: str) -> FactValue: ...


class ConditionError(ValueError):
    """A condition that cannot mean anything: what is wrong, and what to write instead."""

    def __init__(self, message: str, hint: str | None = None) -> None:
        self.message, self.hint = message, hint
        super().__init__(f"{message} ({hint})" if hint else message)


# Leaves test one fact each. `column` is 0 for conditions written as a `when` map.
# A new condition kind is one more NamedTuple with `field` and `test`, added to `Leaf`.


class Flag(NamedTuple):
    """A bare yes/no fact: `pull_request`."""

    text: str
    column: int
    field: str

    def test(self, actual: FactValue) -> bool:
        return actual is True


class Is(NamedTuple):
    """`FIELD is VALUE` / `FIELD is not VALUE`; an unset fact is no value at all."""

    text: str
    column: int
    field: str
    value: str | bool
    negated: bool = False

    def test(self, actual: FactValue) -> bool:
        equal = actual is not None and actual == self.value
        return not equal if self.negated else equal


class Matches(NamedTuple):
    """`FIELD matches PATTERN` and `FIELD in [...]`: true when any pattern matches."""

    text: str
    column: int
    field: str
    patterns: tuple[Pattern, ...]

    def test(self, actual: FactValue) -> bool:
        return isinstance(actual, str) and any(p.matches(actual) for p in self.patterns)


class Contains(NamedTuple):
    """`message contains TEXT`; `messages contain TEXT`: any commit of the range."""

    text: str
    column: int
    field: str
    needle: str

    def test(self, actual: FactValue) -> bool:
        return any(self.needle in item for item in items_of(actual))

    def hit(self, item: str) -> bool:
        return self.needle in item


class Search(NamedTuple):
    """`message matches /re/`: a commit message is prose, so the regex is searched for
    (re.MULTILINE: ^ and $ take each line) rather than matched against the whole."""

    text: str
    column: int
    field: str
    regex: str

    def test(self, actual: FactValue) -> bool:
        return any(self.hit(item) for item in items_of(actual))

    def hit(self, item: str) -> bool:
        return re.search(self.regex, item, re.MULTILINE) is not None


class Changed(NamedTuple):
    """`changed PATTERNS` / `changed only PATTERNS`, answered by `gitfacts` while it
    reads the diff; an unread range is no change at all, and tests false."""

    text: str
    column: int
    field: str
    query: PathQuery

    def test(self, actual: FactValue) -> bool:
        return isinstance(actual, ChangeRange) and actual.answers[self.query].result


class Within(NamedTuple):
    """`within NAME`: the window NAME of `windows:` is open at the run's instant."""

    text: str
    column: int
    field: str
    name: str

    def test(self, actual: FactValue) -> bool:
        return isinstance(actual, Calendar) and actual.windows[self.name].active


class Frozen(NamedTuple):
    """`frozen`: some freeze is in force (and its `unless` does not hold); `frozen NAME`:
    that one. Without a calendar, nothing is frozen."""

    text: str
    column: int
    field: str
    name: str | None

    def test(self, actual: FactValue) -> bool:
        if not isinstance(actual, Calendar):
            return False
        if self.name is not None:
            return actual.freezes[self.name].active
        return any(state.active for state in actual.freezes.values())


def items_of(actual: FactValue) -> tuple[str, ...]:
    """A text fact as one item, `messages` as its items; anything else as none."""
    if isinstance(actual, str):
        return (actual,)
    if type(actual) is tuple:  # `messages`; not the NamedTuple facts
        return tuple(item for item in actual if isinstance(item, str))
    return ()


class Constant(NamedTuple):
    """`true` or `false`: a rule that always (or never) holds, such as a migrated
    `if [[ true ]]`."""

    text: str
    column: int
    value: bool


class Not(NamedTuple):
    text: str
    column: int
    operand: Expr


class All(NamedTuple):
    text: str
    column: int
    items: tuple[Expr, ...]


class AnyOf(NamedTuple):
    text: str
    column: int
    items: tuple[Expr, ...]


if TYPE_CHECKING:
    Leaf = Union[Flag, Is, Matches, Contains, Search, Changed, Within, Frozen]
    Expr = Union[
        Flag, Is, Matches, Contains, Search, Changed, Within, Frozen, Constant, Not, All, AnyOf
    ]
LEAVES = (Flag, Is, Matches, Contains, Search, Changed, Within, Frozen)


def leaves(expr: Expr) -> Iterator[Leaf]:
    if isinstance(expr, (All, AnyOf)):
        for item in expr.items:
            yield from leaves(item)
    elif isinstance(expr, Not):
        yield from leaves(expr.operand)
    elif not isinstance(expr, Constant):
        yield expr


def evaluate(expr: Expr, facts: Facts) -> bool:
    if isinstance(expr, Constant):
        return expr.value
    if isinstance(expr, Not):
        return not evaluate(expr.operand, facts)
    if isinstance(expr, All):
        return all(evaluate(item, facts) for item in expr.items)
    if isinstance(expr, AnyOf):
        return any(evaluate(item, facts) for item in expr.items)
    return expr.test(facts.get(expr.field))


# --- constructors: what a condition means, checked once for `if` and `when` alike ------


def fact_named(name: str) -> Fact:
    """The fact a condition tests; ConditionError with a "did you mean" for any other name."""
    found = fact_of(name)
    if found is None:
        known = [*FACTS, "env.NAME"]
        raise ConditionError(
            f"unknown fact {name!r}",
            suggest(name, known) or f"known: {', '.join(FACTS)}, env.NAME",
        )
    return found


def value_pattern(text: str) -> Pattern:
    """An exact value, a glob or a /regex/, by its form; ConditionError for a broken regex."""
    try:
        return pattern(text)
    except PatternError as exc:
        raise ConditionError(str(exc)) from None


def search(text: str, column: int, field: str, literal: str) -> Search:
    """`message matches /re/`: the /regex/ must compile."""
    value_pattern(literal)
    return Search(text, column, field, literal[1:-1])


def changed(text: str, column: int, patterns: Iterable[str], only: bool) -> Changed:
    """`changed [...]` / `changed only [...]`: patterns git would read, matching something."""
    found = tuple(patterns)
    try:
        path_matcher(found)
    except PatternError as exc:
        raise ConditionError(str(exc)) from None
    return Changed(text, column, "changed", PathQuery(found, only))
