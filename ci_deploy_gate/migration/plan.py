"""The migration as one value: the config before and after, the rules file, and what the
user must know. Every problem is gathered before anything is decided, and all of them
are one ConfigError, a line each; nothing is written here (`commands/migrate` writes)."""

from __future__ import annotations

import os
import re

from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.expr import ExprError, parse
from ci_deploy_gate.migration import Refusal, Refused
from ci_deploy_gate.migration import configedit as edit
from ci_deploy_gate.migration.filters import DEFAULT_JOB, when_job_runs
from ci_deploy_gate.migration.ifexpr import Leaf, both, fact_of_variable, is_set, mentions, render
from ci_deploy_gate.migration.rulesfile import Rule, Settings, rules_text
from ci_deploy_gate.migration.shell import parse_script
from ci_deploy_gate.migration.triggers import (
    BRANCH_VARIABLE,
    LOOKS_LIKE_TRIGGER,
    Trigger,
    find_triggers,
)
from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ci_deploy_gate.migration.configedit import Step

PERSONAL_TOKENS = (
    "API v2 accepts only personal API tokens: {token} must hold one (User Settings > "
    "Personal API Tokens). Old curl lines often used a project API token, which v2 "
    "refuses with 401 Unauthorized."
)
_VCS_NAMES = {"gh": "github", "bb": "bitbucket"}
_USES_SOURCE = re.compile(r"(^|[\s;&|(])git\s")
_READS_SHA = re.compile(r"\$\{?CIRCLE_SHA1\b")
GATE = "python -m ci_deploy_gate"
_USERINFO = re.compile(r"://[^/?#\s@]*@")  # user:password@ in a URL, never shown


class Plan(NamedTuple):
    config_path: str
    rules_path: str
    old_config: str
    new_config: str
    rules: str
    notes: tuple[str, ...]
    newline: str = "\n"  # the config's line ends, kept when it is written


class _Found(NamedTuple):
    step: Step
    triggers: tuple[Trigger, ...]


def make_plan(config_path: str, rules_path: str) -> Plan | None:
    """The migration, or None when the config fires nothing through v1/v1.1."""
    try:
        with open(config_path, encoding="utf-8") as handle:
            old = handle.read()
            newline = "\r\n" if handle.newlines == "\r\n" else "\n"
    except FileNotFoundError:
        raise ConfigError(f"{config_path}: no such file (pass --config PATH)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{config_path}: cannot read the CircleCI config: {exc}") from None
    loaded = edit.load(old, config_path)
    data = loaded.data
    refusals: list[Refusal] = []
    found: list[_Found] = []
    for step in edit.steps(data):
        if not LOOKS_LIKE_TRIGGER.search(step.command):
            continue
        try:
            read = find_triggers(parse_script(step.command))
        except Refused as exc:
            line = step.line + (exc.line or 1) - 1
            text = "the step's command" if exc.secret else _script_line(step.command, exc.line)
            refusals.append(Refusal(line, text, exc.reason))
            continue
        shell = edit.non_bash_shell(data, step)
        if shell is not None:
            refusals.append(
                Refusal(
                    shell[0],
                    f"shell: {_cut(shell[1])}",
                    "the trigger step runs under another shell than bash "
                    "(CircleCI's default, /bin/bash -eo pipefail), and its tests are read as "
                    "bash reads them: run the step under bash first",
                )
            )
            continue
        if not read:
            refusals.append(
                Refusal(
                    step.line,
                    _first_line(step.command),
                    "it names the v1.1 API, but no curl trigger could be read in it",
                )
            )
            continue
        found.append(_Found(step, read))
    if not found and not refusals:
        return None
    if os.path.exists(rules_path):
        refusals.insert(
            0,
            Refusal(
                0, "", f"{rules_path} exists: not overwritten (pass --rules PATH for another file)"
            ),
        )
    version = str(data.get("version", ""))
    if version not in ("2", "2.0"):
        refusals.append(
            Refusal(
                1,
                f"version: {version}",
                "only a version 2 config is migrated (v1.1 triggers never ran a 2.1 config)",
            )
        )
    rules, notes = _rules(data, found, refusals, config_path)
    if refusals:
        raise ConfigError(_refused(config_path, refusals))
    settings = _settings([t for f in found for t in f.triggers], refusals)
    if refusals:
        raise ConfigError(_refused(config_path, refusals))
    assert settings is not None
    _rewrite(loaded, found, rules_path, notes)
    text = rules_text(config_path, settings, rules)
    _validated(text, rules_path)
    return Plan(
        config_path,
        rules_path,
        old,
        edit.dump(loaded),
        text,
        tuple(dict.fromkeys(notes)),
        newline,
    )


def _script_line(text: str, line: int | None) -> str:
    lines = text.splitlines()
    if line is None or not 0 < line <= len(lines):
        return _first_line(text)
    return lines[line - 1].strip()


def _cut(text: str, most: int = 120) -> str:
    """Shell or YAML text as a refusal shows it: one line, at most `most` characters."""
    text = " ".join(text.split())
    return text if len(text) <= most else text[: most - 3] + "..."


def _first_line(text: str) -> str:
    return next(
        (
            line.strip()
            for line in text.splitlines()
            if line.strip() and not line.strip().startswith("#")
        ),
        "",
    )


def _refused(path: str, refusals: list[Refusal]) -> str:
    lines = [f"cannot migrate {path} exactly; nothing written:"]
    for refusal in refusals:
        where = f"{path}:{refusal.line}: " if refusal.line else ""
        said = f"{_cut(_USERINFO.sub('://***@', refusal.text))}: " if refusal.text else ""
        reason = _USERINFO.sub("://***@", refusal.reason)
        lines.append(f"  {where}{said}{_cut(reason, 400)}")
    return "\n".join(lines)


def _rules(
    data: Any, found: list[_Found], refusals: list[Refusal], path: str
) -> tuple[list[Rule], list[str]]:
    rules: list[Rule] = []
    notes: list[str] = []
    jobs = {f.step.job for f in found}
    known = edit.jobs(data)
    seen_jobs: set[str] = set()
    for item in found:
        step = item.step
        if step.job in seen_jobs:
            refusals.append(
                Refusal(
                    step.line,
                    _first_line(step.command),
                    f"a second trigger step in job {step.job!r}: "
                    "merge its triggers into one step first",
                )
            )
            continue
        seen_jobs.add(step.job)
        other = edit.shared_step(data, step)
        if other:
            refusals.append(
                Refusal(
                    step.line,
                    _first_line(step.command),
                    "the step is shared through an alias with job "
                    f"{other!r}: give each job its own step first",
                )
            )
            continue
        try:
            runs = when_job_runs(data, step.job)
        except Refused as exc:
            refusals.append(
                Refusal(edit.line_of_job(data, step.job), f"jobs.{step.job}", exc.reason)
            )
            continue
        for trigger in item.triggers:
            line = step.line + trigger.line - 1
            branch = fact_of_variable(BRANCH_VARIABLE)
            condition = both(runs.condition, trigger.guard)
            if runs.on_tags and trigger.branch is None:
                # v1.1 has no route for .../tree/ with an empty branch: on a tag build the
                # old curl fired nothing
                condition = both(condition, is_set(branch))
            if len(jobs) > 1:
                condition = both(Leaf(fact_of_variable("CIRCLE_JOB"), "is", step.job), condition)
            if trigger.branch is not None and not mentions(condition, branch, "is", trigger.branch):
                refusals.append(
                    Refusal(
                        line,
                        trigger.text,
                        f"the URL names the branch {trigger.branch!r}, "
                        "and the gate fires on the build's own branch: "
                        'test for it around the curl ([ "$CIRCLE_BRANCH" '
                        f"= {trigger.branch} ]) or use $CIRCLE_BRANCH",
                    )
                )
                continue
            if trigger.job not in known:
                refusals.append(
                    Refusal(
                        line,
                        trigger.text,
                        f"it fires {trigger.job!r}, which is not a job of the config",
                    )
                )
                continue
            bad = [
                n
                for n, _ in trigger.parameters
                if not re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,127}", n)
                or n in (edit.JOB_PARAMETER, edit.REVISION_PARAMETER)
            ]
            if bad:
                refusals.append(
                    Refusal(
                        line,
                        trigger.text,
                        f"build_parameters[{bad[0]}] cannot be a pipeline parameter name",
                    )
                )
                continue
            own = edit.environment_lines(data, trigger.job)
            taken = [
                n for n in (edit.REVISION_ENV, *(n for n, _ in trigger.parameters)) if n in own
            ]
            if taken:
                refusals.append(
                    Refusal(
                        own[taken[0]],
                        f"jobs.{trigger.job}.environment.{taken[0]}",
                        f"the job sets {taken[0]} itself"
                        + (
                            f", and the trigger sends build_parameters[{taken[0]}]: which "
                            "value the old build used is not documented, and the push "
                            "builds must keep the job's own"
                            if taken[0] != edit.REVISION_ENV
                            else ", and the migrated job needs it for the pinned revision"
                        )
                        + ": rename one of them first",
                    )
                )
                continue
            clash = _workflow_named(data, trigger.job)
            if clash is not None:
                refusals.append(
                    Refusal(
                        clash,
                        f"workflows.{trigger.job}",
                        f"the gate runs {trigger.job!r} in a workflow named {trigger.job!r}, "
                        "and this workflow has that name: rename the workflow first",
                    )
                )
                continue
            names = [r.name for r in rules]
            name = trigger.job if trigger.job not in names else f"{trigger.job}-{len(names) + 1}"
            rules.append(
                Rule(
                    name,
                    render(condition),
                    trigger.job,
                    trigger.parameters,
                    (f"{path}:{line}: {trigger.text}", *(f"under: {t}" for t in trigger.tests)),
                )
            )
            if not trigger.pinned:
                notes.append(
                    f"{path}:{line}: the old trigger sent no revision (CircleCI built the branch "
                    f"head); the gate always sends CIRCLE_SHA1 as {edit.REVISION_PARAMETER}"
                )
            if trigger.api == "v1":
                notes.append(
                    f"{path}:{line}: the old trigger used API "
                    "v1 (github projects); the gate uses v2"
                )
    return rules, notes


def _workflow_named(data: Any, job: str) -> int | None:
    """The line of the workflow that has the job's name (the name the deploy workflow
    must have: the gate finds a deploy by it), or of `workflows:` for a job named
    `version`; None when the name is free."""
    workflows = data.get("workflows")
    if job == "version" and workflows is not None:
        return edit.line_of_key(data, "workflows")
    if not hasattr(workflows, "keys") or job not in workflows:
        return None
    return edit.line_of_key(workflows, job)


def _settings(triggers: list[Trigger], refusals: list[Refusal]) -> Settings | None:
    def one(values: set[Any], what: str) -> Any:
        if len(values) > 1:
            refusals.append(
                Refusal(
                    0,
                    "",
                    f"the triggers use different {what}: "
                    f"{', '.join(sorted(map(str, values)))}; the rules file has one",
                )
            )
        return next(iter(values)) if values else None

    token = one({t.token_env for t in triggers}, "token variables")
    host = one({t.host for t in triggers}, "CircleCI hosts")
    vcs = one({t.vcs for t in triggers}, "VCS names")
    project = one({t.project for t in triggers}, "projects")
    if refusals:
        return None
    slug = f"{vcs or 'gh'}/{project[0]}/{project[1]}" if project else None
    return Settings(
        token_env=token,
        url=None if host == "https://circleci.com" else host,
        vcs=_VCS_NAMES.get(vcs) if vcs and not slug else None,
        project_slug=slug,
    )


def _gate_command(wait_for_nodes: bool, rules_path: str) -> str:
    from ci_deploy_gate.options import DEFAULT_RULES

    options = " --wait-for-nodes" if wait_for_nodes else ""
    if rules_path != DEFAULT_RULES:
        import shlex

        options += f" --rules {shlex.quote(rules_path)}"
    return f"pip install --user ci-deploy-gate\n{GATE}{options}\n"


def _rewrite(loaded: edit.Loaded, found: list[_Found], rules_path: str, notes: list[str]) -> None:
    data = loaded.data
    triggered: list[str] = []
    extra: list[str] = []
    for item in found:
        for trigger in item.triggers:
            if trigger.job not in triggered:
                triggered.append(trigger.job)
            extra.extend(n for n, _ in trigger.parameters if n not in extra)
    for item in found:
        step = item.step
        job = data["jobs"][step.job]
        nodes = job.get("parallelism")
        parallel = isinstance(nodes, int) and not isinstance(nodes, bool) and nodes > 1
        waits = step.kind == "deploy" and parallel
        edit.replace_step(data, step, _gate_command(waits, rules_path))
        if step.kind == "deploy":
            notes.append(
                f"jobs.{step.job}: the deprecated deploy: step is now a run: step"
                + (
                    f"; with parallelism: {nodes} the gate fires from node 0 after "
                    "every other node passed (--wait-for-nodes), as deploy did"
                    if waits
                    else ""
                )
            )
        elif parallel:
            notes.append(
                f"jobs.{step.job}: the curl ran on each of its {nodes} "
                "parallel nodes; the gate fires once, from node 0"
            )
    edit.set_version(data)
    edit.declare_parameters(data, [edit.JOB_PARAMETER, edit.REVISION_PARAMETER, *extra])
    for job in triggered:
        parameters = sorted(
            {n for item in found for t in item.triggers if t.job == job for n, _ in t.parameters}
        )
        environment = [(edit.REVISION_ENV, edit.parameter(edit.REVISION_PARAMETER))]
        environment += [(n, edit.parameter(n)) for n in parameters]
        commands = [s.command for s in edit.steps(data) if s.job == job]
        listed = data["jobs"][job].get("steps")
        has_checkout = isinstance(listed, list) and any(
            s == "checkout" or (hasattr(s, "keys") and "checkout" in s) for s in listed
        )
        uses_source = has_checkout or any(_USES_SOURCE.search(c) for c in commands)
        done = edit.pin_job(data, job, environment, edit.revision_step() if uses_source else None)
        if done == "no checkout":
            notes.append(
                f"jobs.{job}: has no checkout and does not run git, so "
                f"there is no source to pin; it gets {edit.REVISION_ENV}"
            )
        elif done == "first":
            notes.append(
                f"jobs.{job}: had no checkout but runs git: it now "
                "checks out the source and the pinned revision first"
            )
        reading = sum(bool(_READS_SHA.search(c)) for c in commands)
        notes.append(
            f"jobs.{job}: CIRCLE_SHA1 is now the head of the branch the "
            f"pipeline ran on; the pinned revision is ${edit.REVISION_ENV}"
            + (
                f": {reading} of its steps read $CIRCLE_SHA1, move them to ${edit.REVISION_ENV}"
                if reading
                else " (scripts that read $CIRCLE_SHA1 should read it instead)"
            )
        )
        for name in parameters:
            notes.append(
                f"jobs.{job}: build_parameters[{name}] is now the pipeline "
                f"parameter {name}, in its environment as ${name}"
            )
    edit.gate_workflows(data, DEFAULT_JOB, triggered)
    token = next(t.token_env for item in found for t in item.triggers)
    notes.append(PERSONAL_TOKENS.format(token=token))


def _validated(text: str, path: str) -> None:
    """The rules file must load in the gate itself: a printed condition that reads back
    as something else would be a bug here, never a rule in use."""
    from ci_deploy_gate.rules import check_rules

    _, problems = check_rules(text, path)
    if problems:
        raise AssertionError(f"migrate wrote a rules file the gate refuses: {problems[0].message}")
    for line in text.splitlines():
        if line.strip().startswith("if: ") and line.strip()[4:] not in ("true", "false"):
            import yaml

            try:
                parse(str(yaml.safe_load(line.strip()[4:])))
            except ExprError as exc:  # pragma: no cover - the same bug, said earlier
                raise AssertionError(str(exc)) from None
