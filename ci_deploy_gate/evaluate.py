"""Facts x rules -> decision, with the reasons. Pure: no I/O, no clock, no environment."""

from __future__ import annotations

from typing import NamedTuple

from ci_deploy_gate.context import Context
from ci_deploy_gate.expr import Atom, atoms, evaluate
from ci_deploy_gate.rules import RulesFile, Trigger


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


def decide(rules_file: RulesFile, context: Context) -> Decision:
    """Every rule is evaluated so the report explains all of them, not only the winner."""
    results = tuple(
        RuleResult(
            rule.name,
            evaluate(rule.condition, context),
            tuple(atoms(rule.condition, context)),
        )
        for rule in rules_file.rules
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
        if all(fire.trigger.job != rule.trigger.job for fire in fires):  # each job once
            fires.append(Fire(rule.name, rule.trigger))
    names = ", ".join(repr(rule.name) for rule in chosen)
    reason = f"rule {names} matched" if len(chosen) == 1 else f"rules {names} matched"
    return Decision(True, reason, first, results, tuple(fires))
