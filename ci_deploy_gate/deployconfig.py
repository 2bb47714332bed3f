"""What a 2.1 config needs so a pipeline the gate fires (API v2) runs the deploy, at the
tested commit, and nothing else: one analysis, which `check` reports as findings and
`init` prints as the pieces to add.

A fired pipeline carries the job parameter (the trigger's name), the revision parameter
(CIRCLE_SHA1) and the rule's parameters; a push pipeline carries the defaults. Which
workflows run in each is decided by their `when:`/`unless:` (`circleci_logic`).
"""

from __future__ import annotations

from collections.abc import Mapping

from ci_deploy_gate.circleci_logic import PARAMETER, UNKNOWN, interpolated, parameter, runs
from ci_deploy_gate.model import CircleCISettings
from ci_deploy_gate.records import NamedTuple
from ci_deploy_gate.yamllines import line_of

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any

    from ci_deploy_gate.ciconfig import Config
    from ci_deploy_gate.model import Trigger

# The pinned checkout: the parameter reaches the shell through the environment, never as
# shell text (whoever triggers a pipeline writes its parameters), and only a SHA passes.
PIN_ENVIRONMENT = "DEPLOY_REVISION: << pipeline.parameters.{revision} >>"
PIN_COMMAND = (
    'case "$DEPLOY_REVISION" in "" | *[!0-9a-f]*) '
    'echo "DEPLOY_REVISION is not a commit SHA" >&2; exit 1 ;; esac; '
    'git checkout --detach "$DEPLOY_REVISION"'
)
_NO_SETTINGS = CircleCISettings()
_STEP_CONDITIONS = ("when", "unless")  # step-level conditions, which hold steps of their own


class Gap(NamedTuple):
    """One thing the config lacks, where, and the YAML that adds it."""

    level: str  # error | note
    line: int
    where: str  # the key path in the config
    message: str
    fix: str  # YAML to add, for `init`


class Workflow(NamedTuple):
    name: str
    body: Mapping[str, Any]
    line: int

    def entries(self) -> Iterator[Entry]:
        """Its jobs: `- name` or `- name: {options}`."""
        jobs = self.body.get("jobs")
        for index, entry in enumerate(jobs if isinstance(jobs, list) else []):
            if isinstance(entry, str):
                yield Entry(entry, {}, line_of(jobs, index))
            elif isinstance(entry, Mapping) and len(entry) == 1:
                ((job, options),) = entry.items()
                options = options if isinstance(options, Mapping) else {}
                yield Entry(str(job), options, line_of(jobs, index))


class Entry(NamedTuple):
    """A job as a workflow runs it."""

    job: str
    options: Mapping[str, Any]
    line: int


class Step(NamedTuple):
    name: str
    args: object
    line: int


class Pipelines(NamedTuple):
    """The config, the names the gate sends, and what runs in which pipeline."""

    config: Config
    settings: CircleCISettings

    def workflows(self) -> list[Workflow]:
        """The workflows a push or an API pipeline may run: not `version`, not scheduled
        (a workflow with `triggers:` runs only on its schedule)."""
        section = self.config.section("workflows")
        return [
            Workflow(str(name), body, self.config.line("workflows", name))
            for name, body in section.items()
            if name != "version" and isinstance(body, Mapping) and "triggers" not in body
        ]

    def push(self) -> dict[str, object]:
        """The pipeline values of a push: the declared defaults ("" for the gate's own)."""
        known: dict[str, object] = {
            parameter(self.settings.job_parameter): "",
            parameter(self.settings.revision_parameter): "",
        }
        for name, spec in self.config.section("parameters").items():
            if isinstance(spec, Mapping):
                known[parameter(str(name))] = spec.get("default", UNKNOWN)
        return known

    def fired(self, trigger: Deploy) -> dict[str, object]:
        """The pipeline values when the gate fires `trigger` (API triggers say so)."""
        known = self.push()
        known[parameter(self.settings.job_parameter)] = trigger.job
        known[parameter(self.settings.revision_parameter)] = "0" * 40
        known.update((parameter(name), value) for name, value in trigger.parameters)
        known["pipeline.trigger_source"] = "api"
        return known

    def selecting(self, trigger: Deploy) -> list[Workflow]:
        """The workflows that run `trigger` when it is fired, and never on push."""
        push, fired = self.push(), self.fired(trigger)
        return [
            workflow
            for workflow in self.workflows()
            if runs(workflow.body, fired) is not False
            and runs(workflow.body, push) is False
            and (
                workflow.name == trigger.job
                or any(e.job == trigger.job for e in workflow.entries())
            )
        ]

    def known(self, trigger: Deploy) -> bool:
        """Whether the trigger names a job or workflow (`check` reports one that does not)."""
        names = {w.name for w in self.workflows()}
        return trigger.job in self.config.section("jobs") or trigger.job in names

    def steps(self, job: str) -> list[Step]:
        """A job's steps, with those of the `commands:` it uses and of step-level
        `when`/`unless`, in order."""
        body = self.config.section("jobs").get(job)
        return list(self._walk(body.get("steps") if isinstance(body, Mapping) else None, ()))

    def _walk(self, steps: object, inside: tuple[str, ...]) -> Iterator[Step]:
        commands = self.config.section("commands")
        for index, raw in enumerate(steps if isinstance(steps, list) else []):
            step = _step(raw, line_of(steps, index))
            if step is None:
                continue
            yield step
            command = commands.get(step.name)
            if isinstance(command, Mapping) and step.name not in inside:
                yield from self._walk(command.get("steps"), (*inside, step.name))
            elif step.name in _STEP_CONDITIONS and isinstance(step.args, Mapping):
                yield from self._walk(step.args.get("steps"), inside)

    def checks_out(self, job: str) -> bool:
        return any(step.name == "checkout" for step in self.steps(job))

    def reads_revision(self, entry: Entry) -> bool:
        """Whether the job's steps read the revision parameter: in a `run` command, in an
        `environment` (its scripts read it there), or handed to an orb's command, directly
        or through a job or command parameter that carries it."""
        steps = self.steps(entry.job)
        carriers = self._carriers(entry, steps)
        job = self.config.section("jobs").get(entry.job)
        if isinstance(job, Mapping) and _mentions(job.get("environment"), carriers):
            return True
        return any(_step_reads(step, carriers) for step in steps)

    def _carriers(self, entry: Entry, steps: Sequence[Step]) -> set[str]:
        """The interpolations that hold the revision: the parameter itself, and every job
        or command parameter given it (by the workflow, a default or a command's caller)."""
        commands = self.config.section("commands")
        scope = [entry.options, self.config.section("jobs").get(entry.job)]
        scope += [commands[s.name] for s in steps if isinstance(commands.get(s.name), Mapping)]
        carriers = {parameter(self.settings.revision_parameter)}
        while True:
            found = {
                f"parameters.{key}" for key, value in _pairs(scope) if _mentions(value, carriers)
            }
            if found <= carriers:
                return carriers
            carriers |= found


def _step(raw: object, line: int) -> Step | None:
    if isinstance(raw, str):
        return Step(raw, None, line)
    if isinstance(raw, Mapping) and len(raw) == 1:
        ((name, args),) = raw.items()
        return Step(str(name), args, line)
    return None


def _step_reads(step: Step, carriers: set[str]) -> bool:
    if step.name == "run":
        if isinstance(step.args, Mapping):
            return _mentions(step.args.get("command"), carriers) or _mentions(
                step.args.get("environment"), carriers
            )
        return _mentions(step.args, carriers)
    return "/" in step.name and _mentions(step.args, carriers)  # an orb's command


def _mentions(node: object, carriers: set[str]) -> bool:
    return any(name in carriers for name in interpolated(node))


def _pairs(nodes: Sequence[object]) -> Iterator[tuple[object, object]]:
    """Every key and value of every mapping below `nodes`."""
    for node in nodes:
        if isinstance(node, Mapping):
            for key, value in node.items():
                yield key, value
                yield from _pairs([value])
        elif isinstance(node, list):
            yield from _pairs(node)


# --- the gaps ----------------------------------------------------------------------------


class Deploy(NamedTuple):
    """A trigger of a job of this project: what the config must serve. Triggers into
    another project, or of a pipeline without a job, ask nothing of this config."""

    job: str
    parameters: tuple[tuple[str, object], ...] = ()


def _unique(triggers: Sequence[Trigger | Deploy]) -> list[Deploy]:
    seen: dict[str, Deploy] = {}
    for trigger in triggers:
        if trigger.job is not None and getattr(trigger, "project", None) is None:
            seen.setdefault(trigger.job, Deploy(trigger.job, tuple(trigger.parameters)))
    return list(seen.values())


def unselected(pipelines: Pipelines, triggers: Sequence[Trigger | Deploy]) -> Iterator[Gap]:
    """A fired pipeline whose workflows ignore the job parameter runs every workflow (or,
    when each is kept from it, none)."""
    parameter_name = pipelines.settings.job_parameter
    for trigger in _unique(triggers):
        if not pipelines.known(trigger) or pipelines.selecting(trigger):
            continue
        home = _home(pipelines, trigger.job)
        when = f"equal: [{trigger.job}, << {PARAMETER}{parameter_name} >>]"
        fix = f"workflows:\n  {home.name if home else trigger.job}:\n    when:\n      {when}\n"
        if home is None:
            fix += f"    jobs:\n      - {trigger.job}\n"
        yield Gap(
            "error",
            home.line if home else pipelines.config.line("workflows"),
            f"workflows.{home.name}" if home else "workflows",
            f"no workflow runs only when {parameter_name} is {trigger.job!r}: the pipeline "
            f"the gate fires for {trigger.job} would run every workflow, or none; give "
            f"the workflow that runs {trigger.job} `when: {{{when}}}`",
            fix,
        )


def _home(pipelines: Pipelines, name: str) -> Workflow | None:
    """The workflow named `name`, else the first that runs a job named `name`."""
    workflows = pipelines.workflows()
    named = [w for w in workflows if w.name == name]
    running = [w for w in workflows if any(e.job == name for e in w.entries())]
    chosen = named or running
    return chosen[0] if chosen else None


def unpinned(pipelines: Pipelines, triggers: Sequence[Trigger | Deploy]) -> Iterator[Gap]:
    """v2 cannot pin a revision: a fired job that checks out must check out the revision
    parameter itself, or it deploys whatever the branch head is by then."""
    revision = pipelines.settings.revision_parameter
    said: set[str] = set()
    for trigger in _unique(triggers):
        for entry in _fired_entries(pipelines, trigger):
            if entry.job in said or entry.job not in pipelines.config.section("jobs"):
                continue  # an orb's job: not ours to read
            if pipelines.checks_out(entry.job) and not pipelines.reads_revision(entry):
                said.add(entry.job)
                environment = PIN_ENVIRONMENT.format(revision=revision)
                yield Gap(
                    "error",
                    pipelines.config.line("jobs", entry.job),
                    f"jobs.{entry.job}",
                    f"checks out the source but never reads << {PARAMETER}{revision} >>: "
                    f"in the pipeline the gate fires for {trigger.job} it would build or "
                    f"deploy the branch head, not the tested commit; give it `environment: "
                    f"{{{environment}}}` and, after its checkout, a step that checks out "
                    "$DEPLOY_REVISION (the README's pinned checkout)",
                    f"jobs:\n  {entry.job}:\n    environment:\n      {environment}\n"
                    f"    steps:\n      - checkout\n      - run: '{PIN_COMMAND}'\n",
                )


def _fired_entries(pipelines: Pipelines, trigger: Deploy) -> list[Entry]:
    """The jobs a fired pipeline runs: those of the workflows it selects; while none
    does, the triggered job (or the jobs of the workflow it names)."""
    selected = pipelines.selecting(trigger)
    if selected:
        return [entry for workflow in selected for entry in workflow.entries()]
    named = [w for w in pipelines.workflows() if w.name == trigger.job]
    if named:
        return list(named[0].entries())
    return [Entry(trigger.job, {}, pipelines.config.line("jobs", trigger.job))]


def unguarded(pipelines: Pipelines, triggers: Sequence[Trigger | Deploy]) -> Iterator[Gap]:
    """A workflow that builds on push and is not kept from the fired pipeline reruns the
    whole build there (and its own deploys, at the branch head)."""
    parameter_name = pipelines.settings.job_parameter
    push = pipelines.push()
    guard = f'equal: ["", << {PARAMETER}{parameter_name} >>]'
    said: set[str] = set()
    for trigger in _unique(triggers):
        if not pipelines.known(trigger):
            continue
        fired = pipelines.fired(trigger)
        for workflow in pipelines.workflows():
            if workflow.name in said or runs(workflow.body, push) is False:
                continue
            if workflow == _home(pipelines, trigger.job):
                continue  # the deploy's own workflow: `unselected` says what it lacks
            if runs(workflow.body, fired) is False:
                continue
            said.add(workflow.name)
            yield Gap(
                "error",
                workflow.line,
                f"workflows.{workflow.name}",
                f"runs on push and also in the pipeline the gate fires for {trigger.job} "
                f"({parameter_name} set), which would rerun the whole build: keep it out "
                f"with `when: {{{guard}}}`"
                + (" (with its present `when` under an `and:`)" if "when" in workflow.body else ""),
                f"workflows:\n  {workflow.name}:\n    when:\n      {guard}\n",
            )


def unserialized(pipelines: Pipelines, triggers: Sequence[Trigger | Deploy]) -> Iterator[Gap]:
    """Two pipelines fired close together deploy at once unless a serial group holds the
    second back."""
    said: set[tuple[str, str]] = set()
    for trigger in _unique(triggers):
        for workflow in pipelines.selecting(trigger):
            for entry in _deploys(workflow, trigger):
                if "serial-group" in entry.options or (workflow.name, entry.job) in said:
                    continue
                said.add((workflow.name, entry.job))
                group = f"<< pipeline.project.slug >>/{entry.job}"
                yield Gap(
                    "note",
                    entry.line,
                    f"workflows.{workflow.name}.jobs.{entry.job}",
                    f"has no serial-group: two pipelines fired close together would deploy "
                    f"at once; add `serial-group: {group}` here (CircleCI's lock across "
                    "pipelines, Cloud and Server 4.9+: the newer pipeline's job goes first "
                    "and an older one waiting is skipped)",
                    f"workflows:\n  {workflow.name}:\n    jobs:\n      - {entry.job}:\n"
                    f"          serial-group: {group}\n",
                )


def _deploys(workflow: Workflow, trigger: Deploy) -> list[Entry]:
    """The deploy jobs of a fired workflow: the triggered job, else the jobs that no other
    job of the workflow requires (its last ones)."""
    entries = list(workflow.entries())
    named = [entry for entry in entries if entry.job == trigger.job]
    if named:
        return named
    required = {
        str(each)
        for entry in entries
        for each in (entry.options.get("requires") or [])
        if isinstance(entry.options.get("requires"), list)
    }
    return [entry for entry in entries if entry.job not in required]


def gaps(
    config: Config, settings: CircleCISettings, triggers: Sequence[Trigger | Deploy]
) -> list[Gap]:
    """Everything a 2.1 config lacks for these triggers, errors first."""
    pipelines = Pipelines(config, settings)
    found = [
        *unselected(pipelines, triggers),
        *unpinned(pipelines, triggers),
        *unguarded(pipelines, triggers),
        *unserialized(pipelines, triggers),
    ]
    return found


def undeclared(config: Config, settings: CircleCISettings) -> list[str]:
    """The gate's own pipeline parameters that `parameters:` lacks (`check` also holds
    each rule's parameters and their types to it)."""
    declared = config.section("parameters")
    names = (settings.job_parameter, settings.revision_parameter)
    return [name for name in names if not isinstance(declared.get(name), Mapping)]


def v1_trigger(config: Config) -> tuple[str, int] | None:
    """The first job with a step that fires a job through API v1.1 with curl (the shape
    `migrate` moves to pipelines): (job, line), or None."""
    pipelines = Pipelines(config, _NO_SETTINGS)
    for job in config.section("jobs"):
        for step in pipelines.steps(str(job)):
            if step.name in ("run", "deploy") and _fires_v1(step.args):
                return str(job), step.line
    return None


def _fires_v1(args: object) -> bool:
    command = args.get("command") if isinstance(args, Mapping) else args
    return (
        isinstance(command, str)
        and "curl" in command
        and ("/api/v1.1/project/" in command or "build_parameters[CIRCLE_JOB]" in command)
    )
