"""`run`: the gate's decision, and on a match a command run in this job (once per matched
rule) instead of a deploy fired through the API: the `if [[ ... ]]; then ./deploy.sh; fi`
of a job that deploys what it built, with the rules reviewed and the decision explained.

`cli` reads its options (the gate's, before `--`) and says its errors; this module decides,
runs and reports.
"""

from __future__ import annotations

from ci_deploy_gate.errors import EXIT_CONFIG, EXIT_OK, CommandFailed, ConfigError, GateError
from ci_deploy_gate.gate import SoFar, Stopped, decided, nodes_to_wait_for, wait_for_nodes
from ci_deploy_gate.node import Node
from ci_deploy_gate.report import conclude
from ci_deploy_gate.steps import JOB_VARIABLE, RULE_VARIABLE, SHA_VARIABLE, plan, run_step

TYPE_CHECKING = False  # not `from typing`: a node that skips must start fast
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence

    from ci_deploy_gate.gate import Decided
    from ci_deploy_gate.options import Options
    from ci_deploy_gate.report import Output
    from ci_deploy_gate.steps import Step

PROG = "ci-deploy-gate run"
USAGE = f"{PROG} [OPTIONS] -- COMMAND [ARG...]"
NO_DASHES = f"the command to run goes after --: {USAGE}"
NO_COMMAND = f"no command after --: {USAGE}"
DESCRIPTION = (
    "Decide as the gate does (node 0 only, --wait-for-nodes, windows, freezes, forks) and, "
    "instead of firing a deploy, run COMMAND once for each matched rule in file order (the "
    f"one rule under match: first), with {RULE_VARIABLE}, {JOB_VARIABLE} (when the rule "
    f"names a trigger job) and {SHA_VARIABLE} (CIRCLE_SHA1) set, stopping at the first that "
    "fails. Its output is passed through; with --json its stdout goes to stderr, so that "
    "stdout stays one JSON document. --dry-run prints the command instead of running it. "
    "Rules need no trigger here."
)
EPILOG = (
    "exit codes: 0 every command succeeded, or skipped, or dry-run; otherwise the failed "
    "command's own code (126 it cannot be run, 127 it is not there, 128+N signal N ended "
    "it); 1 CircleCI unreachable or another node failed (--wait-for-nodes); 2 usage, "
    "rules-file or environment error; 3 an internal error. SIGTERM and SIGINT are passed on "
    "to the command."
)


def main(options: Options, argv: Sequence[str], environ: Mapping[str, str], output: Output) -> int:
    """The exit code of a run that ended well; raises Stopped for one that did not, a
    failed command's own code in it."""
    for flag, given in (("--force", options.force), ("--wait", options.wait)):
        if given:
            raise ConfigError(f"{flag} applies to a deploy the gate fires, not to run")
    found = decided(options, environ, output, start=SoFar(commands=()), triggers=False)
    if isinstance(found, Node):
        reason = found.skip_reason()
        return _finish(
            output, conclude(output, decision="skipped", reason=reason, node=found, commands=())
        )
    outcome, so_far = found.outcome, found.so_far
    if not outcome.fire:
        return _finish(output, _conclude(output, found, so_far, "skipped", outcome.reason))
    try:
        steps = _steps(found, argv)
        waits = nodes_to_wait_for(options, found)
        if options.dry_run:
            so_far = so_far._replace(commands=steps)
            also = (
                f"; would first wait for the other {len(found.node.others)} nodes" if waits else ""
            )
            reason = f"{outcome.reason}; nothing run{also}"
            return _finish(output, _conclude(output, found, so_far, "dry-run", reason))
        if not found.context.on_circleci:
            raise ConfigError(
                "environment: CIRCLECI is not 'true': refusing to run the command outside "
                "CircleCI (use --dry-run to see what would run, or set CIRCLECI=true "
                "deliberately)"
            )
        if waits:
            wait_for_nodes(options, found, output, waits)
    except GateError as exc:
        raise Stopped(exc, so_far) from None
    so_far = _run_steps(steps, found, so_far, output, to_stderr=options.json)
    ran = steps[0].shown + (f" {len(steps)} times" if len(steps) > 1 else "")
    reason = f"{outcome.reason}; ran {ran}"
    return _finish(output, _conclude(output, found, so_far, "ran", reason))


def _steps(found: Decided, argv: Sequence[str]) -> tuple[Step, ...]:
    """One step per matched rule, in file order; the first only under `match: first`.
    Like a deploy the gate fires, a command is never run unpinned."""
    rules_file, outcome = found.rules_file, found.outcome
    matched = [rule for rule, result in zip(rules_file.rules, outcome.results) if result.matched]
    chosen = matched[:1] if rules_file.match == "first" else matched
    sha = found.context.sha
    if not sha:
        raise ConfigError(
            f"environment: CIRCLE_SHA1 is not set: refusing to run the command of rule "
            f"{chosen[0].name!r} unpinned"
        )
    return tuple(
        plan(rule.name, rule.trigger.job if rule.trigger else None, sha, argv) for rule in chosen
    )


def _run_steps(
    steps: Sequence[Step], found: Decided, so_far: SoFar, output: Output, *, to_stderr: bool
) -> SoFar:
    """Each step in turn, until one fails: that one ends the run with its own code."""
    done: tuple[Step, ...] = ()
    for step in steps:
        output.note(f"{PROG}: rule {step.rule!r}: running {step.shown}")
        ran = run_step(step, found.env, stdout_to_stderr=to_stderr)
        done = (*done, ran)
        if ran.exit_code:
            raise Stopped(CommandFailed(ran.said, ran.exit_code), so_far._replace(commands=done))
    return so_far._replace(commands=done)


def _conclude(
    output: Output, found: Decided, so_far: SoFar, decision: str, reason: str
) -> str | None:
    return conclude(
        output,
        decision=decision,
        reason=reason,
        node=found.node,
        outcome=so_far.outcome,
        sources=so_far.sources,
        commands=so_far.commands or (),
    )


def _finish(output: Output, problem: str | None) -> int:
    """The run itself ended well; only --report's file can still make it exit 2."""
    if problem:
        output.note(f"{PROG}: error: {problem}")
        return EXIT_CONFIG
    return EXIT_OK
