"""The gate's run, step by step: environment -> context -> rules -> decision -> requests
-> send -> report.

What the run has decided is a value, `SoFar`, replaced as each step adds to it; a
GateError on the way leaves as `Stopped`, carrying the last one, so the error's report
shows everything decided before it.
"""

from __future__ import annotations

from ci_deploy_gate.credentials import DEFAULT_TOKEN_ENV, secret_values
from ci_deploy_gate.errors import EXIT_CONFIG, EXIT_OK, ConfigError, GateError
from ci_deploy_gate.node import Node, read_node
from ci_deploy_gate.options import rules_path
from ci_deploy_gate.records import NamedTuple
from ci_deploy_gate.report import conclude, document

TYPE_CHECKING = False  # not `from typing`: a run that matches nothing must start fast
if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence
    from datetime import datetime

    from ci_deploy_gate.circleci.model import TriggerRequest
    from ci_deploy_gate.circleci.transport import Client
    from ci_deploy_gate.context import Context
    from ci_deploy_gate.evaluate import Decision
    from ci_deploy_gate.model import RulesFile
    from ci_deploy_gate.options import Options
    from ci_deploy_gate.report import Output, Record
    from ci_deploy_gate.steps import Step


class SoFar(NamedTuple):
    """What the run has decided: the content of a report, should an error end it here."""

    node: Node | None = None
    outcome: Decision | None = None
    records: tuple[Record, ...] = ()  # each request, with CircleCI's answer once it came
    sources: Mapping[str, str] | None = None
    commands: tuple[Step, ...] | None = None  # `run`'s commands; None: the gate's report

    def write(self, output: Output, error: GateError) -> str | None:
        """The report of a run that `error` stopped; returns a problem with --report's file."""
        doc = document(
            decision=error.decision,
            reason=str(error),
            node=self.node,
            outcome=self.outcome,
            records=self.records,
            sources=self.sources,
            commands=self.commands,
        )
        return output.finish(doc, "")


class Stopped(GateError):
    """A GateError that ended the run, with what the run had decided before it."""

    def __init__(self, error: GateError, so_far: SoFar) -> None:
        super().__init__(*error.args)
        self.exit_code = error.exit_code
        self.decision = error.decision
        self.so_far = so_far


class Decided(NamedTuple):
    """What the decision part of a run found on node 0: what the gate fires from, and what
    `run` runs its command from."""

    env: dict[str, str]  # the environment under --env-file and --set
    node: Node
    rules_file: RulesFile
    context: Context
    outcome: Decision
    so_far: SoFar  # the same, as the report of an error after this shows it


def decided(
    options: Options,
    environ: Mapping[str, str],
    output: Output,
    *,
    start: SoFar | None = None,
    triggers: bool = True,
) -> Decided | Node:
    """Environment -> node -> rules -> context -> decision, the part the gate and `run`
    share; the Node when this node does not fire (it leaves before reading the rules).
    `start`: what an error's report starts from; `triggers` False: rules need no job.
    Raises Stopped."""
    so_far = SoFar() if start is None else start
    try:
        env, origins = _environment(options, environ, output)
        node = read_node(env)
        so_far = so_far._replace(node=node)
        if not node.fires:
            return node

        from ci_deploy_gate.evaluate import decide
        from ci_deploy_gate.rules import load_rules

        rules_file = load_rules(rules_path(options.rules, env), triggers=triggers)
        output.secrets.extend(secret_values(env, *_token_variables(rules_file)))
        unread = _config_without_v2(options.repo, rules_file) if triggers else None
        if unread and not options.dry_run:
            raise ConfigError(unread)
        if unread:
            output.note(f"ci-deploy-gate: warning: {unread}")
        if rules_file.circleci.api == "v1.1":
            from ci_deploy_gate.circleci.versions import V1_WARNING

            output.note(f"ci-deploy-gate: warning: {V1_WARNING}")
        context = _context(env, origins, rules_file, repo=options.repo)
        if rules_file.windows or rules_file.freezes:
            context = _at(context, options.now)
        so_far = so_far._replace(sources=dict(context.sources))
        outcome = decide(rules_file, context)
        so_far = so_far._replace(outcome=outcome, sources=_read_sources(context))
    except GateError as exc:
        raise Stopped(exc, so_far) from None
    return Decided(env, node, rules_file, context, outcome, so_far)


def run(options: Options, environ: Mapping[str, str], output: Output) -> int:
    """The exit code of a run that ended well; raises Stopped for one that did not."""
    found = decided(options, environ, output)
    if isinstance(found, Node):
        reason = found.skip_reason()
        return _finish(output, conclude(output, decision="skipped", reason=reason, node=found))
    env, node, rules_file, context, outcome, so_far = found
    if not outcome.fire:
        return _finish(output, _conclude(output, node, so_far, "skipped", outcome.reason))

    try:
        host = _host(options, env, rules_file)
        requests = _requests(host, context, outcome, rules_file)
        siblings = _siblings_url(options, rules_file, node, host, context)
        if options.dry_run:
            so_far = so_far._replace(records=tuple((request, None) for request in requests))
            waits = f"; would first wait for the other {len(node.others)} nodes" if siblings else ""
            reason = f"{outcome.reason}; nothing sent{waits}"
            return _finish(output, _conclude(output, node, so_far, "dry-run", reason))

        if not context.on_circleci:
            raise ConfigError(
                "environment: CIRCLECI is not 'true': refusing a real trigger outside CircleCI "
                "(use --dry-run to see what would be sent, or set CIRCLECI=true deliberately)"
            )
        needed = [request.token_env for request in requests]
        if siblings:
            needed.append(rules_file.circleci.token_env)
        clients = {name: _client(options, env, output, rules_file, name) for name in needed}
    except Stopped:
        raise
    except GateError as exc:
        raise Stopped(exc, so_far) from None
    try:
        so_far = _send(clients, options, output, node, so_far, requests, rules_file, siblings)
    finally:
        for client in clients.values():
            client.close()
    return _finish(output, _conclude_fired(output, node, outcome, so_far))


def _token_variables(rules_file: RulesFile) -> list[str]:
    """Every variable a token of this rules file is read from: each is redacted."""
    found = [rules_file.circleci.token_env]
    found += [rule.trigger.token_env or "" for rule in rules_file.rules if rule.trigger]
    return [name for name in dict.fromkeys(found) if name]


def nodes_to_wait_for(options: Options, found: Decided) -> str | None:
    """`run`'s --wait-for-nodes: the job whose other nodes node 0 waits for, as the gate
    does before firing; None when it need not wait."""
    host = _host(options, found.env, found.rules_file)
    return _siblings_url(options, found.rules_file, found.node, host, found.context)


def wait_for_nodes(options: Options, found: Decided, output: Output, url: str) -> None:
    """Wait for the other nodes as the gate does: the same token, retries and redaction;
    DeployFailed when one failed or the wait ran out."""
    from ci_deploy_gate.circleci.siblings import wait_for_siblings

    client = _client(options, found.env, output, found.rules_file)
    try:
        wait_for_siblings(
            client, url, found.node, timeout=options.wait_timeout, show=output.progress
        )
    finally:
        client.close()


def _config_without_v2(repo: str, rules_file: RulesFile) -> str | None:
    """Why a pipeline would be wrong here: the rules name no API (so v2, the default) and
    the checkout's config is `version: 2`, which declares no pipeline parameters. A setup
    older than the default, not a choice: it must not silently start firing pipelines, so
    every run says it, matching or not (read cheaply: the config's `version:` line)."""
    if rules_file.circleci.api_given:
        return None
    import os

    from ci_deploy_gate.ciconfig import DEFAULT_CONFIG, predates_v2, says_version_2

    path = os.path.normpath(os.path.join(repo, DEFAULT_CONFIG))
    if not says_version_2(path):
        return None
    return f"{path}: {predates_v2(rules_file.path, api_given=False)}"


def _environment(
    options: Options, environ: Mapping[str, str], output: Output
) -> tuple[dict[str, str], dict[str, str]]:
    """The process environment under --env-file and --set, and where each of those was set."""
    from ci_deploy_gate.envfile import overrides

    layered = overrides(options.env_files, options.assignments)
    env = {**environ, **{name: value for name, (value, _) in layered.items()}}
    origins = {name: where for name, (_, where) in layered.items()}
    output.secrets.extend(secret_values(env, DEFAULT_TOKEN_ENV))
    return env, origins


def _context(
    env: Mapping[str, str], origins: dict[str, str], rules_file: RulesFile, *, repo: str
) -> Context:
    """The facts: from CIRCLE_*, or outside CircleCI without CIRCLE_SHA1 from the local
    checkout, which fills only what no variable sets; plus git, read when a verdict asks."""
    from ci_deploy_gate.context import build_context
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
    from ci_deploy_gate.gitfacts import LazyGit

    return context._replace(git=LazyGit(repo, context.sha, needs.queries))


def _read_sources(context: Context) -> dict[str, str]:
    """Where each fact came from, the git facts among them only once the decision read
    them: one no verdict needed was never read."""
    return {**context.sources, **(context.git.read if context.git else {})}


def _at(context: Context, now: datetime | None) -> Context:
    """The run's one instant for the windows and freezes: --now, or the clock, read once."""
    from datetime import datetime, timezone

    if now is None:
        now, source = datetime.now(timezone.utc), "the clock"
    else:
        source = "--now"
    shown = f"{source}: {now.isoformat(timespec='seconds')}"
    return context._replace(now=now, sources={**context.sources, "now": shown})


def _host(options: Options, env: Mapping[str, str], rules_file: RulesFile) -> str:
    """--api-url, then $DEPLOY_GATE_API_URL, then circleci.url, then CircleCI itself."""
    from ci_deploy_gate.circleci.host import DEFAULT_API_URL, check_api_url

    host = (
        options.api_url
        or env.get("DEPLOY_GATE_API_URL")
        or rules_file.circleci.url
        or DEFAULT_API_URL
    )
    problem = check_api_url(host)
    if problem:
        raise ConfigError(f"API URL: {problem}")
    return host


def _requests(
    host: str, context: Context, outcome: Decision, rules_file: RulesFile
) -> list[TriggerRequest]:
    """One request per place the matched rules fire into (`targets`)."""
    from ci_deploy_gate.targets import requests_for

    return requests_for(host, context, outcome.fires, rules_file.circleci)


def _siblings_url(
    options: Options, rules_file: RulesFile, node: Node, host: str, context: Context
) -> str | None:
    """The v2 job URL whose parallel_runs node 0 waits on, or None when it need not wait."""
    if not (options.wait_for_nodes or rules_file.wait_for_nodes):
        return None
    if node.total is None:
        raise ConfigError(
            f"environment: CIRCLE_NODE_INDEX={node.index} is set but CIRCLE_NODE_TOTAL is not: "
            "waiting for the other nodes needs their number (set CIRCLE_NODE_TOTAL to the "
            "job's parallelism)"
        )
    if node.total < 2:
        return None
    build_num = context.env.get("CIRCLE_BUILD_NUM", "").strip()
    if not build_num.isdigit():
        raise ConfigError(
            "environment: CIRCLE_BUILD_NUM is not set: waiting for the other nodes "
            "needs this job's number"
        )
    from ci_deploy_gate.circleci.v2 import job_url, project_slug

    return job_url(host, project_slug(context, rules_file.circleci), build_num)


def _client(
    options: Options,
    env: Mapping[str, str],
    output: Output,
    rules_file: RulesFile,
    token_env: str | None = None,
) -> Client:
    """A client holding the token of `token_env` (default circleci.token_env); read before
    anything is sent, so a missing token is exit 2 with nothing gone out."""
    from ci_deploy_gate.circleci.retry import Policy
    from ci_deploy_gate.circleci.transport import Client
    from ci_deploy_gate.credentials import read_token

    token = read_token(env, token_env or rules_file.circleci.token_env)
    policy = Policy(attempts=rules_file.circleci.retries, deadline=rules_file.circleci.deadline)
    return Client(token, policy, log=output.note if options.verbose else None)


def _send(
    clients: Mapping[str, Client],
    options: Options,
    output: Output,
    node: Node,
    so_far: SoFar,
    requests: Sequence[TriggerRequest],
    rules_file: RulesFile,
    siblings: str | None,
) -> SoFar:
    """Wait for the other nodes (--wait-for-nodes), fire each request, follow each build
    (--wait); the records grow with each answer, and a Stopped carries them."""
    from ci_deploy_gate.circleci.fire import fire

    try:
        if siblings:
            from ci_deploy_gate.circleci.siblings import wait_for_siblings

            client = clients[rules_file.circleci.token_env]
            wait_for_siblings(
                client, siblings, node, timeout=options.wait_timeout, show=output.progress
            )
        for request in requests:
            # (request, None) stays if firing fails: the report shows what was not fired
            so_far = so_far._replace(records=(*so_far.records, (request, None)))
            fired = fire(
                clients[request.token_env], request, rules_file.circleci, force=options.force
            )
            so_far = so_far._replace(records=(*so_far.records[:-1], (request, fired)))
        if options.wait:
            so_far = _follow(clients, output, so_far, timeout=options.wait_timeout)
    except Stopped:
        raise
    except GateError as exc:
        raise Stopped(exc, so_far) from None
    return so_far


def _follow(
    clients: Mapping[str, Client], output: Output, so_far: SoFar, *, timeout: float
) -> SoFar:
    """--wait: each fired build or pipeline to its end; a Stopped (DeployFailed) unless
    every one succeeded."""
    from ci_deploy_gate.circleci.follow import follow
    from ci_deploy_gate.errors import DeployFailed

    try:
        for index, (request, fired) in enumerate(so_far.records):
            if fired is not None:
                client = clients[request.token_env]
                fired = follow(client, request, fired, timeout=timeout, show=output.progress)
                records = list(so_far.records)
                records[index] = (request, fired)
                so_far = so_far._replace(records=tuple(records))
        failed = [
            f"{request.label} {fired.label} {fired.result}: {fired.url or ''}".rstrip(": ")
            for request, fired in so_far.records
            if fired is not None and fired.result != "success"
        ]
        if failed:
            raise DeployFailed("; ".join(failed))
    except GateError as exc:
        raise Stopped(exc, so_far) from None
    return so_far


def _conclude(output: Output, node: Node, so_far: SoFar, decision: str, reason: str) -> str | None:
    return conclude(
        output,
        decision=decision,
        reason=reason,
        node=node,
        outcome=so_far.outcome,
        records=so_far.records,
        sources=so_far.sources,
    )


def _conclude_fired(output: Output, node: Node, outcome: Decision, so_far: SoFar) -> str | None:
    """Report the builds fired or found: `already-triggered` when nothing new went out."""
    fired = [r.label for r, f in so_far.records if f is not None and f.how != "already-triggered"]
    found = [
        f"{r.label} already triggered ({f.label})"
        for r, f in so_far.records
        if f is not None and f.how == "already-triggered"
    ]
    said = [f"fired {', '.join(fired)}"] if fired else []
    reason = "; ".join([outcome.reason, *said, *found])
    decision = "triggered" if fired else "already-triggered"
    return _conclude(output, node, so_far, decision, reason)


def _finish(output: Output, problem: str | None) -> int:
    """The run itself ended well; only --report's file can still make it exit 2."""
    if problem:
        output.note(f"ci-deploy-gate: error: {problem}")
        return EXIT_CONFIG
    return EXIT_OK
