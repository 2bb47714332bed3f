"""Load and validate the rules file, then freeze it into records.

Every problem is collected with its line before anything is reported, and
nothing downstream sees a raw dict: the rest of the gate works on `RulesFile`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator, Sequence
from datetime import date, datetime, time
from typing import Any, NamedTuple, Union

from ci_deploy_gate.circleci.host import check_api_url
from ci_deploy_gate.context import FACTS, VCS_TYPES, PathQuery, fact_kind
from ci_deploy_gate.credentials import DEFAULT_TOKEN_ENV
from ci_deploy_gate.errors import ConfigError, suggest
from ci_deploy_gate.expr import (
    All,
    Changed,
    Contains,
    Expr,
    ExprError,
    Frozen,
    Is,
    Matches,
    Not,
    Search,
    Within,
    leaves,
    parse,
)
from ci_deploy_gate.patterns import Pattern, PatternError, is_regex_literal, path_matcher, pattern

DEFAULT_PATH = ".circleci/deploy-gate.yml"
SUPPORTED_VERSION = 1
MATCH_MODES = ("first", "all")

API_VERSIONS = ("v1.1", "v2")
DEFAULT_JOB_PARAMETER = "deploy_job"
DEFAULT_REVISION_PARAMETER = "deploy_revision"
DEFAULT_RETRIES = 4
DEFAULT_DEADLINE = 60.0
MAX_RETRIES = 10
MAX_DEADLINE = 3600.0

TOP_KEYS = (
    "version",
    "circleci",
    "match",
    "allow_forks",
    "wait_for_nodes",
    "changed_base",
    "windows",
    "freezes",
    "rules",
)
TOP_FLAGS = ("allow_forks", "wait_for_nodes")
CIRCLECI_KEYS = (
    "url",
    "token_env",
    "vcs",
    "api",
    "project_slug",
    "definition_id",
    "job_parameter",
    "revision_parameter",
    "retries",
    "deadline",
)
RULE_KEYS = ("name", "if", "when", "trigger", "changed_base")
TRIGGER_KEYS = ("job", "parameters")
SEARCH_KEYS = ("contains", "matches")  # `when: {message: {contains: ..., matches: ...}}`
WINDOW_KEYS = ("timezone", "days", "hours")
FREEZE_KEYS = ("name", "from", "to", "timezone", "reason", "unless")
DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^([01]?[0-9]|2[0-4]):([0-5][0-9])$")
_LOCAL_TIME = re.compile(r"^(\d{4}-\d{2}-\d{2})(?:[ T](\d{1,2}:\d{2}))?$")

_ENV_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# CircleCI pipeline parameter names; at most 100 of them, values up to 512 characters.
_PIPELINE_PARAMETER = re.compile(r"^[A-Za-z][A-Za-z0-9_-]{0,127}$")
MAX_PIPELINE_PARAMETERS = 100
MAX_PIPELINE_VALUE = 512
_SLUG = re.compile(r"^(gh|github|bb|bitbucket|circleci)/[^/\s]+/[^/\s]+$")
_UUID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)

ParameterValue = Union[str, int, bool]


class CircleCISettings(NamedTuple):
    url: str | None = None
    token_env: str = DEFAULT_TOKEN_ENV
    vcs: str | None = None
    api: str = "v1.1"
    project_slug: str | None = None
    definition_id: str | None = None
    job_parameter: str = DEFAULT_JOB_PARAMETER
    revision_parameter: str = DEFAULT_REVISION_PARAMETER
    retries: int = DEFAULT_RETRIES  # attempts in all, the first included
    deadline: float = DEFAULT_DEADLINE  # seconds for one request and its retries


class Trigger(NamedTuple):
    job: str
    # v1.1 build_parameters (sent as text) or v2 pipeline parameters (typed), in file order
    parameters: tuple[tuple[str, ParameterValue], ...]
    line: int = 1  # of `trigger:` in the rules file, for `check`


class Window(NamedTuple):
    """Open on `days` (0 = Monday) from `start` to `end`, half-open, on the local clock of
    `timezone`; an `end` at or before `start` crosses midnight and belongs to the day it
    starts."""

    name: str
    timezone: str
    days: frozenset[int]
    start: time
    end: time | None  # None: the end of the day, "24:00"
    line: int

    @property
    def overnight(self) -> bool:
        return self.end is not None and self.end <= self.start


class Freeze(NamedTuple):
    """No deploys from `start` to `end` (half-open, the local clock of `timezone`) unless
    the `unless` condition holds."""

    name: str
    start: datetime  # naive: a wall-clock time of `timezone`
    end: datetime
    timezone: str
    reason: str | None
    unless: Expr | None
    line: int


class Rule(NamedTuple):
    name: str
    condition: Expr
    trigger: Trigger
    line: int
    changed_base: str | None = None  # overrides the file's, for `changed` and `messages`


class RulesFile(NamedTuple):
    path: str
    circleci: CircleCISettings
    match: str
    allow_forks: bool
    rules: tuple[Rule, ...]
    wait_for_nodes: bool = False
    changed_base: str | None = None  # None: the merge-base with the remote's default branch
    windows: tuple[Window, ...] = ()
    freezes: tuple[Freeze, ...] = ()

    def base_of(self, rule: Rule) -> str | None:
        return rule.changed_base or self.changed_base


class Problem(NamedTuple):
    path: str
    line: int
    where: str
    message: str

    def __str__(self) -> str:
        where = f"{self.where}: " if self.where else ""
        return f"{self.path}:{self.line}: {where}{self.message}"


def load_rules(path: str) -> RulesFile:
    return parse_rules(read_rules_text(path), path)


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


def parse_rules(text: str, path: str) -> RulesFile:
    """Raises ConfigError listing every problem, one per line, in file order."""
    rules_file, problems = check_rules(text, path)
    if problems or rules_file is None:
        raise ConfigError("\n".join(str(p) for p in problems))
    return rules_file


def check_rules(text: str, path: str) -> tuple[RulesFile | None, list[Problem]]:
    """The rules file and every problem in it, in file order; ConfigError only when it is
    not YAML at all."""
    data = load_yaml(text, path)
    reader = _Reader(path)
    rules_file = reader.top(data)
    return rules_file, sorted(reader.problems, key=lambda p: p.line)


def _pipeline_name_problem(name: str) -> str | None:
    if _PIPELINE_PARAMETER.match(name):
        return None
    return (
        f"{name!r} is not a pipeline parameter name "
        "(a letter, then letters, digits, _ or -; at most 128)"
    )


def _expected(what: str, allowed: Callable[[str], object]) -> Callable[[str], str | None]:
    return lambda value: None if allowed(value) else f"expected {what}, found {value!r}"


# circleci.KEY -> its problem, or None: each text setting is checked the same way
_SETTING_CHECKS: dict[str, Callable[[str], str | None]] = {
    "url": check_api_url,
    "token_env": lambda value: (
        None if _ENV_NAME.match(value) else f"{value!r} is not an environment variable name"
    ),
    "vcs": _expected(f"one of {', '.join(VCS_TYPES)}", VCS_TYPES.__contains__),
    "api": _expected(" or ".join(API_VERSIONS), API_VERSIONS.__contains__),
    "project_slug": _expected(
        "gh/ORG/REPO, bb/ORG/REPO or circleci/ORG-ID/PROJECT-ID", _SLUG.match
    ),
    "definition_id": _expected("a pipeline definition id (a UUID)", _UUID.match),
    "job_parameter": _pipeline_name_problem,
    "revision_parameter": _pipeline_name_problem,
}


# --- YAML with lines -------------------------------------------------------------------


class _Map(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the line of itself and of each key."""

    line = 1
    lines: dict[Any, int]


class _Seq(list):  # type: ignore[type-arg]
    line = 1
    lines: list[int]


def load_yaml(text: str, path: str) -> object:
    """Safe YAML whose mappings and lists know their lines (`line`, `lines`); duplicate
    keys are errors. ConfigError names the file, line and column of a syntax error."""
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc]
        pass

    def construct_map(loader: Any, node: Any) -> Iterator[_Map]:
        data = _Map()
        data.line, data.lines = node.start_mark.line + 1, {}
        yield data
        loader.flatten_mapping(node)
        for key_node, value_node in node.value:
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise yaml.constructor.ConstructorError(
                    None, None, "a key must be a plain value", key_node.start_mark
                )
            if key in data.lines:
                raise yaml.constructor.ConstructorError(
                    None, None, f"duplicate key {key!r}", key_node.start_mark
                )
            data[key] = loader.construct_object(value_node, deep=True)
            data.lines[key] = key_node.start_mark.line + 1

    def construct_seq(loader: Any, node: Any) -> Iterator[_Seq]:
        data = _Seq()
        data.line, data.lines = node.start_mark.line + 1, []
        yield data
        for item in node.value:
            data.append(loader.construct_object(item, deep=True))
            data.lines.append(item.start_mark.line + 1)

    Loader.add_constructor("tag:yaml.org,2002:map", construct_map)
    Loader.add_constructor("tag:yaml.org,2002:seq", construct_seq)
    try:
        return yaml.load(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise ConfigError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


# --- validation ------------------------------------------------------------------------


def line_of(container: object, key: object = None) -> int:
    """The line of `key` in a mapping or list from `load_yaml`, else of the container."""
    if isinstance(container, _Map) and key in container.lines:
        return container.lines[key]
    if isinstance(container, _Seq) and isinstance(key, int) and key < len(container.lines):
        return container.lines[key]
    return getattr(container, "line", 1)


def _kind(value: object) -> str:
    names = {bool: "true/false", int: "a number", float: "a number", str: "text"}
    if value is None:
        return "empty"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    return names.get(type(value), type(value).__name__)


class _Reader:
    """Walks the loaded document, collecting problems instead of stopping at the first."""

    def __init__(self, path: str) -> None:
        self.path = path
        self.problems: list[Problem] = []
        self.settings = CircleCISettings()  # read before the rules: parameters depend on `api`

    def problem(self, line: int, where: str, message: str) -> None:
        self.problems.append(Problem(self.path, line, where, message))

    def mapping(
        self,
        value: object,
        *,
        line: int,
        where: str,
        known: Sequence[str],
        required: Sequence[str] = (),
    ) -> _Map | None:
        if not isinstance(value, _Map):
            self.problem(line, where, f"expected a mapping, found {_kind(value)}")
            return None
        for key in value:
            if key not in known:
                hint = suggest(str(key), known) if isinstance(key, str) else None
                extra = f" ({hint})" if hint else f" (known keys: {', '.join(known)})"
                self.problem(line_of(value, key), where, f"unknown key {key!r}{extra}")
        for key in required:
            if key not in value:
                self.problem(value.line, where, f"missing required key {key!r}")
        return value

    def text(self, container: _Map, key: str, where: str) -> str | None:
        value = container.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
        self.problem(line_of(container, key), where, f"expected text, found {_kind(value)}")
        return None

    def top(self, data: object) -> RulesFile | None:
        if data is None:
            self.problem(1, "", "the rules file is empty; it needs a 'rules:' list")
            return None
        top = self.mapping(data, line=1, where="", known=TOP_KEYS, required=("rules",))
        if top is None:
            return None
        if "version" in top and (
            top["version"] != SUPPORTED_VERSION or isinstance(top["version"], bool)
        ):
            self.problem(
                line_of(top, "version"),
                "version",
                f"{top['version']!r} is not supported (this gate reads {SUPPORTED_VERSION})",
            )
        match = top.get("match", "first")
        if match not in MATCH_MODES:
            self.problem(line_of(top, "match"), "match", f"expected first or all, found {match!r}")
        allow_forks, wait_for_nodes = (self.flag(top, key) for key in TOP_FLAGS)
        self.settings = self.circleci(top)
        changed_base = self.base(top, "changed_base")
        self.windows = self.windows_section(top)
        listed = top.get("freezes")
        self.freeze_names: list[str] = [
            item["name"].strip()
            for item in (listed if isinstance(listed, list) else [])
            if isinstance(item, _Map) and isinstance(item.get("name"), str)
        ]
        freezes = self.freezes_section(top)
        rules = self.rules(top)
        return RulesFile(
            self.path,
            self.settings,
            str(match),
            allow_forks,
            rules,
            wait_for_nodes=wait_for_nodes,
            changed_base=changed_base,
            windows=tuple(self.windows.values()),
            freezes=freezes,
        )

    # --- windows and freezes -----------------------------------------------------------

    def timezone(self, container: _Map, where: str) -> str | None:
        if "timezone" not in container:
            self.problem(
                container.line,
                where,
                "missing required key 'timezone' (a tz database name: Europe/Berlin, UTC)",
            )
            return None
        name = self.text(container, "timezone", f"{where}.timezone")
        if name is None:
            return None
        from ci_deploy_gate.windows import zone

        try:
            zone(name)
        except ValueError as exc:
            self.problem(line_of(container, "timezone"), f"{where}.timezone", str(exc))
            return None
        return name

    def collection(self, top: _Map, key: str, kind: type, what: str) -> object:
        """The top-level list or mapping `key`: None when absent, or not a non-empty
        `kind` (a problem then)."""
        if key not in top:
            return None
        value = top[key]
        if isinstance(value, kind) and value:
            return value
        self.problem(line_of(top, key), key, f"expected {what}, found {_kind(value)}")
        return None

    def windows_section(self, top: _Map) -> dict[str, Window]:
        section = self.collection(top, "windows", _Map, "a mapping of named windows")
        if not isinstance(section, _Map):
            return {}
        found: dict[str, Window] = {}
        for name, raw in section.items():
            where = f"windows.{name}"
            item = self.mapping(
                raw,
                line=line_of(section, name),
                where=where,
                known=WINDOW_KEYS,
                required=("days", "hours"),
            )
            if item is None:
                continue
            zone_name = self.timezone(item, where)
            days = self.days(item, where) if "days" in item else None
            hours = self.hours(item, where) if "hours" in item else None
            if zone_name and days and hours:
                found[str(name)] = Window(str(name), zone_name, days, *hours, item.line)
        return found

    def days(self, item: _Map, where: str) -> frozenset[int] | None:
        """`mon-thu`, `sat`, `mon, wed`, or a list of those; a range may wrap (`fri-mon`)."""
        raw = item["days"]
        line, where = line_of(item, "days"), f"{where}.days"
        parts = raw if isinstance(raw, list) else str(raw).split(",") if raw else []
        days: list[int] = []
        for part in parts:
            if not isinstance(part, str) or not part.strip():
                self.problem(line, where, f"expected day names (mon-fri, sat), found {_kind(part)}")
                return None
            first, dash, last = (piece.strip().lower() for piece in part.partition("-"))
            unknown = [n for n in (first, last) if n and n not in DAY_NAMES]
            if unknown or (dash and not last):
                bad = unknown[0] if unknown else part.strip()
                hint = suggest(bad, DAY_NAMES) or f"days are {', '.join(DAY_NAMES)}"
                self.problem(line, where, f"{bad!r} is not a day ({hint})")
                return None
            start = DAY_NAMES.index(first)
            span = (DAY_NAMES.index(last) - start) % 7 if dash else 0
            for offset in range(span + 1):
                day = (start + offset) % 7
                if day in days:
                    self.problem(line, where, f"{DAY_NAMES[day]} is named twice in {raw!r}")
                    return None
                days.append(day)
        if not days:
            self.problem(line, where, "no day given: the window would never open")
            return None
        return frozenset(days)

    def hours(self, item: _Map, where: str) -> tuple[time, time | None] | None:
        raw, line, where = item["hours"], line_of(item, "hours"), f"{where}.hours"
        start_text, dash, end_text = str(raw).partition("-") if isinstance(raw, str) else ("",) * 3
        clocks = [_CLOCK.match(text.strip()) for text in (start_text, end_text)]
        if not dash or not all(clocks):
            self.problem(line, where, f"expected HH:MM-HH:MM (09:00-16:30), found {raw!r}")
            return None
        (start_h, start_m), (end_h, end_m) = (
            (int(m.group(1)), int(m.group(2))) for m in clocks if m
        )
        if start_h == 24 or (24 in (start_h, end_h) and (start_m or end_m)):
            self.problem(line, where, f"{raw!r}: 24:00 is only an end, the end of the day")
            return None
        start, end = time(start_h, start_m), None if end_h == 24 else time(end_h, end_m)
        if end == start:
            self.problem(line, where, f"{raw!r} is empty: the start and the end are the same")
            return None
        return start, end

    def freezes_section(self, top: _Map) -> tuple[Freeze, ...]:
        items = self.collection(top, "freezes", _Seq, "a list of freezes")
        if not isinstance(items, _Seq):
            return ()
        found: list[Freeze] = []
        for index, raw in enumerate(items):
            name = raw.get("name") if isinstance(raw, _Map) else None
            where = f"freezes[{index}]" + (f" ({name})" if isinstance(name, str) else "")
            item = self.mapping(
                raw,
                line=line_of(items, index),
                where=where,
                known=FREEZE_KEYS,
                required=("name", "from", "to"),
            )
            if item is None:
                continue
            freeze = self.freeze(item, where, [f.name for f in found])
            if freeze:
                found.append(freeze)
        return tuple(found)

    def freeze(self, item: _Map, where: str, earlier: list[str]) -> Freeze | None:
        name = self.text(item, "name", f"{where}.name") if "name" in item else None
        if name in earlier:
            self.problem(item.line, where, f"the name {name!r} is already used by a freeze")
            name = None
        zone_name = self.timezone(item, where)
        start = self.local_time(item, "from", where) if "from" in item else None
        end = self.local_time(item, "to", where) if "to" in item else None
        if start and end and end <= start:
            self.problem(
                line_of(item, "to"),
                f"{where}.to",
                f"{end:%Y-%m-%d %H:%M} is not after from ({start:%Y-%m-%d %H:%M})",
            )
            end = None
        reason = self.text(item, "reason", f"{where}.reason") if "reason" in item else None
        unless: Expr | None = None
        if "unless" in item:
            unless = self.expression(item, "unless", where, in_freeze=True)
            if unless is None:
                return None
        if not (name and zone_name and start and end):
            return None
        return Freeze(name, start, end, zone_name, reason, unless, item.line)

    def local_time(self, item: _Map, key: str, where: str) -> datetime | None:
        """`2026-12-19 00:00` or `2026-12-19` (midnight), on the freeze's own clock."""
        raw, where = item[key], f"{where}.{key}"
        if isinstance(raw, datetime):
            if raw.tzinfo is not None:
                self.problem(
                    line_of(item, key),
                    where,
                    f"{raw.isoformat()} has an offset: give the local time, "
                    "the freeze's timezone says where",
                )
                return None
            return raw
        if isinstance(raw, date):
            return datetime.combine(raw, time(0))
        found = _LOCAL_TIME.match(raw.strip()) if isinstance(raw, str) else None
        try:
            if found is None:
                raise ValueError
            return datetime.fromisoformat(f"{found.group(1)} {found.group(2) or '00:00'}")
        except ValueError:
            self.problem(
                line_of(item, key), where, f"expected YYYY-MM-DD HH:MM (local time), found {raw!r}"
            )
            return None

    def time_names(self, condition: Expr, line: int, where: str, *, in_freeze: bool) -> bool:
        """Every `within NAME` names a window, every `frozen NAME` a freeze; a freeze's own
        `unless` cannot depend on freezes."""
        good = True
        for leaf in leaves(condition):
            if isinstance(leaf, Frozen) and in_freeze:
                self.problem(line, where, "a freeze's unless cannot test 'frozen'")
                good = False
            elif isinstance(leaf, Within) and leaf.name not in self.windows:
                known = sorted(self.windows)
                hint = suggest(leaf.name, known) or (
                    f"windows: {', '.join(known)}" if known else "no windows: are defined"
                )
                self.problem(line, where, f"unknown window {leaf.name!r} ({hint})")
                good = False
            elif isinstance(leaf, Frozen) and leaf.name and leaf.name not in self.freeze_names:
                hint = suggest(leaf.name, self.freeze_names) or (
                    f"freezes: {', '.join(self.freeze_names)}"
                    if self.freeze_names
                    else "no freezes: are defined"
                )
                self.problem(line, where, f"unknown freeze {leaf.name!r} ({hint})")
                good = False
        return good

    def base(self, container: _Map, where: str) -> str | None:
        """A git revision for changed_base; never an option, since it reaches git."""
        if "changed_base" not in container:
            return None
        value = self.text(container, "changed_base", where)
        if value is not None and (value.startswith("-") or any(c.isspace() for c in value)):
            self.problem(
                line_of(container, "changed_base"),
                where,
                f"{value!r} is not a git revision (e.g. origin/main, HEAD~1, a commit SHA)",
            )
            return None
        return value

    def flag(self, container: _Map, key: str) -> bool:
        value = container.get(key, False)
        if not isinstance(value, bool):
            self.problem(line_of(container, key), key, f"expected true or false, found {value!r}")
        return value is True

    def circleci(self, top: _Map) -> CircleCISettings:
        if "circleci" not in top:
            return CircleCISettings()
        section = self.mapping(
            top["circleci"], line=line_of(top, "circleci"), where="circleci", known=CIRCLECI_KEYS
        )
        if section is None:
            return CircleCISettings()
        texts = {
            key: self.text(section, key, f"circleci.{key}")
            for key in _SETTING_CHECKS
            if key in section
        }
        for key, check in _SETTING_CHECKS.items():
            value = texts.get(key)
            problem = check(value) if value else None
            if problem:
                self.problem(line_of(section, key), f"circleci.{key}", problem)
                texts[key] = None
        defaults = CircleCISettings()
        settings = CircleCISettings(
            url=texts.get("url"),
            token_env=texts.get("token_env") or defaults.token_env,
            vcs=texts.get("vcs"),
            api=texts.get("api") or defaults.api,
            project_slug=texts.get("project_slug"),
            definition_id=texts.get("definition_id"),
            job_parameter=texts.get("job_parameter") or defaults.job_parameter,
            revision_parameter=texts.get("revision_parameter") or defaults.revision_parameter,
        )
        if settings.job_parameter == settings.revision_parameter:
            self.problem(
                line_of(section, "revision_parameter"),
                "circleci.revision_parameter",
                f"{settings.revision_parameter!r} is also the job_parameter: "
                "the job and the revision need a parameter each",
            )
        api = section.get("api")
        for key in ("project_slug", "definition_id", "job_parameter", "revision_parameter"):
            if key in section and api != "v2":
                self.problem(
                    line_of(section, key),
                    f"circleci.{key}",
                    "applies only with api: v2 (set circleci.api: v2)",
                )
        retries = self.number(section, "retries", 1, MAX_RETRIES, whole=True)
        deadline = self.number(section, "deadline", 1, MAX_DEADLINE, whole=False)
        return settings._replace(
            retries=int(retries) if retries is not None else defaults.retries,
            deadline=float(deadline) if deadline is not None else defaults.deadline,
        )

    def number(
        self, section: _Map, key: str, low: float, high: float, *, whole: bool
    ) -> float | None:
        if key not in section:
            return None
        value = section[key]
        kinds = (int,) if whole else (int, float)
        if isinstance(value, bool) or not isinstance(value, kinds) or not low <= value <= high:
            what = "a whole number" if whole else "a number of seconds"
            self.problem(
                line_of(section, key),
                f"circleci.{key}",
                f"expected {what} from {low:g} to {high:g}, found {value!r}",
            )
            return None
        return value

    def rules(self, top: _Map) -> tuple[Rule, ...]:
        items = self.collection(top, "rules", _Seq, "a list of rules")
        if not isinstance(items, _Seq):
            return ()
        seen: dict[str, int] = {}
        for index, item in enumerate(items):
            name = item.get("name") if isinstance(item, _Map) else None
            if not isinstance(name, str) or not name.strip():
                continue
            if name.strip() in seen:
                self.problem(
                    line_of(items, index),
                    f"rules[{index}] ({name.strip()})",
                    f"the name is already used by rules[{seen[name.strip()]}]",
                )
            seen.setdefault(name.strip(), index)
        found = (self.rule(item, line_of(items, index), index) for index, item in enumerate(items))
        return tuple(rule for rule in found if rule is not None)

    def rule(self, item: object, line: int, index: int) -> Rule | None:
        label = f"rules[{index}]"
        raw_name = item.get("name") if isinstance(item, _Map) else None
        if isinstance(raw_name, str) and raw_name.strip():
            label = f"{label} ({raw_name.strip()})"
        rule = self.mapping(
            item, line=line, where=label, known=RULE_KEYS, required=("name", "trigger")
        )
        if rule is None:
            return None
        name = self.text(rule, "name", f"{label}: name") if "name" in rule else None
        condition: Expr | None = None
        if ("if" in rule) == ("when" in rule):
            self.problem(rule.line, label, "needs exactly one of 'if' or 'when'")
        elif "if" in rule:
            condition = self.expression(rule, "if", label)
        else:
            condition = self.when_condition(rule, label)
            if condition is not None and not self.time_names(
                condition, line_of(rule, "when"), f"{label}: when", in_freeze=False
            ):
                condition = None
        trigger = self.trigger(rule, label) if "trigger" in rule else None
        changed_base = self.base(rule, f"{label}: changed_base")
        if name is None or condition is None or trigger is None:
            return None
        return Rule(name, condition, trigger, rule.line, changed_base)

    def expression(
        self, container: _Map, key: str, label: str, *, in_freeze: bool = False
    ) -> Expr | None:
        """An `if` (or a freeze's `unless`): the condition language, names checked."""
        source, line = container[key], line_of(container, key)
        if not isinstance(source, str):
            self.problem(line, label, f"{key}: expected a condition as text, found {_kind(source)}")
            return None
        try:
            found = parse(source)
        except ExprError as exc:
            self.problem(line, label, f"{key}: {exc}")
            return None
        return found if self.time_names(found, line, label, in_freeze=in_freeze) else None

    def when_condition(self, rule: _Map, label: str) -> Expr | None:
        where = f"{label}: when"
        when = rule["when"]
        if not isinstance(when, _Map) or not when:
            self.problem(
                line_of(rule, "when"), where, f"expected a mapping of facts, found {_kind(when)}"
            )
            return None
        leaves: list[Expr] = []
        failed = False
        for key, value in when.items():
            found = self.when_leaf(str(key), value, line_of(when, key), where)
            failed = failed or not found
            leaves.extend(found)
        if failed:
            return None
        text = " and ".join(leaf.text for leaf in leaves)
        return leaves[0] if len(leaves) == 1 else All(text, 0, tuple(leaves))

    def when_leaf(self, name: str, value: object, line: int, where: str) -> list[Expr]:
        """The conditions one `when` key stands for (a search map can give two); an empty
        list after a problem."""
        kind = "window" if name == "window" else fact_kind(name)
        if kind is None:
            hint = suggest(name, [*FACTS, "env.NAME"]) or f"known: {', '.join(FACTS)}, env.NAME"
            self.problem(line, where, f"unknown fact {name!r} ({hint})")
            return []
        if kind == "flag":
            if not isinstance(value, bool):
                self.problem(line, f"{where}.{name}", f"expected true or false, found {value!r}")
                return []
            return [Is(f"{name}: {str(value).lower()}", 0, name, value)]
        if kind == "paths":
            changed = self.when_changed(value, line, f"{where}.{name}")
            return [changed] if changed else []
        if kind in ("window", "freeze"):
            return self.when_time(name, value, line, where)
        if kind in ("prose", "messages"):
            return self.when_search(name, value, line, f"{where}.{name}")
        leaf = self.when_values(name, value, line, where)
        return [leaf] if leaf else []

    def when_time(self, name: str, value: object, line: int, where: str) -> list[Expr]:
        """`within: NAME` (also `window: NAME`), `frozen: false` / `frozen: true`."""
        if name == "within" or name == "window":
            if isinstance(value, str) and value.strip():
                return [Within(f"within {value.strip()}", 0, "within", value.strip())]
            self.problem(line, f"{where}.{name}", f"expected a window name, found {_kind(value)}")
            return []
        if not isinstance(value, bool):
            self.problem(line, f"{where}.frozen", f"expected true or false, found {value!r}")
            return []
        frozen = Frozen("frozen", 0, "frozen", None)
        return [frozen if value else Not("frozen: false", 0, frozen)]

    def when_changed(self, value: object, line: int, where: str) -> Changed | None:
        """`changed: PATTERNS` (any path) or `changed: {only: PATTERNS}` (every path)."""
        only = isinstance(value, _Map)
        if only:
            section = self.mapping(
                value, line=line, where=where, known=("only",), required=("only",)
            )
            if section is None or "only" not in section:
                return None
            value = section["only"]
        items = value if isinstance(value, list) else [value]
        if not items or not all(isinstance(item, str) and item for item in items):
            self.problem(
                line, where, f"expected a path pattern or a list of them, found {_kind(value)}"
            )
            return None
        patterns = tuple(str(item) for item in items)
        try:
            path_matcher(patterns)
        except PatternError as exc:
            self.problem(line, where, str(exc))
            return None
        shown = f"[{', '.join(patterns)}]" if isinstance(value, list) else patterns[0]
        text = f"changed: {{only: {shown}}}" if only else f"changed: {shown}"
        return Changed(text, 0, "changed", PathQuery(patterns, only))

    def when_search(self, name: str, value: object, line: int, where: str) -> list[Expr]:
        """`message: {contains: TEXT, matches: /re/}`: every key given must hold."""
        section = self.mapping(value, line=line, where=where, known=SEARCH_KEYS)
        if section is None:
            return []
        given = [key for key in SEARCH_KEYS if key in section]  # unknown keys: said above
        if not given:
            self.problem(line, where, "give contains: TEXT or matches: /regex/")
            return []
        found: list[Expr] = []
        for key in given:
            item = section[key]
            at = line_of(section, key)
            if not isinstance(item, str) or not item:
                self.problem(at, f"{where}.{key}", f"expected text, found {_kind(item)}")
            elif key == "contains":
                found.append(Contains(f"{name} contains {item!r}", 0, name, item))
            elif not is_regex_literal(item):
                self.problem(at, f"{where}.{key}", f"expected a /regex/, found {item!r}")
            else:
                try:
                    pattern(item)
                except PatternError as exc:
                    self.problem(at, f"{where}.{key}", str(exc))
                    continue
                found.append(Search(f"{name} matches {item}", 0, name, item[1:-1]))
        return found if len(found) == len(section) else []

    def when_values(self, name: str, value: object, line: int, where: str) -> Matches | None:
        values = value if isinstance(value, list) else [value]
        patterns: list[Pattern] = []
        for item in values:
            if isinstance(item, bool) or not isinstance(item, (str, int)) or item == "":
                self.problem(
                    line,
                    f"{where}.{name}",
                    f"expected text or a list of text, found {_kind(item)} {item!r}"
                    + (" (quote it)" if isinstance(item, (bool, float)) else ""),
                )
                return None
            try:
                patterns.append(pattern(str(item)))
            except PatternError as exc:
                self.problem(line, f"{where}.{name}", str(exc))
                return None
        if not patterns:
            self.problem(line, f"{where}.{name}", "the list is empty: it would match nothing")
            return None
        shown = ", ".join(p.source for p in patterns)
        text = f"{name}: [{shown}]" if isinstance(value, list) else f"{name}: {shown}"
        return Matches(text, 0, name, tuple(patterns))

    def trigger(self, rule: _Map, label: str) -> Trigger | None:
        where = f"{label}: trigger"
        raw = rule["trigger"]
        if isinstance(raw, str):
            if raw.strip():
                return Trigger(raw.strip(), (), line_of(rule, "trigger"))
            self.problem(line_of(rule, "trigger"), where, "expected a job name")
            return None
        section = self.mapping(
            raw, line=line_of(rule, "trigger"), where=where, known=TRIGGER_KEYS, required=("job",)
        )
        if section is None or "job" not in section:
            return None
        job = self.text(section, "job", f"{where}.job")
        parameters = self.parameters(section, where) if "parameters" in section else ()
        if job is None or parameters is None:
            return None
        return Trigger(job, parameters, line_of(rule, "trigger"))

    def parameters(
        self, section: _Map, where: str
    ) -> tuple[tuple[str, ParameterValue], ...] | None:
        """v1.1: environment variables for the job; v2: typed pipeline parameters."""
        where = f"{where}.parameters"
        raw = section["parameters"]
        if not isinstance(raw, _Map):
            self.problem(
                line_of(section, "parameters"), where, f"expected a mapping, found {_kind(raw)}"
            )
            return None
        v2 = self.settings.api == "v2"
        # the names the gate sets itself -> what sets them
        reserved = (
            {
                self.settings.job_parameter: "circleci.job_parameter",
                self.settings.revision_parameter: "circleci.revision_parameter",
            }
            if v2
            else {"CIRCLE_JOB": "the trigger's job"}
        )
        pairs: list[tuple[str, ParameterValue]] = []
        for key, value in raw.items():
            line = line_of(raw, key)
            name = str(key)
            problem = self.parameter_problem(name, value, reserved, v2=v2)
            if problem:
                self.problem(line, f"{where}.{name}" if problem[0] else where, problem[1])
            else:
                pairs.append((name, value))
        if v2 and len(raw) + 2 > MAX_PIPELINE_PARAMETERS:
            self.problem(
                raw.line,
                where,
                f"CircleCI takes at most {MAX_PIPELINE_PARAMETERS} pipeline "
                "parameters, the gate's two included",
            )
        return tuple(pairs) if len(pairs) == len(raw) else None

    @staticmethod
    def parameter_problem(
        name: str, value: object, reserved: dict[str, str], *, v2: bool
    ) -> tuple[bool, str] | None:
        """(whether the problem is the value's, message), or None."""
        name_problem = _pipeline_name_problem(name) if v2 else None
        if name_problem:
            return False, name_problem
        if not v2 and _ENV_NAME.match(name) is None:
            return False, f"{name!r} is not an environment variable name"
        if name in reserved:
            return False, f"{name} is set by {reserved[name]}; remove it here"
        if isinstance(value, float) or not isinstance(value, (str, int)):
            hint = " (quote it)" if isinstance(value, float) else ""
            return True, f"expected text, found {_kind(value)}{hint}"
        if v2 and isinstance(value, str) and len(value) > MAX_PIPELINE_VALUE:
            return True, f"CircleCI takes at most {MAX_PIPELINE_VALUE} characters"
        return None
