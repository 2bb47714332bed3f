"""The explanation: each rule's conditions as `[x] condition  (fact: actual)` lines and the
report's `conditions` list, with the fact's value as it decided the verdict, and the
conditions the verdict did not need (their facts never read)."""

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
    """One condition as shown in an explanation: its text, verdict and the fact's value;
    `result` is None for a condition the verdict did not need (nor its fact read)."""

    condition: str
    result: bool | None
    actual: Shown
    field: str

    @property
    def needed(self) -> bool:
        return self.result is not None


def explained(expr: Expr, facts: Facts) -> tuple[bool, tuple[Atom, ...]]:
    """The verdict and the conditions an explanation lists. `and` and `or` go left to
    right and stop once the verdict is known, as `evaluate` does: the conditions after
    that are listed as not needed, and their facts (git's, above all) are never read."""
    found: list[Atom] = []
    return _explain(expr, facts, found), tuple(found)


def _explain(expr: Expr, facts: Facts, found: list[Atom]) -> bool:
    if isinstance(expr, (All, AnyOf)):
        deciding = isinstance(expr, AnyOf)  # what ends an `or`: true; an `and`: false
        for index, item in enumerate(expr.items):
            if _explain(item, facts, found) is deciding:
                for rest in expr.items[index + 1 :]:
                    found.extend(unneeded(rest))
                return deciding
        return not deciding
    if isinstance(expr, Constant):
        found.append(Atom(expr.text, expr.value, expr.value, CONSTANT))
        return expr.value
    if isinstance(expr, Not):
        # `not pull_request` reads best as one condition; `not (a or b)` shows a and b.
        if isinstance(expr.operand, Constant):
            value = expr.operand.value
            found.append(Atom(expr.text, not value, value, CONSTANT))
            return not value
        if isinstance(expr.operand, LEAVES):
            leaf = expr.operand
            actual = facts.get(leaf.field)
            result = not leaf.test(actual)
            found.append(Atom(expr.text, result, shown_actual(leaf, actual), leaf.field))
            return result
        return not _explain(expr.operand, facts, found)
    actual = facts.get(expr.field)
    result = expr.test(actual)
    found.append(Atom(expr.text, result, shown_actual(expr, actual), expr.field))
    return result


def unneeded(expr: Expr) -> Iterator[Atom]:
    """The conditions of `expr` as an explanation lists them, none evaluated: what follows
    a decided `and` or `or`, or a rule that `match: first` never reached."""
    if isinstance(expr, (All, AnyOf)):
        for item in expr.items:
            yield from unneeded(item)
    elif isinstance(expr, Not) and not isinstance(expr.operand, (Constant, *LEAVES)):
        yield from unneeded(expr.operand)
    else:
        shown = expr.operand if isinstance(expr, Not) else expr
        field = shown.field if isinstance(shown, LEAVES) else CONSTANT
        yield Atom(expr.text, None, None, field)


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
