"""Facts x rules -> decision, with the reasons. No I/O, clock or environment in its own
code: the git facts are read by the facts object handed in (`Context.git`), when a verdict
first asks for one."""

from __future__ import annotations

from ci_deploy_gate.conditions import Changed, evaluate, leaves
from ci_deploy_gate.context import GIT_FACTS, Calendar
from ci_deploy_gate.explain import explained, unneeded
from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ci_deploy_gate.conditions import Expr
    from ci_deploy_gate.context import Context, PathQuery, TimeState
    from ci_deploy_gate.explain import Atom
    from ci_deploy_gate.model import Rule, RulesFile, Trigger


class GitNeeds(NamedTuple):
    """What the rules may ask of git. None of it is read here: `gitfacts.LazyGit` reads a
    fact when a verdict first needs it, and nothing at all (not even an import) for rules
    without git facts."""

    facts: frozenset[str]  # the git facts some condition tests
    # the `changed` conditions of each base, all answered in one pass over its diff; by
    # changed_base as written, None: the default
    queries: dict[str | None, frozenset[PathQuery]]

    def __bool__(self) -> bool:
        return bool(self.facts)


def git_needs(rules_file: RulesFile) -> GitNeeds:
    facts: set[str] = set()
    queries: dict[str | None, frozenset[PathQuery]] = {}
    conditions: list[tuple[Expr, str | None]] = [
        (rule.condition, rules_file.base_of(rule)) for rule in rules_file.rules
    ]
    conditions += [(f.unless, rules_file.changed_base) for f in rules_file.freezes if f.unless]
    for condition, base in conditions:
        for leaf in leaves(condition):
            if leaf.field in GIT_FACTS:
                facts.add(leaf.field)
            if isinstance(leaf, Changed):
                queries[base] = queries.get(base, frozenset()) | {leaf.query}
    return GitNeeds(frozenset(facts), queries)


class RuleResult(NamedTuple):
    name: str
    matched: bool | None  # None: not evaluated (`match: first` decided before it)
    conditions: tuple[Atom, ...]

    @property
    def evaluated(self) -> bool:
        return self.matched is not None


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
    like any rule's, on the file's changed_base, and may test the windows; it is evaluated
    only for a freeze in force (one that is not needs no excuse), so its facts are read
    only then."""
    from ci_deploy_gate.windows import freeze_state, in_force, window_state

    now = context.now
    if now is None:
        raise ValueError("a rules file with windows or freezes needs the run's instant")
    windows = {window.name: window_state(window, now) for window in rules_file.windows}
    context = context._replace(calendar=Calendar(windows, {}))
    freezes: dict[str, TimeState] = {}
    for index, freeze in enumerate(rules_file.freezes):
        excused = None
        if freeze.unless is not None and in_force(freeze, now):
            where = f"{rules_file.path}:{freeze.line}: freezes[{index}] ({freeze.name}): unless"
            if evaluate(freeze.unless, context.scoped(rules_file.changed_base, where)):
                excused = freeze.unless.text
        freezes[freeze.name] = freeze_state(freeze, now, excused=excused)
    return Calendar(windows, freezes)


def decide(rules_file: RulesFile, context: Context) -> Decision:
    """Rules in file order, each condition left to right and only as far as its verdict
    needs, so a git fact no verdict needs is never read. `match: first` stops at the
    first matching rule (those after it are not evaluated); `match: all` evaluates every
    rule, so the report explains each."""
    if rules_file.windows or rules_file.freezes:
        context = context._replace(calendar=calendar(rules_file, context))
    results: list[RuleResult] = []
    for index, rule in enumerate(rules_file.rules):
        if rules_file.match == "first" and any(result.matched for result in results):
            results.append(RuleResult(rule.name, None, tuple(unneeded(rule.condition))))
        else:
            results.append(_verdict(rules_file, index, rule, context))
    matched = [rule for rule, result in zip(rules_file.rules, results) if result.matched]
    if not matched:
        return Decision(False, "no rule matched", None, tuple(results), ())
    first = matched[0].name
    if context.get("fork") is True and not rules_file.allow_forks:
        reason = (
            f"rule {first!r} matched, but this is a forked pull request: its code comes from "
            "outside the project and CircleCI withholds its secrets "
            "(set allow_forks: true in the rules file to deploy forks)"
        )
        return Decision(False, reason, first, tuple(results), ())
    chosen = matched[:1] if rules_file.match == "first" else matched
    # every matched rule's trigger; `targets` sends one request per place they go
    # (None only for `run`, which fires nothing)
    fires = [Fire(rule.name, rule.trigger) for rule in chosen if rule.trigger is not None]
    names = ", ".join(repr(rule.name) for rule in chosen)
    reason = f"rule {names} matched" if len(chosen) == 1 else f"rules {names} matched"
    return Decision(True, reason, first, tuple(results), tuple(fires))


def _verdict(rules_file: RulesFile, index: int, rule: Rule, context: Context) -> RuleResult:
    """One rule, on the facts as it sees them: a git fact that cannot be read names it."""
    where = f"{rules_file.path}:{rule.line}: rules[{index}] ({rule.name})"
    matched, shown = explained(rule.condition, context.scoped(rules_file.base_of(rule), where))
    return RuleResult(rule.name, matched, shown)
