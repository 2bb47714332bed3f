"""The explanation: each rule's conditions as `[x] condition  (fact: actual)` lines and the
report's `conditions` list, with the fact's value as it decided the verdict."""

from __future__ import annotations

from ci_deploy_gate.conditions import (
    LEAVES,
    All,
    AnyOf,
    Changed,
    Constant,
    Contains,
    Frozen,
    Not,
    Search,
    Within,
    evaluate,
    items_of,
)
from ci_deploy_gate.context import EXAMPLES, Calendar, ChangeRange
from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Union

    from ci_deploy_gate.conditions import Expr, Facts, Leaf
    from ci_deploy_gate.context import FactValue, TimeState

    # What an explanation shows of a fact: its value, or for a list fact the part that
    # decided the verdict
    Shown = Union[str, bool, None, dict[str, object]]


CONSTANT = "constant"  # what an explanation names as the "fact" of `true` and `false`


class Atom(NamedTuple):
    """One condition as shown in an explanation: its text, verdict and the fact's value."""

    condition: str
    result: bool
    actual: Shown
    field: str


def atoms(expr: Expr, facts: Facts) -> Iterator[Atom]:
    """The conditions an explanation lists, each with its verdict and the fact's value."""
    if isinstance(expr, (All, AnyOf)):
        for item in expr.items:
            yield from atoms(item, facts)
    elif isinstance(expr, Constant):
        yield Atom(expr.text, expr.value, expr.value, CONSTANT)
    elif isinstance(expr, Not):
        # `not pull_request` reads best as one condition; `not (a or b)` shows a and b.
        if isinstance(expr.operand, Constant):
            yield Atom(expr.text, not expr.operand.value, expr.operand.value, CONSTANT)
        elif isinstance(expr.operand, LEAVES):
            field = expr.operand.field
            shown = shown_actual(expr.operand, facts.get(field))
            yield Atom(expr.text, evaluate(expr, facts), shown, field)
        else:
            yield from atoms(expr.operand, facts)
    else:
        actual = facts.get(expr.field)
        yield Atom(expr.text, expr.test(actual), shown_actual(expr, actual), expr.field)


def _time_shown(state: TimeState) -> Shown:
    return {"active": state.active, "text": state.text}


def shown_actual(leaf: Leaf, actual: FactValue) -> Shown:
    """A list fact is shown by what decided the verdict, not in full: a change can hold
    100,000 paths."""
    if isinstance(leaf, Changed):
        if not isinstance(actual, ChangeRange):
            return None
        answer = actual.answers[leaf.query]
        key = "outside" if leaf.query.only else "matching"
        return {
            "base": actual.base,
            "how": actual.how,
            "paths": actual.total,
            key: list(answer.examples),
        }
    if isinstance(actual, Calendar):
        if isinstance(leaf, Within):
            return _time_shown(actual.windows[leaf.name])
        if isinstance(leaf, Frozen) and leaf.name is not None:
            return _time_shown(actual.freezes[leaf.name])
        active = [state for state in actual.freezes.values() if state.active]
        texts = [state.text for state in active or actual.freezes.values()]
        return {"active": bool(active), "text": "; ".join(texts) or "no freeze"}
    if isinstance(actual, ChangeRange):
        return None
    if isinstance(actual, tuple):  # messages: the subject lines of the commits that hit
        items = items_of(actual)
        hits = [
            item.strip().splitlines()[0] if item.strip() else ""
            for item in items
            if isinstance(leaf, (Contains, Search)) and leaf.hit(item)
        ]
        return {"commits": len(items), "matching": hits[:EXAMPLES]}
    return actual
