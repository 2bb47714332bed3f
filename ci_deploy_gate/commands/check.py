"""`check`: the whole rules file, and the rules held against the CircleCI config, so a
broken gate is found in review rather than on the day of a release.

Each check is one function that yields findings; adding a check is adding one function
to CHECKS.
"""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping

from ci_deploy_gate.ciconfig import (
    DEFAULT_CONFIG,
    Config,
    continuations,
    merged,
    predates_v2,
    read_config,
    repository_root,
)
from ci_deploy_gate.circleci.versions import MIGRATE, V1_REMOVAL
from ci_deploy_gate.commands import VERBOSE_HELP
from ci_deploy_gate.deployconfig import Pipelines, unguarded, unpinned, unselected, unserialized
from ci_deploy_gate.errors import ConfigError, suggest
from ci_deploy_gate.options import DEFAULT_RULES, rules_path
from ci_deploy_gate.records import NamedTuple
from ci_deploy_gate.rules import check_rules, read_rules_text
from ci_deploy_gate.yamllines import line_of, load_yaml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator, Sequence
    from typing import Any

    from ci_deploy_gate.deployconfig import Gap
    from ci_deploy_gate.model import RulesFile

LEVELS = ("error", "warning", "note")
GATE_COMMANDS = ("ci_deploy_gate", "ci-deploy-gate")
# a rule's parameter value -> the pipeline parameter types that take it
_TYPES = {str: ("string", "enum"), int: ("integer",), bool: ("boolean",)}


def main(argv: Sequence[str], environ: Mapping[str, str]) -> int:
    parser = argparse.ArgumentParser(
        prog="ci-deploy-gate check",
        description="Validate the rules file completely and hold it against the CircleCI "
        "config: trigger jobs exist, the API fits the config version, v2 pipeline "
        "parameters are declared, parallelism, contexts and the token.",
        epilog="exit codes: 0 clean (warnings allowed unless --strict); 2 errors",
    )
    parser.add_argument("--rules", metavar="PATH", help=f"default: {DEFAULT_RULES}")
    parser.add_argument(
        "--config",
        metavar="PATH",
        action="append",
        help="the CircleCI config (default: .circleci/config.yml, skipped when missing); "
        "again for each further config read with it (a setup config's continuation is "
        "followed by itself when it is in the repository)",
    )
    parser.add_argument("--json", action="store_true", help="print the findings as JSON")
    parser.add_argument("--strict", action="store_true", help="warnings fail too")
    parser.add_argument("--verbose", action="store_true", help=VERBOSE_HELP)
    args = parser.parse_args(argv)

    findings = check(rules_path(args.rules, environ), args.config, environ)
    code = exit_code(findings, strict=args.strict)
    if args.json:
        import json

        doc = {"ok": code == 0, "findings": [finding.as_json() for finding in findings]}
        print(json.dumps(doc, indent=2))
    else:
        for finding in findings:
            print(finding)
        print(summary(findings))
    return code


class Finding(NamedTuple):
    level: str  # error | warning | note
    path: str
    line: int
    where: str  # the key at fault
    message: str

    def __str__(self) -> str:
        where = f"{self.where}: " if self.where else ""
        return f"{self.path}:{self.line}: {self.level}: {where}{self.message}"

    def as_json(self) -> dict[str, object]:
        return {
            "level": self.level,
            "file": self.path,
            "line": self.line,
            "key": self.where,
            "message": self.message,
        }


class Inputs(NamedTuple):
    rules: RulesFile
    config: Config
    environ: Mapping[str, str]


def check(
    rules_path: str,
    config_paths: str | Sequence[str] | None,
    environ: Mapping[str, str],
) -> list[Finding]:
    """Every finding, rules-file problems first; a file that cannot be read is a finding
    too, so `--json` always prints one document. `config_paths` None: the default config,
    which may be missing (then only the rules file is checked)."""
    rules_file, text, found = read_rules(rules_path)
    if rules_file is None:
        return found
    found.extend(token_is_set(rules_file, environ))
    found.extend(v1_is_retiring(rules_file, text))
    paths = [config_paths] if isinstance(config_paths, str) else config_paths
    config, problems = read_configs(paths)
    found.extend(problems)
    if config is None:
        return found
    inputs = Inputs(rules_file, config, environ)
    for each in CHECKS:
        found.extend(each(inputs))
    return found


# --- reading the files ----------------------------------------------------------------------


def read_rules(path: str) -> tuple[RulesFile | None, str, list[Finding]]:
    """The rules file, its text and its problems (one, when it cannot be read as YAML)."""
    try:
        text = read_rules_text(path)
        rules_file, problems = check_rules(text, path)
    except ConfigError as exc:
        return None, "", [unreadable(path, exc)]
    found = [Finding("error", p.path, p.line, p.where, p.message) for p in problems]
    return (None if problems else rules_file), text, found


def read_configs(paths: Sequence[str] | None) -> tuple[Config | None, list[Finding]]:
    """The configs named (else the default one), and the continuations of setup configs
    among them, read as one; None when there is none, or one cannot be read. A missing
    continuation is a note only when one config is named: with several, they are the
    continuation."""
    configs: list[Config] = []
    found: list[Finding] = []
    for path in paths or [DEFAULT_CONFIG]:
        try:
            configs.append(read_config(path))
        except FileNotFoundError:
            if paths:
                found.append(Finding("error", path, 1, "--config", "no such file"))
        except ConfigError as exc:
            found.append(unreadable(path, exc))
    if not configs and not found:
        found.append(NO_CONFIG)
    followed = list(follow_continuations(configs))
    named = len(paths or ()) > 1  # the files named stand for what a step makes at run time
    found.extend(f for f in followed if not (named and f.level == "note"))
    if any(f.level == "error" for f in found) or not configs:
        return None, found
    return merged(configs), found


NO_CONFIG = Finding(
    "note",
    DEFAULT_CONFIG,
    1,
    "",
    "no CircleCI config here: only the rules file was checked (pass --config PATH)",
)


def follow_continuations(configs: list[Config]) -> Iterator[Finding]:
    """Adds to `configs` the files their setup configs continue with (once each); a file
    not in the repository (made at run time) is a note, as its jobs go unchecked."""
    read = {os.path.normpath(config.path) for config in configs}
    for config in configs:  # grows as continuations are read: theirs are followed too
        root = repository_root(config.path)
        for named in continuations(config):
            path = os.path.join(root, named)
            if os.path.normpath(path) in read:
                continue
            read.add(os.path.normpath(path))
            try:
                configs.append(read_config(path))
            except FileNotFoundError:
                yield Finding(
                    "note",
                    config.path,
                    config.line("setup"),
                    "setup",
                    f"continues with {named}, which is not in the repository"
                    f"{'' if path == named else f' ({path})'}: its jobs and workflows are "
                    "not checked; if a step makes it, pass the made file with a second "
                    "--config",
                )
            except ConfigError as exc:
                yield unreadable(path, exc)


def unreadable(path: str, error: ConfigError) -> Finding:
    """A file that cannot be read, as an error finding: `load_yaml` says
    `path:line:column: not valid YAML: ...`, the others `path: ...`."""
    said = str(error).removeprefix(f"{path}:").strip()
    line, column, rest = [*said.split(":", 2), "", ""][:3]
    if line.isdigit() and column.isdigit():
        return Finding("error", path, int(line), "", f"{rest.strip()} (column {column})")
    return Finding("error", path, 1, "", said)


# --- the checks ---------------------------------------------------------------------------


def api_matches_version(inputs: Inputs) -> Iterator[Finding]:
    """API v1.1 triggers a single job, which CircleCI does not do for `version: 2.1`."""
    config = inputs.config
    if str(config.data.get("version")) == "2.1" and inputs.rules.circleci.api == "v1.1":
        yield Finding(
            "error",
            config.path,
            config.line("version"),
            "version",
            "this is a 2.1 config, and the rules use API v1.1, which triggers one job and "
            "does not work with 2.1 configs (CircleCI answers 'internal server error'): set "
            f"circleci.api: v2 in {inputs.rules.path} so the gate runs a pipeline with "
            "pipeline parameters, and declare them under parameters: "
            "(README: API v2 pipelines)",
        )


def api_named_for_version_2(inputs: Inputs) -> Iterator[Finding]:
    """A `version: 2` config takes no pipeline parameters, so API v2 cannot fire its
    deploy; a rules file naming no API predates the v2 default, which is worth saying."""
    config, rules = inputs.config, inputs.rules
    if not _is_version_2(config) or rules.circleci.api != "v2":
        return
    said = predates_v2(rules.path, api_given=rules.circleci.api_given)
    yield Finding("error", config.path, config.line("version"), "version", said)


def _is_version_2(config: Config) -> bool:
    return config.version in ("2", "2.0")


def _is_v2_on_2_1(inputs: Inputs) -> bool:
    """The checks of a v2 pipeline's config: API v2 and a 2.1 config (a `version: 2` one
    is one error of its own, not a finding for every piece it lacks)."""
    return inputs.rules.circleci.api == "v2" and inputs.config.version == "2.1"


def triggers_exist(inputs: Inputs) -> Iterator[Finding]:
    """A trigger names a job of `jobs:`; with API v2 also a workflow the parameter picks."""
    config, rules = inputs.config, inputs.rules
    known = list(config.section("jobs"))
    what = "a job under jobs:"
    if rules.circleci.api == "v2":
        workflows = config.section("workflows")
        known += [name for name in workflows if name != "version" and name not in known]
        what = "a job under jobs: or a workflow under workflows:"
    for rule in rules.rules:
        if rule.trigger is None:  # not in the gate's rules file, which `check` reads
            continue
        job = rule.trigger.job
        if job is None or rule.trigger.project is not None or job in known:
            continue  # a pipeline with no job, or another project's: not this config's
        hint = suggest(job, known) or (f"known: {', '.join(known)}" if known else "none defined")
        yield Finding(
            "error",
            rules.path,
            rule.trigger.line,
            f"rules ({rule.name}): trigger",
            f"{job!r} is not {what} in {config.named()} ({hint})",
        )


def pipeline_parameters_declared(inputs: Inputs) -> Iterator[Finding]:
    """API v2: CircleCI rejects a pipeline with a parameter its config does not declare,
    or of another type."""
    rules, config = inputs.rules, inputs.config
    if rules.circleci.api != "v2" or _is_version_2(config):
        return
    declared = config.section("parameters")
    revision = rules.circleci.revision_parameter
    # (parameter, a value the gate sends in it, line, key) for everything the gate sends
    sent: list[tuple[str, object, int, str]] = []
    for rule in rules.rules:
        trigger = rule.trigger
        if trigger is None or trigger.project is not None:
            continue  # another project's pipeline reads its own config, not this one
        where = f"rules ({rule.name}): trigger"
        if trigger.pin and not any(name == revision for name, *_ in sent):
            sent.insert(0, (revision, "0" * 40, 1, "circleci"))
        if trigger.job is not None:
            sent.append((rules.circleci.job_parameter, trigger.job, trigger.line, where))
        sent.extend((name, value, trigger.line, where) for name, value in trigger.parameters)
    said: set[tuple[str, str]] = set()
    for name, value, line, where in sent:
        spec = declared.get(name)
        if not isinstance(spec, Mapping):
            finding = Finding(
                "error",
                rules.path,
                line,
                where,
                f"the gate sends the pipeline parameter {name!r}, which {_none_of(config)} "
                f"declare (add it under parameters:, type {_TYPES[type(value)][0]})",
            )
        else:
            problem = _type_problem(spec, value)
            if not problem:
                continue
            finding = Finding(
                "error",
                config.file("parameters", name),
                config.line("parameters", name),
                f"parameters.{name}",
                f"{problem}, but the gate sends {value!r} ({where})",
            )
        if (name, finding.message) not in said:
            said.add((name, finding.message))
            yield finding


def _none_of(config: Config) -> str:
    """Who does not declare a parameter: `a.yml does not`, `a.yml and b.yml do not`."""
    return f"{config.named(' and ')} {'do' if config.files else 'does'} not"


def _type_problem(spec: Mapping[str, Any], value: object) -> str | None:
    kind = spec.get("type")
    allowed = _TYPES[type(value)]
    if kind not in allowed:
        return f"is declared type {kind}"
    if kind == "enum" and value not in (spec.get("enum") or []):
        return f"is an enum of {spec.get('enum')}"
    return None


def gate_jobs(config: Config) -> Iterator[tuple[str, Mapping[str, Any], str]]:
    """The jobs with a step that runs the gate: (name, job, how it runs it, for a note)."""
    for name, job in config.section("jobs").items():
        steps = job.get("steps") if isinstance(job, Mapping) else None
        for kind, inside in gate_steps(config, steps, ()):
            if inside:
                yield name, job, f" (through the command {inside[0]!r})"
            else:
                yield name, job, " (in a deploy: step)" if kind == "deploy" else ""
            break


def gate_steps(
    config: Config, steps: object, inside: tuple[str, ...]
) -> Iterator[tuple[str, tuple[str, ...]]]:
    """The `run:` and `deploy:` steps that run the gate, as (step, the commands they are
    in): a job's own, those of the 2.1 `commands:` it uses, and of a step's `when:`."""
    commands = config.section("commands")
    for step in steps if isinstance(steps, list) else []:
        name, args = _name_and_args(step)
        if name in ("run", "deploy") and _runs_gate(args):
            yield name, inside
        elif isinstance(commands.get(name), Mapping) and name not in inside:
            yield from gate_steps(config, commands[name].get("steps"), (*inside, name))
        elif name in ("when", "unless") and isinstance(args, Mapping):
            yield from gate_steps(config, args.get("steps"), inside)


def _name_and_args(step: object) -> tuple[str, object]:
    if isinstance(step, Mapping) and len(step) == 1:
        ((name, args),) = step.items()
        return str(name), args
    return (step, None) if isinstance(step, str) else ("", None)


def _runs_gate(args: object) -> bool:
    """A `run:` or `deploy:` whose command calls the gate (`deploy:` is the deprecated
    step of the same shape that the gate replaces)."""
    command = args.get("command") if isinstance(args, Mapping) else args
    return isinstance(command, str) and any(c in command for c in GATE_COMMANDS)


def _gate_waits(value: object) -> bool:
    """Whether a step of `value` runs the gate with --wait-for-nodes on its command line."""
    if isinstance(value, str):
        return "--wait-for-nodes" in value and any(c in value for c in GATE_COMMANDS)
    if isinstance(value, Mapping):
        return any(_gate_waits(item) for item in value.values())
    if isinstance(value, list):
        return any(_gate_waits(item) for item in value)
    return False


def parallel_gate_job(inputs: Inputs) -> Iterator[Finding]:
    """Under parallelism every node runs the step; only node 0 fires."""
    for name, job, how in gate_jobs(inputs.config):
        nodes = job.get("parallelism")
        if isinstance(nodes, int) and not isinstance(nodes, bool) and nodes > 1:
            waits = (
                ""
                if inputs.rules.wait_for_nodes or _gate_waits(job)
                else (
                    "; add --wait-for-nodes (or wait_for_nodes: true) to fire only after "
                    "the other nodes passed"
                )
            )
            yield Finding(
                "note",
                inputs.config.file("jobs", name),
                inputs.config.line("jobs", name),
                f"jobs.{name}",
                f"runs the gate{how} with parallelism: {nodes}: only node 0 fires{waits}",
            )


def contexts_of_v1_jobs(inputs: Inputs) -> Iterator[Finding]:
    """Jobs fired through API v1.1 get no context variables (pipelines through v2 do)."""
    if inputs.rules.circleci.api != "v1.1":
        return
    triggered = {rule.trigger.job for rule in inputs.rules.rules if rule.trigger}
    for workflow, body in inputs.config.section("workflows").items():
        jobs = body.get("jobs") if isinstance(body, Mapping) else None
        for index, entry in enumerate(jobs if isinstance(jobs, list) else []):
            if not isinstance(entry, Mapping):
                continue
            for job, options in entry.items():
                if job in triggered and isinstance(options, Mapping) and "context" in options:
                    yield Finding(
                        "warning",
                        inputs.config.file("workflows", workflow),
                        line_of(jobs, index),
                        f"workflows.{workflow}.jobs.{job}.context",
                        f"{job} uses context {options['context']!r}, but a job fired "
                        "through API v1.1 gets no context variables: put what it needs in "
                        "project environment variables, or use circleci.api: v2",
                    )


def _gaps(inputs: Inputs, analysis: Callable[..., Iterator[Gap]]) -> Iterator[Finding]:
    """One part of `deployconfig`'s analysis of a v2 pipeline's config, as findings."""
    if not _is_v2_on_2_1(inputs):
        return
    pipelines = Pipelines(inputs.config, inputs.rules.circleci)
    triggers = [rule.trigger for rule in inputs.rules.rules if rule.trigger is not None]
    for gap in analysis(pipelines, triggers):
        path = inputs.config.file(*gap.where.split(".")[:2])  # `jobs.x`, `workflows.y...`
        yield Finding(gap.level, path, gap.line, gap.where, gap.message)


def deploy_workflow_chosen(inputs: Inputs) -> Iterator[Finding]:
    """API v2: a workflow runs the triggered job only when the job parameter names it."""
    return _gaps(inputs, unselected)


def deploy_revision_pinned(inputs: Inputs) -> Iterator[Finding]:
    """API v2: the fired jobs that check out check out the revision parameter."""
    return _gaps(inputs, unpinned)


def push_workflows_kept_out(inputs: Inputs) -> Iterator[Finding]:
    """API v2: the workflows that build on push do not run in the fired pipeline."""
    return _gaps(inputs, unguarded)


def deploy_serialized(inputs: Inputs) -> Iterator[Finding]:
    """API v2: a serial group keeps two fired deploys from overlapping."""
    return _gaps(inputs, unserialized)


def workspace_of_v1_jobs(inputs: Inputs) -> Iterator[Finding]:
    """A job fired alone through API v1.1 has no upstream job, so no workspace to attach."""
    if inputs.rules.circleci.api != "v1.1":
        return
    pipelines = Pipelines(inputs.config, inputs.rules.circleci)
    jobs = (
        rule.trigger.job
        for rule in inputs.rules.rules
        if rule.trigger is not None and rule.trigger.project is None
    )
    for job in dict.fromkeys(job for job in jobs if job is not None):
        attach = [s for s in pipelines.steps(job) if s.name == "attach_workspace"]
        if attach:
            yield Finding(
                "warning",
                inputs.config.file("jobs", job),
                attach[0].line,
                f"jobs.{job}.steps",
                f"{job} attaches a workspace, but a job fired alone through API v1.1 has "
                "none (no job ran before it): make what it needs inside the job, or move "
                f"to API v2 pipelines with `{MIGRATE}`",
            )


def v1_is_retiring(rules: RulesFile, text: str) -> Iterator[Finding]:
    """Needs no config: CircleCI removes the v1.1 trigger endpoints."""
    if rules.circleci.api != "v1.1":
        return
    yield Finding(
        "warning",
        rules.path,
        Config(rules.path, _mapping(load_yaml(text, rules.path))).line("circleci", "api"),
        "circleci.api",
        f"API v1.1 fires jobs through endpoints CircleCI removes on {V1_REMOVAL} (it "
        f"answers 410 Gone after): run `{MIGRATE}` to move to API v2 pipelines",
    )


def _mapping(data: object) -> Mapping[str, Any]:
    return data if isinstance(data, Mapping) else {}


def token_is_set(rules: RulesFile, environ: Mapping[str, str]) -> Iterator[Finding]:
    """Needs no config: the rules file and this environment. Only in CircleCI does the
    token's absence say the deploy will fail; on a laptop it is rarely set, so there it
    is a note and `--strict` passes."""
    name = rules.circleci.token_env
    if environ.get(name, "").strip():
        return
    if environ.get("CIRCLECI") == "true":
        yield Finding(
            "warning",
            rules.path,
            1,
            "circleci.token_env",
            f"{name} is not set here: a real trigger needs a CircleCI personal API token in "
            "it (a project environment variable on CircleCI)",
        )
    else:
        yield Finding(
            "note",
            rules.path,
            1,
            "circleci.token_env",
            f"{name} is not set here (not in CircleCI, CIRCLECI is not true): the job that "
            "runs the gate needs a CircleCI personal API token in it (a project environment "
            "variable on CircleCI)",
        )


CHECKS: tuple[Callable[[Inputs], Iterator[Finding]], ...] = (
    api_matches_version,
    api_named_for_version_2,
    triggers_exist,
    pipeline_parameters_declared,
    deploy_workflow_chosen,
    deploy_revision_pinned,
    push_workflows_kept_out,
    parallel_gate_job,
    contexts_of_v1_jobs,
    workspace_of_v1_jobs,
    deploy_serialized,
)


def exit_code(findings: list[Finding], *, strict: bool) -> int:
    failing = ("error", "warning") if strict else ("error",)
    return 2 if any(f.level in failing for f in findings) else 0


def summary(findings: list[Finding]) -> str:
    counts = [(sum(f.level == level for f in findings), level) for level in LEVELS]
    said = ", ".join(f"{n} {level}{'' if n == 1 else 's'}" for n, level in counts if n)
    return f"check: {said or 'clean'}"
