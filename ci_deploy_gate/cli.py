"""The command line: parse once, then environment -> context -> rules -> decision ->
request -> report, with every GateError turned into one message and its exit code here."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING

from ci_deploy_gate import __version__
from ci_deploy_gate.credentials import DEFAULT_TOKEN_ENV, secret_values
from ci_deploy_gate.errors import EXIT_CONFIG, EXIT_OK, ConfigError, GateError
from ci_deploy_gate.node import Node, read_node
from ci_deploy_gate.report import Output, conclude, document

if TYPE_CHECKING:
    from datetime import datetime

    from ci_deploy_gate.circleci.model import Fired, TriggerRequest
    from ci_deploy_gate.circleci.transport import Client
    from ci_deploy_gate.context import Context
    from ci_deploy_gate.evaluate import Decision
    from ci_deploy_gate.rules import CircleCISettings, RulesFile

DEFAULT_RULES = ".circleci/deploy-gate.yml"
COMMANDS = ("check", "schema", "init")  # in `commands`, imported only for them
DEFAULT_WAIT_TIMEOUT = 1800.0  # --wait-timeout: 30 minutes
MAX_WAIT_TIMEOUT = 6 * 3600.0


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ci-deploy-gate",
        description=(
            "Decide from a reviewed rules file whether this CircleCI build fires its "
            "deploy job, pinned to CIRCLE_SHA1. Only node 0 of a parallel job fires."
        ),
        epilog="other commands: check (validate the rules against .circleci/config.yml), "
        "schema (the rules file's JSON Schema), init (a starter rules file); "
        "see ci-deploy-gate COMMAND --help. "
        "exit codes: 0 fired, already triggered, skipped or dry-run; 1 CircleCI refused "
        "or unreachable, or (--wait, --wait-for-nodes) the deploy or another node failed; "
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
        "--force",
        action="store_true",
        help="fire even when a build of the job at this revision already exists",
    )
    parser.add_argument(
        "--wait",
        action="store_true",
        help="follow the fired build or pipeline to its end; exit 1 unless it succeeds",
    )
    parser.add_argument(
        "--wait-timeout",
        metavar="SECONDS",
        type=_seconds,
        default=DEFAULT_WAIT_TIMEOUT,
        help=f"how long --wait and --wait-for-nodes wait (default {DEFAULT_WAIT_TIMEOUT:g})",
    )
    parser.add_argument(
        "--wait-for-nodes",
        action="store_true",
        help="on node 0, fire only after every other parallel node passed "
        "(also wait_for_nodes: true in the rules file)",
    )
    parser.add_argument(
        "--now",
        metavar="ISO-8601",
        type=_instant,
        help="decide the windows and freezes at this instant, with an offset or Z "
        "(2026-11-20T17:00:00+01:00), instead of the clock",
    )
    parser.add_argument(
        "--repo",
        metavar="PATH",
        default=".",
        help="the git checkout the git facts and a local dry-run read (default: .)",
    )
    parser.add_argument(
        "--verbose",
        action="store_true",
        help="log each request and answer (method, URL, status, time, attempt) on stderr",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser


def _seconds(value: str) -> float:
    try:
        seconds = float(value)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= MAX_WAIT_TIMEOUT:
        raise argparse.ArgumentTypeError(
            f"expected seconds from 1 to {MAX_WAIT_TIMEOUT:g}, found {value!r}"
        )
    return seconds


def _instant(value: str) -> datetime:
    """--now: ISO 8601 with an offset or Z; a time without a zone would be a guess."""
    from datetime import datetime

    text = value.strip()
    text = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an ISO 8601 instant such as 2026-11-20T17:00:00+01:00, found {value!r}"
        ) from None
    if found.tzinfo is None:
        raise argparse.ArgumentTypeError(
            f"{value!r} has no offset: add one (+01:00) or Z, so it names one instant"
        )
    return found


class _Run:
    """What is known so far, so an error report carries everything decided before it."""

    def __init__(self) -> None:
        self.node: Node | None = None
        self.outcome: Decision | None = None
        self.records: list[tuple[TriggerRequest, Fired | None]] = []
        self.sources: dict[str, str] = {}


def main(argv: Sequence[str] | None = None, environ: Mapping[str, str] | None = None) -> int:
    words = list(sys.argv[1:] if argv is None else argv)
    if words and words[0] in COMMANDS:
        from ci_deploy_gate.commands import run as run_command

        return run_command(words[0], words[1:], environ)
    args = _parser().parse_args(words)
    process_env = os.environ if environ is None else environ
    output = Output(
        as_json=args.json,
        report_path=args.report,
        secrets=secret_values(process_env, DEFAULT_TOKEN_ENV),
    )
    run = _Run()
    try:
        code = _gate(run, output, process_env, args)
    except GateError as exc:
        doc = document(
            decision=exc.decision,
            reason=str(exc),
            node=run.node,
            outcome=run.outcome,
            records=run.records,
            sources=run.sources,
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


def _gate(run: _Run, output: Output, environ: Mapping[str, str], args: argparse.Namespace) -> int:
    from ci_deploy_gate.envfile import overrides

    layered = overrides(args.env_file, args.assignments)
    env: Mapping[str, str] = {**environ, **{k: v for k, (v, _) in layered.items()}}
    origins = {name: where for name, (_, where) in layered.items()}
    output.secrets.extend(secret_values(env, DEFAULT_TOKEN_ENV))
    run.node = read_node(env)
    if not run.node.fires:
        reason = run.node.skip_reason()
        return _finish(conclude(output, decision="skipped", reason=reason, node=run.node), output)

    from ci_deploy_gate.evaluate import decide
    from ci_deploy_gate.rules import load_rules

    rules_file = load_rules(args.rules or env.get("DEPLOY_GATE_RULES") or DEFAULT_RULES)
    output.secrets.extend(secret_values(env, rules_file.circleci.token_env))
    context = _context(env, origins, rules_file, repo=args.repo)
    if rules_file.windows or rules_file.freezes:
        context = _at(context, args.now)
    run.sources = dict(context.sources)
    run.outcome = outcome = decide(rules_file, context)
    if not outcome.fire:
        problem = conclude(
            output,
            decision="skipped",
            reason=outcome.reason,
            node=run.node,
            outcome=outcome,
            sources=run.sources,
        )
        return _finish(problem, output)

    from ci_deploy_gate.circleci.host import DEFAULT_API_URL, check_api_url
    from ci_deploy_gate.circleci.trigger import build_trigger

    host = (
        args.api_url or env.get("DEPLOY_GATE_API_URL") or rules_file.circleci.url or DEFAULT_API_URL
    )
    problem = check_api_url(host)
    if problem:
        raise ConfigError(f"API URL: {problem}")
    requests = [
        build_trigger(
            api_url=host,
            context=context,
            rule=fire.rule,
            trigger=fire.trigger,
            settings=rules_file.circleci,
        )
        for fire in outcome.fires
    ]
    siblings = _siblings_url(args, rules_file, run.node, host, context)
    if args.dry_run:
        run.records = [(request, None) for request in requests]
        waits = f"; would first wait for the other {run.node.total - 1} nodes" if siblings else ""
        problem = conclude(
            output,
            decision="dry-run",
            reason=f"{outcome.reason}; nothing sent{waits}",
            node=run.node,
            outcome=outcome,
            records=run.records,
            sources=run.sources,
        )
        return _finish(problem, output)

    if not context.on_circleci:
        raise ConfigError(
            "environment: CIRCLECI is not 'true': refusing a real trigger outside CircleCI "
            "(use --dry-run to see what would be sent, or set CIRCLECI=true deliberately)"
        )
    from ci_deploy_gate.circleci.retry import Policy
    from ci_deploy_gate.circleci.transport import Client
    from ci_deploy_gate.credentials import read_token

    token = read_token(env, rules_file.circleci.token_env)
    policy = Policy(attempts=rules_file.circleci.retries, deadline=rules_file.circleci.deadline)
    client = Client(token, policy, log=output.note if args.verbose else None)
    try:
        if siblings:
            from ci_deploy_gate.circleci.siblings import wait_for_siblings

            wait_for_siblings(
                client, siblings, run.node, timeout=args.wait_timeout, show=output.progress
            )
        _fire(run, client, requests, rules_file.circleci, force=args.force)
        if args.wait:
            _follow(run, client, output, timeout=args.wait_timeout)
    finally:
        client.close()
    return _finish(_conclude_fired(run, output, run.node, outcome), output)


def _context(
    env: Mapping[str, str], origins: dict[str, str], rules_file: RulesFile, *, repo: str
) -> Context:
    """The facts: from CIRCLE_*, or outside CircleCI without CIRCLE_SHA1 from the local
    checkout, which fills only what no variable sets; plus what git says when a rule asks."""
    from ci_deploy_gate.context import RANGE_FACTS, build_context
    from ci_deploy_gate.evaluate import git_needs

    if env.get("CIRCLECI") != "true" and not env.get("CIRCLE_SHA1", "").strip():
        from ci_deploy_gate.gitfacts import local_environment

        derived, derived_origins = local_environment(repo)
        unset = [name for name in derived if not env.get(name, "").strip()]
        env = {**env, **{name: derived[name] for name in unset}}
        origins = {**origins, **{name: derived_origins[name] for name in unset}}
    context = build_context(env, vcs=rules_file.circleci.vcs, origins=origins)
    needs = git_needs(rules_file)
    if not needs:
        return context
    from ci_deploy_gate.gitfacts import read_git_facts

    git = read_git_facts(repo, context.sha, needs)
    read = {fact: f"git: the commit {context.sha}" for fact in sorted(needs.commit)}
    if needs.ranges:
        read.update(
            (fact, "git: base..CIRCLE_SHA1 (each condition names its base)") for fact in RANGE_FACTS
        )
    return context._replace(git=git, sources={**context.sources, **read})


def _at(context: Context, now: datetime | None) -> Context:
    """The run's one instant for the windows and freezes: --now, or the clock, read once."""
    from datetime import datetime, timezone

    if now is None:
        now, source = datetime.now(timezone.utc), "the clock"
    else:
        source = "--now"
    shown = f"{source}: {now.isoformat(timespec='seconds')}"
    return context._replace(now=now, sources={**context.sources, "now": shown})


def _conclude_fired(run: _Run, output: Output, node: Node, outcome: Decision) -> str | None:
    """Report the builds fired or found: `already-triggered` when nothing new went out."""
    fired = [r.job for r, f in run.records if f is not None and f.how != "already-triggered"]
    found = [
        f"{r.job} already triggered ({f.label})"
        for r, f in run.records
        if f is not None and f.how == "already-triggered"
    ]
    said = [f"fired {', '.join(fired)}"] if fired else []
    return conclude(
        output,
        decision="triggered" if fired else "already-triggered",
        reason="; ".join([outcome.reason, *said, *found]),
        node=node,
        outcome=outcome,
        records=run.records,
        sources=run.sources,
    )


def _siblings_url(
    args: argparse.Namespace, rules_file: RulesFile, node: Node, host: str, context: Context
) -> str | None:
    """The v2 job URL whose parallel_runs node 0 waits on, or None when it need not wait."""
    if not (args.wait_for_nodes or rules_file.wait_for_nodes) or node.total < 2:
        return None
    build_num = context.env.get("CIRCLE_BUILD_NUM", "").strip()
    if not build_num.isdigit():
        raise ConfigError(
            "environment: CIRCLE_BUILD_NUM is not set: waiting for the other nodes "
            "needs this job's number"
        )
    from ci_deploy_gate.circleci.v2 import job_url, project_slug

    return job_url(host, project_slug(context, rules_file.circleci), build_num)


def _fire(
    run: _Run,
    client: Client,
    requests: list[TriggerRequest],
    settings: CircleCISettings,
    *,
    force: bool,
) -> None:
    from ci_deploy_gate.circleci.fire import fire

    for request in requests:
        run.records.append((request, None))  # stays so if firing fails: the report shows it
        run.records[-1] = (request, fire(client, request, settings, force=force))


def _follow(run: _Run, client: Client, output: Output, *, timeout: float) -> None:
    """--wait: DeployFailed unless every fired build or pipeline succeeded."""
    from ci_deploy_gate.circleci.follow import follow
    from ci_deploy_gate.errors import DeployFailed

    for index, (request, fired) in enumerate(run.records):
        if fired is not None:
            fired = follow(client, request, fired, timeout=timeout, show=output.progress)
            run.records[index] = (request, fired)
    failed = [
        f"{request.job} {fired.label} {fired.result}: {fired.url or ''}".rstrip(": ")
        for request, fired in run.records
        if fired is not None and fired.result != "success"
    ]
    if failed:
        raise DeployFailed("; ".join(failed))
