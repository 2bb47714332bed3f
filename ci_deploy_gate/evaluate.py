"""Facts x rules -> decision, with the reasons. Pure: no I/O, no clock, no environment."""

from __future__ import annotations

from ci_deploy_gate.conditions import Changed, evaluate, leaves
from ci_deploy_gate.context import COMMIT_FACTS, RANGE_FACTS, Calendar
from ci_deploy_gate.explain import atoms
from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ci_deploy_gate.conditions import Expr
    from ci_deploy_gate.context import Context, PathQuery
    from ci_deploy_gate.explain import Atom
    from ci_deploy_gate.model import RulesFile, Trigger


class RangeNeeds(NamedTuple):
    queries: frozenset[PathQuery]  # the `changed` conditions to answer while reading the diff
    messages: bool  # whether a rule tests `messages`


class GitNeeds(NamedTuple):
    """What the rules ask of git, so that `gitfacts` reads only that, and nothing at all
    (not even an import) for rules without git facts."""

    commit: frozenset[str]  # of COMMIT_FACTS
    ranges: dict[str | None, RangeNeeds]  # by changed_base as written; None: the default

    def __bool__(self) -> bool:
        return bool(self.commit or self.ranges)


def git_needs(rules_file: RulesFile) -> GitNeeds:
    commit: set[str] = set()
    ranges: dict[str | None, RangeNeeds] = {}
    conditions: list[tuple[Expr, str | None]] = [
        (rule.condition, rules_file.base_of(rule)) for rule in rules_file.rules
    ]
    conditions += [(f.unless, rules_file.changed_base) for f in rules_file.freezes if f.unless]
    for condition, base in conditions:
        for leaf in leaves(condition):
            if leaf.field in COMMIT_FACTS:
                commit.add(leaf.field)
            elif leaf.field in RANGE_FACTS:
                needs = ranges.get(base, RangeNeeds(frozenset(), False))
                if isinstance(leaf, Changed):
                    needs = needs._replace(queries=needs.queries | {leaf.query})
                else:
                    needs = needs._replace(messages=True)
                ranges[base] = needs
    return GitNeeds(frozenset(commit), ranges)


class RuleResult(NamedTuple):
    name: str
    matched: bool
    conditions: tuple[Atom, ...]


class Fire(NamedTuple):
    """One job to fire, and the rule that asked for it."""

    rule: str
    trigger: Trigger


class Decision(NamedTuple):
    fire: bool
    reason: str
    rule: str | None  # the first matching rule, fired or not
    results: tuple[RuleResult, ...]
    fires: tuple[Fire, ...]


def calendar(rules_file: RulesFile, context: Context) -> Calendar:
    """Every window and freeze at the run's instant. A freeze's `unless` is a condition
    like any rule's, on the file's changed_base, and may test the windows."""
    from ci_deploy_gate.windows import freeze_state, window_state

    now = context.now
    if now is None:
        raise ValueError("a rules file with windows or freezes needs the run's instant")
    windows = {window.name: window_state(window, now) for window in rules_file.windows}
    facts = context._replace(calendar=Calendar(windows, {})).scoped(rules_file.changed_base)
    freezes = {
        freeze.name: freeze_state(
            freeze,
            now,
            excused=freeze.unless.text
            if freeze.unless is not None and evaluate(freeze.unless, facts)
            else None,
        )
        for freeze in rules_file.freezes
    }
    return Calendar(windows, freezes)


def decide(rules_file: RulesFile, context: Context) -> Decision:
    """Every rule is evaluated so the report explains all of them, not only the winner."""
    if rules_file.windows or rules_file.freezes:
        context = context._replace(calendar=calendar(rules_file, context))
    results = tuple(
        RuleResult(
            rule.name,
            evaluate(rule.condition, facts),
            tuple(atoms(rule.condition, facts)),
        )
        for rule, facts in (
            (rule, context.scoped(rules_file.base_of(rule))) for rule in rules_file.rules
        )
    )
    matched = [rule for rule, result in zip(rules_file.rules, results) if result.matched]
    if not matched:
        return Decision(False, "no rule matched", None, results, ())
    first = matched[0].name
    if context.get("fork") is True and not rules_file.allow_forks:
        reason = (
            f"rule {first!r} matched, but this is a forked pull request: its code comes from "
            "outside the project and CircleCI withholds its secrets "
            "(set allow_forks: true in the rules file to deploy forks)"
        )
        return Decision(False, reason, first, results, ())
    chosen = matched[:1] if rules_file.match == "first" else matched
    fires: list[Fire] = []
    for rule in chosen:
        trigger = rule.trigger  # None only for `run`, which fires nothing
        if trigger and all(fire.trigger.job != trigger.job for fire in fires):  # each job once
            fires.append(Fire(rule.name, trigger))
    names = ", ".join(repr(rule.name) for rule in chosen)
    reason = f"rule {names} matched" if len(chosen) == 1 else f"rules {names} matched"
    return Decision(True, reason, first, results, tuple(fires))
