"""The rules file: described once (`RULES_FILE`), read, validated by that description with
every problem reported at once, then frozen into the records of `model`.

The validator, the JSON Schema that `schema` prints, the defaults and the README's key
table all come from `RULES_FILE`; adding a key is one `Key` here plus the code using it.
"""

from __future__ import annotations

from ci_deploy_gate.circleci.host import check_api_url
from ci_deploy_gate.circleci.versions import DEFAULT_API, VERSIONS
from ci_deploy_gate.conditions import Frozen, Within, leaves
from ci_deploy_gate.context import VCS_TYPES
from ci_deploy_gate.credentials import DEFAULT_TOKEN_ENV
from ci_deploy_gate.errors import ConfigError, suggest
from ci_deploy_gate.model import CircleCISettings, Freeze, Rule, RulesFile, Trigger, Window
from ci_deploy_gate.records import NamedTuple
from ci_deploy_gate.spec import (
    INVALID,
    At,
    Choice,
    Const,
    Fields,
    Flag,
    Key,
    ListOf,
    MapOf,
    Number,
    Section,
    Text,
    TextOr,
    Walk,
    json_schema,
    walk_document,
)
from ci_deploy_gate.templates import TemplateError
from ci_deploy_gate.templates import names as template_names
from ci_deploy_gate.when import When
from ci_deploy_gate.windows import (
    HOURS,
    LOCAL_TIME,
    parse_days,
    parse_hours,
    parse_local_time,
    zone,
)
from ci_deploy_gate.yamllines import YamlList, YamlMap, kind_of, load_yaml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable
    from typing import Any

    from ci_deploy_gate.conditions import Expr
    from ci_deploy_gate.model import ParameterValue
    from ci_deploy_gate.spec import Problem

SUPPORTED_VERSION = 1
ENV_NAME = r"^[A-Za-z_][A-Za-z0-9_]*$"
# CircleCI pipeline parameter names; at most 100 of them, values up to 512 characters.
PIPELINE_PARAMETER = r"^[A-Za-z][A-Za-z0-9_-]{0,127}$"
PIPELINE_PARAMETER_SAYS = (
    "{value!r} is not a pipeline parameter name (a letter, then letters, digits, _ or -; "
    "at most 128)"
)
MAX_PIPELINE_PARAMETERS = 100
MAX_PIPELINE_VALUE = 512
SLUG = r"^(gh|github|bb|bitbucket|circleci)/[^/\s]+/[^/\s]+$"
UUID = r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$"


# --- the domain's kinds of value ------------------------------------------------------


class Parsed(NamedTuple):
    """Text turned into a value by a parser that raises ValueError with the problem."""

    parse: Callable[[Any], object]
    shape: dict[str, Any]

    def read(self, walk: Walk, value: object, at: At) -> object:
        try:
            return self.parse(value)
        except ValueError as exc:
            return walk.problem(at, str(exc))

    def schema(self) -> dict[str, Any]:
        return dict(self.shape)


class TimeZone(NamedTuple):
    """A tz database name that this machine's zoneinfo (or tzdata) knows."""

    def read(self, walk: Walk, value: object, at: At) -> object:
        name = Text().read(walk, value, at)
        if not isinstance(name, str):
            return name
        return name if Parsed(zone, {}).read(walk, name, at) is not INVALID else INVALID

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1}


class Revision(NamedTuple):
    """A git revision for changed_base; never an option, since it reaches git."""

    def read(self, walk: Walk, value: object, at: At) -> object:
        text = Text().read(walk, value, at)
        if isinstance(text, str) and (text.startswith("-") or any(c.isspace() for c in text)):
            return walk.problem(
                at, f"{text!r} is not a git revision (e.g. origin/main, HEAD~1, a commit SHA)"
            )
        return text

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1, "pattern": r"^[^-\s][^\s]*$"}


class Condition(NamedTuple):
    """A condition in the `if` language; `within` and `frozen` must name a window and a
    freeze of the file, and a freeze's own `unless` cannot test `frozen`."""

    in_freeze: bool = False
    description: str = ""

    def read(self, walk: Walk, value: object, at: At) -> object:
        from ci_deploy_gate.expr import ExprError, parse

        if isinstance(value, bool):  # `if: true`, as YAML reads it
            value = "true" if value else "false"
        if not isinstance(value, str):
            found = kind_of(value)
            said = f"{at.name}: expected a condition as text, found {found}"
            return walk.problem(at, said, owner=True)
        try:
            condition = parse(value)
        except ExprError as exc:
            return walk.problem(at, f"{at.name}: {exc}", owner=True)
        return calendar_names(walk, condition, At(at.line, at.owner), in_freeze=self.in_freeze)

    def schema(self) -> dict[str, Any]:
        found: dict[str, Any] = {"type": ["string", "boolean"], "minLength": 1}
        if self.description:
            found["description"] = self.description
        return found


class Conditions(NamedTuple):
    """The `when` map, whose `within` and `frozen` are checked as the `if` language's."""

    def read(self, walk: Walk, value: object, at: At) -> object:
        condition = When().read(walk, value, at)
        if condition is INVALID:
            return INVALID
        return calendar_names(walk, condition, at, in_freeze=False)  # type: ignore[arg-type]

    def schema(self) -> dict[str, Any]:
        return When().schema()


def calendar_names(walk: Walk, condition: Expr, at: At, *, in_freeze: bool) -> object:
    """The condition, when every `within NAME` names a window and every `frozen NAME` a
    freeze of the file."""
    windows = _names(walk.document, "windows")
    freezes = _names(walk.document, "freezes")
    good = True
    for leaf in leaves(condition):
        if isinstance(leaf, Frozen) and in_freeze:
            walk.problem(at, "a freeze's unless cannot test 'frozen'")
            good = False
        elif isinstance(leaf, Within) and leaf.name not in windows:
            hint = suggest(leaf.name, windows) or (
                f"windows: {', '.join(windows)}" if windows else "no windows: are defined"
            )
            walk.problem(at, f"unknown window {leaf.name!r} ({hint})")
            good = False
        elif isinstance(leaf, Frozen) and leaf.name and leaf.name not in freezes:
            hint = suggest(leaf.name, freezes) or (
                f"freezes: {', '.join(freezes)}" if freezes else "no freezes: are defined"
            )
            walk.problem(at, f"unknown freeze {leaf.name!r} ({hint})")
            good = False
    return condition if good else INVALID


def _names(document: object, section: str) -> list[str]:
    """The names the file gives its windows or freezes, before either is validated."""
    found = document.get(section) if isinstance(document, YamlMap) else None
    if isinstance(found, YamlMap):
        return sorted(str(name) for name in found)
    items = found if isinstance(found, YamlList) else []
    names = [item.get("name") for item in items if isinstance(item, YamlMap)]
    return list(dict.fromkeys(n.strip() for n in names if isinstance(n, str) and n.strip()))


class Parameters(NamedTuple):
    """v1.1: environment variables for the job (text); v2: typed pipeline parameters,
    beside the two the gate sets itself. Which, by `circleci.api` read before."""

    def read(self, walk: Walk, value: object, at: At) -> object:
        if not isinstance(value, YamlMap):
            return walk.problem(at, f"expected a mapping, found {kind_of(value)}")
        settings = walk.found.get("circleci")
        v2 = setting(settings, "api") == "v2"
        reserved = (
            {
                setting(settings, "job_parameter"): "circleci.job_parameter",
                setting(settings, "revision_parameter"): "circleci.revision_parameter",
            }
            if v2
            else {"CIRCLE_JOB": "the trigger's job"}
        )
        pairs: list[tuple[str, ParameterValue]] = []
        for key, item in value.items():
            name, inner = str(key), at.key(key, value.lines[key])
            problem = _parameter_problem(name, item, reserved, v2=v2)
            if not problem and isinstance(item, str):
                try:
                    template_names(item, secret=_secrets(walk))
                except TemplateError as exc:
                    problem = (True, str(exc))
            if problem:
                walk.problem(inner if problem[0] else At(inner.line, at.where), problem[1])
            else:
                pairs.append((name, item))
        if v2 and len(value) + 2 > MAX_PIPELINE_PARAMETERS:
            walk.problem(
                At(value.line, at.where),
                f"CircleCI takes at most {MAX_PIPELINE_PARAMETERS} pipeline "
                "parameters, the gate's two included",
            )
        return tuple(pairs) if len(pairs) == len(value) else INVALID

    def schema(self) -> dict[str, Any]:
        return {
            "type": "object",
            "additionalProperties": {"type": ["string", "integer", "boolean"]},
        }


def setting(settings: object, key: str) -> str:
    """A `circleci` text setting as the gate will use it: its value when it is valid,
    else its default, so one bad setting does not hide the problems that depend on it."""
    value = settings.values.get(key) if isinstance(settings, Fields) else None
    return value if isinstance(value, str) else str(CIRCLECI.key(key).default)


def _parameter_problem(
    name: str, value: object, reserved: dict[str, str], *, v2: bool
) -> tuple[bool, str] | None:
    """(whether the problem is the value's, message), or None."""
    import re

    if v2 and not re.match(PIPELINE_PARAMETER, name):
        return False, PIPELINE_PARAMETER_SAYS.format(value=name)
    if not v2 and not re.match(ENV_NAME, name):
        return False, f"{name!r} is not an environment variable name"
    if name in reserved:
        return False, f"{name} is set by {reserved[name]}; remove it here"
    if isinstance(value, float) or not isinstance(value, (str, int)):
        hint = " (quote it)" if isinstance(value, float) else ""
        return True, f"expected text, found {kind_of(value)}{hint}"
    if v2 and isinstance(value, str) and len(value) > MAX_PIPELINE_VALUE:
        return True, f"CircleCI takes at most {MAX_PIPELINE_VALUE} characters"
    return None


def _secrets(walk: Walk) -> tuple[str, ...]:
    """The variables a template may never send: where the API tokens are."""
    return (DEFAULT_TOKEN_ENV, setting(walk.found.get("circleci"), "token_env"))


class Template(NamedTuple):
    """Text that may fill in the build's facts: `release-${build_num}`."""

    def read(self, walk: Walk, value: object, at: At) -> object:
        text = Text().read(walk, value, at)
        if isinstance(text, str):
            try:
                template_names(text, secret=_secrets(walk))
            except TemplateError as exc:
                return walk.problem(at, str(exc))
        return text

    def schema(self) -> dict[str, Any]:
        return {"type": "string", "minLength": 1}


# --- relations between keys -----------------------------------------------------------


def _one_target(walk: Walk, fields: Fields, at: At) -> None:
    """A trigger names one place to run, pinned only where CIRCLE_SHA1 means something."""
    given, line = fields.values, fields.line
    api = setting(walk.found.get("circleci"), "api")
    project, job, pin = given["project"], given["job"], given["pin"]
    if given["branch"] is not None and given["tag"] is not None:
        walk.problem(At(line("tag"), f"{at.where}.tag"), "give branch or tag, not both")
    if pin is True and project is not None:
        walk.problem(
            At(line("pin"), f"{at.where}.pin"),
            f"CIRCLE_SHA1 means nothing in {project}: a trigger into another project is "
            "never pinned (leave pin out)",
        )
    if pin is False and project is None and job is not None:
        walk.problem(
            At(line("pin"), f"{at.where}.pin"),
            f"a deploy job of this repository is never fired unpinned: leave pin out to pin "
            f"{job} to CIRCLE_SHA1, or leave job out to run a pipeline with the rule's "
            "parameters alone",
        )
    if api == "v1.1" and job is None:
        walk.problem(At(fields.at.line, at.where), "API v1.1 fires a job: give job")
    if api == "v1.1" and project is not None and given["branch"] is None and given["tag"] is None:
        walk.problem(
            At(line("project"), f"{at.where}.project"),
            "API v1.1 needs a branch (or tag) in another project: its URL names one",
        )
    token_env = given["token_env"]
    for key in ("branch", "tag"):
        text = given[key]
        if isinstance(text, str) and isinstance(token_env, str):
            try:
                template_names(text, secret=(token_env,))
            except TemplateError as exc:
                walk.problem(At(line(key), f"{at.where}.{key}"), str(exc))
    parameters = given["parameters"] if isinstance(given["parameters"], tuple) else ()
    for name, value in parameters:
        if isinstance(value, str) and isinstance(token_env, str):
            try:
                template_names(value, secret=(token_env,))
            except TemplateError as exc:
                walk.problem(At(line("parameters"), f"{at.where}.parameters.{name}"), str(exc))


def _parameters_differ(walk: Walk, fields: Fields, at: At) -> None:
    job, revision = setting(fields, "job_parameter"), setting(fields, "revision_parameter")
    if job == revision:
        walk.problem(
            at.key("revision_parameter", fields.line("revision_parameter")),
            f"{revision!r} is also the job_parameter: "
            "the job and the revision need a parameter each",
        )


def _ends_after_start(walk: Walk, fields: Fields, at: At) -> None:
    start, end = fields.values["from"], fields.values["to"]
    if start is not None and end is not None and fields.ok("from", "to") and end <= start:
        walk.problem(
            At(fields.line("to"), f"{at.where}.to"),
            f"{end:%Y-%m-%d %H:%M} is not after from ({start:%Y-%m-%d %H:%M})",
        )
        fields.values["to"] = INVALID


# --- the rules file, described once ---------------------------------------------------

_V2 = ("api", "v2")
CIRCLECI = Section(
    (
        Key(
            "url",
            Text(
                r"^https?://",
                "expected an http(s) URL such as https://circleci.com",
                check_api_url,
            ),
            "the API host; default https://circleci.com. Plain http:// only for loopback",
        ),
        Key(
            "token_env",
            Text(ENV_NAME, "{value!r} is not an environment variable name"),
            "the environment variable holding a personal API token",
            default=DEFAULT_TOKEN_ENV,
        ),
        Key(
            "vcs",
            Choice(VCS_TYPES, text=True, listed=True),
            "default: from CIRCLE_REPOSITORY_URL",
        ),
        Key(
            "api",
            Choice(tuple(VERSIONS), text=True),
            "v1.1 fires one job of a version 2 config; v2 runs a pipeline of a version 2.1 config",
            default=DEFAULT_API,
        ),
        Key(
            "project_slug",
            Text(
                SLUG,
                "expected gh/ORG/REPO, bb/ORG/REPO or circleci/ORG-ID/PROJECT-ID, found {value!r}",
            ),
            "v2: default gh|bb/ORG/REPO from the build",
            only_with=_V2,
        ),
        Key(
            "definition_id",
            Text(UUID, "expected a pipeline definition id (a UUID), found {value!r}"),
            "v2: a pipeline definition id; selects POST .../pipeline/run",
            only_with=_V2,
        ),
        Key(
            "job_parameter",
            Text(PIPELINE_PARAMETER, PIPELINE_PARAMETER_SAYS),
            "v2: the pipeline parameter naming the job",
            default="deploy_job",
            only_with=_V2,
        ),
        Key(
            "revision_parameter",
            Text(PIPELINE_PARAMETER, PIPELINE_PARAMETER_SAYS),
            "v2: the pipeline parameter carrying CIRCLE_SHA1",
            default="deploy_revision",
            only_with=_V2,
        ),
        Key(
            "retries",
            Number(1, 10, whole=True, what="a whole number"),
            "attempts in all for one request",
            default=4,
        ),
        Key(
            "deadline",
            Number(1, 3600, whole=False, what="a number of seconds"),
            "seconds for one request and its retries",
            default=60.0,
        ),
    ),
    "how to reach CircleCI",
    checks=(_parameters_differ,),
)

WINDOW = Section(
    (
        Key(
            "timezone",
            TimeZone(),
            "a tz database name: Europe/Berlin, UTC",
            required=True,
            missing="a tz database name: Europe/Berlin, UTC",
        ),
        Key(
            "days",
            Parsed(
                parse_days,
                {
                    "anyOf": [
                        {"type": "string", "minLength": 1},
                        {
                            "type": "array",
                            "minItems": 1,
                            "items": {"type": "string", "minLength": 1},
                        },
                    ]
                },
            ),
            'mon-thu, sat, "mon, wed", or a list of those; a range may wrap (fri-mon)',
            required=True,
        ),
        Key(
            "hours",
            Parsed(parse_hours, {"type": "string", "pattern": HOURS}),
            "HH:MM-HH:MM, half-open; 22:00-02:00 crosses midnight",
            required=True,
        ),
    )
)

_LOCAL_TIME = Parsed(parse_local_time, {"type": "string", "pattern": LOCAL_TIME})
FREEZE = Section(
    (
        Key("name", Text(), required=True),
        Key("from", _LOCAL_TIME, "YYYY-MM-DD HH:MM, local time of timezone", required=True),
        Key("to", _LOCAL_TIME, "YYYY-MM-DD HH:MM, half-open", required=True),
        Key(
            "timezone",
            TimeZone(),
            required=True,
            missing="a tz database name: Europe/Berlin, UTC",
        ),
        Key("reason", Text()),
        Key(
            "unless",
            Condition(in_freeze=True),
            "a condition in the `if` language that lifts the freeze",
        ),
    ),
    checks=(_ends_after_start,),
)

TRIGGER = TextOr(
    Text(),
    Section(
        (
            Key("job", Text(), "the job to fire; v2 may leave it out: no job parameter is sent"),
            Key("parameters", Parameters()),
            Key(
                "project",
                Text(
                    SLUG,
                    "expected gh/ORG/REPO, bb/ORG/REPO or circleci/ORG-ID/PROJECT-ID, "
                    "found {value!r}",
                ),
                "another project to run; default: this build's",
            ),
            Key(
                "branch",
                Template(),
                "run on this branch; default: this build's (this project), the project's "
                "default branch (another)",
            ),
            Key("tag", Template(), "run on this tag"),
            Key(
                "pin",
                Flag(),
                "send CIRCLE_SHA1; default true for this project, false (the only choice) for "
                "another",
            ),
            Key(
                "token_env",
                Text(ENV_NAME, "{value!r} is not an environment variable name"),
                "the variable holding this trigger's token; default circleci.token_env",
            ),
        ),
        checks=(_one_target,),
    ),
    blank="expected a job name",
    description="a job name, or {job, parameters, project, branch, tag, pin, token_env}",
)

RULE = Section(
    (
        Key("name", Text(), "unique, shown in reports", required=True),
        Key("if", Condition(description="e.g. branch is release and not pull_request")),
        Key("when", Conditions()),
        Key("trigger", TRIGGER, required=True),
        Key("changed_base", Revision(), "this rule's own base for `changed` and `messages`"),
    ),
    one_of=("if", "when"),
)

RULE_LIST = ListOf(
    RULE, "a list of rules", joiner=": ", unique="the name is already used by {first}"
)

RULES_FILE = Section(
    (
        Key(
            "version",
            Const(SUPPORTED_VERSION, "{value!r} is not supported (this gate reads {const})"),
            "the format of this file; 1 is the only one",
        ),
        Key("circleci", CIRCLECI),
        Key(
            "match",
            Choice(("first", "all")),
            "first: the first matching rule fires; all: every matching rule fires, each job once",
            default="first",
        ),
        Key("allow_forks", Flag(), "true lets forked pull requests fire", default=False),
        Key(
            "wait_for_nodes",
            Flag(),
            "node 0 fires only after every other parallel node passed",
            default=False,
        ),
        Key(
            "changed_base",
            Revision(),
            "the base of the changed range for `changed` and `messages`; default: the "
            "merge-base with the remote's default branch",
        ),
        Key(
            "windows",
            MapOf(WINDOW, "a mapping of named windows"),
            "named deploy windows, tested with `within NAME`",
        ),
        Key(
            "freezes",
            ListOf(
                FREEZE,
                "a list of freezes",
                unique="the name {name!r} is already used by a freeze",
            ),
            "change freezes, tested with `frozen` and `frozen NAME`",
        ),
        Key("rules", RULE_LIST, required=True),
    ),
    top=True,
)

# `run` runs a command for each matched rule: its rules need not name a job to fire
RUN_RULES_FILE = RULES_FILE.with_key(
    "rules", kind=RULE_LIST._replace(item=RULE.with_key("trigger", required=False))
)


def schema() -> dict[str, Any]:
    """The JSON Schema of the rules file, for editors: `python -m ci_deploy_gate schema`."""
    return json_schema(
        RULES_FILE,
        title="ci-deploy-gate rules file (.circleci/deploy-gate.yml)",
        description="Which build fires which deploy job, pinned to CIRCLE_SHA1. "
        "Printed by `python -m ci_deploy_gate schema`.",
    )


# --- load -------------------------------------------------------------------------------


def load_rules(path: str, *, triggers: bool = True) -> RulesFile:
    """`triggers`: every rule must name a job to fire (the gate); False for `run`."""
    return parse_rules(read_rules_text(path), path, triggers=triggers)


def read_rules_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as handle:
            return handle.read()
    except FileNotFoundError:
        raise ConfigError(
            f"{path}: rules file not found (pass --rules PATH or set DEPLOY_GATE_RULES)"
        ) from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the rules file: {exc}") from None


def parse_rules(text: str, path: str, *, triggers: bool = True) -> RulesFile:
    """Raises ConfigError listing every problem, one per line, in file order."""
    rules_file, problems = check_rules(text, path, triggers=triggers)
    if problems or rules_file is None:
        raise ConfigError("\n".join(str(p) for p in problems))
    return rules_file


def check_rules(
    text: str, path: str, *, triggers: bool = True
) -> tuple[RulesFile | None, list[Problem]]:
    """The rules file and every problem in it, in file order; ConfigError only when it is
    not YAML at all. `triggers` False: a rule need not name a job (`run`)."""
    from ci_deploy_gate.spec import Problem

    document = load_yaml(text, path)
    if document is None:
        return None, [Problem(path, 1, "", "the rules file is empty; it needs a 'rules:' list")]
    found, problems = walk_document(RULES_FILE if triggers else RUN_RULES_FILE, document, path)
    if problems or not isinstance(found, Fields):
        return None, problems
    return _freeze(found, path), []


def _freeze(top: Fields, path: str) -> RulesFile:
    """The validated document as records; every value here has passed its check."""
    values = top.values
    circleci = values["circleci"]
    settings = (
        CircleCISettings(**circleci.values, api_given="api" in circleci.given)
        if isinstance(circleci, Fields)
        else _defaults()
    )
    windows = values["windows"] or {}
    return RulesFile(
        path=path,
        circleci=settings,
        match=values["match"],
        allow_forks=values["allow_forks"],
        rules=tuple(_rule(rule) for rule in values["rules"]),
        wait_for_nodes=values["wait_for_nodes"],
        changed_base=values["changed_base"],
        windows=tuple(
            Window(name, w.values["timezone"], w.values["days"], start, end, w.at.line)
            for name, w in windows.items()
            for start, end in [w.values["hours"]]
        ),
        freezes=tuple(
            Freeze(
                f.values["name"],
                f.values["from"],
                f.values["to"],
                f.values["timezone"],
                f.values["reason"],
                f.values["unless"],
                f.at.line,
            )
            for f in values["freezes"] or ()
        ),
    )


def _defaults() -> CircleCISettings:
    defaults: dict[str, Any] = {key.name: key.default for key in CIRCLECI.keys}
    return CircleCISettings(**defaults)


def _rule(rule: Fields) -> Rule:
    values = rule.values
    trigger = values["trigger"]
    line = rule.line("trigger")
    made: Trigger | None
    if isinstance(trigger, Fields):
        given = trigger.values
        pin = given["pin"] if given["pin"] is not None else given["project"] is None
        made = Trigger(
            given["job"],
            given["parameters"] or (),
            line,
            project=given["project"],
            branch=given["branch"],
            tag=given["tag"],
            pin=pin,
            token_env=given["token_env"],
        )
    elif trigger is not None:
        made = Trigger(trigger, (), line)
    else:
        made = None  # only in a rules file for `run`
    condition = values["if"] if values["if"] is not None else values["when"]
    return Rule(values["name"], condition, made, rule.at.line, values["changed_base"])
