"""The command line: parse once, then environment -> context -> rules -> decision ->
request -> report, with every GateError turned into one message and its exit code here."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ci_deploy_gate import __version__
from ci_deploy_gate.credentials import DEFAULT_TOKEN_ENV, secret_values
from ci_deploy_gate.errors import EXIT_CONFIG, EXIT_OK, ConfigError, GateError
from ci_deploy_gate.node import Node, read_node
from ci_deploy_gate.report import Output, conclude, document

if TYPE_CHECKING:
    from ci_deploy_gate.circleci import TriggerRequest, TriggerResponse
    from ci_deploy_gate.evaluate import Decision

DEFAULT_RULES = ".circleci/deploy-gate.yml"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ci-deploy-gate",
        description=(
            "Decide from a reviewed rules file whether this CircleCI build fires its "
            "deploy job, pinned to CIRCLE_SHA1. Only node 0 of a parallel job fires."
        ),
        epilog="exit codes: 0 fired, skipped or dry-run; 1 CircleCI refused or unreachable; "
        "2 usage, rules-file or environment error",
    )
    parser.add_argument(
        "--rules",
        metavar="PATH",
        help=f"the rules file (default: $DEPLOY_GATE_RULES, else {DEFAULT_RULES})",
    )
    parser.add_argument(
        "--dry-run", action="store_true", help="decide and print the request, send nothing"
    )
    parser.add_argument("--json", action="store_true", help="print only the JSON report on stdout")
    parser.add_argument("--report", metavar="FILE", help="also write the JSON report to FILE")
    parser.add_argument(
        "--env-file",
        metavar="PATH",
        action="append",
        default=[],
        help="lay a dotenv file (KEY=VALUE) over the environment; repeatable",
    )
    parser.add_argument(
        "--set",
        metavar="NAME=VALUE",
        action="append",
        default=[],
        dest="assignments",
        help="set one variable over the environment and --env-file; repeatable",
    )
    parser.add_argument(
        "--api-url",
        metavar="URL",
        help="the CircleCI host (default: $DEPLOY_GATE_API_URL, then circleci.url, "
        "then https://circleci.com)",
    )
    parser.add_argument(
        "--verbose", action="store_true", help="log each request and answer on stderr"
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


class _Run:
    """What is known so far, so an error report carries everything decided before it."""

    def __init__(self) -> None:
        self.node: Node | None = None
        self.outcome: Decision | None = None
        self.records: list[tuple[TriggerRequest, TriggerResponse | None]] = []


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    args = _parser().parse_args(argv)
    process_env = os.environ if environ is None else environ
    output = Output(
        as_json=args.json,
        report_path=args.report,
        secrets=secret_values(process_env, DEFAULT_TOKEN_ENV),
    )
    run = _Run()
    try:
        code = _gate(
            run,
            output,
            environ=process_env,
            rules=args.rules,
            dry_run=args.dry_run,
            env_files=args.env_file,
            assignments=args.assignments,
            api_url=args.api_url,
            verbose=args.verbose,
        )
    except GateError as exc:
        doc = document(
            decision=exc.decision,
            reason=str(exc),
            node=run.node,
            outcome=run.outcome,
            records=run.records,
        )
        problem = output.finish(doc, "")
        output.note(f"ci-deploy-gate: {exc.decision}: {exc}")
        if problem:
            output.note(f"ci-deploy-gate: error: {problem}")
        return exc.exit_code
    return code


def _finish(problem: str | None, output: Output) -> int:
    """The run itself ended well; only --report's file can still make it exit 2."""
    if problem:
        output.note(f"ci-deploy-gate: error: {problem}")
        return EXIT_CONFIG
    return EXIT_OK


def _gate(
    run: _Run,
    output: Output,
    *,
    environ: Mapping[str, str],
    rules: str | None,
    dry_run: bool,
    env_files: Sequence[str],
    assignments: Sequence[str],
    api_url: str | None,
    verbose: bool,
) -> int:
    from ci_deploy_gate.envfile import overlay

    env = overlay(environ, env_files, assignments) if env_files or assignments else environ
    output.secrets.extend(secret_values(env, DEFAULT_TOKEN_ENV))
    run.node = read_node(env)
    if not run.node.fires:
        reason = run.node.skip_reason()
        return _finish(conclude(output, decision="skipped", reason=reason, node=run.node), output)

    from ci_deploy_gate.context import build_context
    from ci_deploy_gate.evaluate import decide
    from ci_deploy_gate.rules import load_rules

    rules_file = load_rules(rules or env.get("DEPLOY_GATE_RULES") or DEFAULT_RULES)
    output.secrets.extend(secret_values(env, rules_file.circleci.token_env))
    context = build_context(env, vcs=rules_file.circleci.vcs)
    run.outcome = outcome = decide(rules_file, context)
    if not outcome.fire:
        problem = conclude(
            output, decision="skipped", reason=outcome.reason, node=run.node, outcome=outcome
        )
        return _finish(problem, output)

    from ci_deploy_gate.circleci import build_trigger, send
    from ci_deploy_gate.urls import DEFAULT_API_URL, check_api_url

    host = api_url or env.get("DEPLOY_GATE_API_URL") or rules_file.circleci.url or DEFAULT_API_URL
    problem = check_api_url(host)
    if problem:
        raise ConfigError(f"API URL: {problem}")
    requests = [
        build_trigger(api_url=host, context=context, rule=fire.rule, trigger=fire.trigger)
        for fire in outcome.fires
    ]
    if dry_run:
        run.records = [(request, None) for request in requests]
        problem = conclude(
            output,
            decision="dry-run",
            reason=f"{outcome.reason}; nothing sent",
            node=run.node,
            outcome=outcome,
            records=run.records,
        )
        return _finish(problem, output)

    if not context.on_circleci:
        raise ConfigError(
            "environment: CIRCLECI is not 'true': refusing a real trigger outside CircleCI "
            "(use --dry-run to see what would be sent, or set CIRCLECI=true deliberately)"
        )
    from ci_deploy_gate.credentials import read_token

    token = read_token(env, rules_file.circleci.token_env)
    log = output.note if verbose else None
    for request in requests:
        run.records.append((request, None))  # stays so if send fails: the report shows it
        run.records[-1] = (request, send(request, token, log=log))
    fired = ", ".join(request.job for request in requests)
    problem = conclude(
        output,
        decision="triggered",
        reason=f"{outcome.reason}; fired {fired}",
        node=run.node,
        outcome=outcome,
        records=run.records,
    )
    return _finish(problem, output)
