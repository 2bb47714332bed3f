"""The gate's options, described once: argparse is built from `OPTIONS`, and `quick_read`
turns a plain invocation into `Options` from the same table without importing argparse.

Imported by the node-1 guard, so it imports nothing heavy: no typing, argparse or
datetime (the converters import what they need when they run).
"""

from __future__ import annotations

from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False  # not `from typing`: the node-1 guard imports this module
if TYPE_CHECKING:
    from collections.abc import Callable, Mapping, Sequence
    from datetime import datetime
    from typing import Any

DEFAULT_RULES = ".circleci/deploy-gate.yml"  # the one default, for the gate and every command
DEFAULT_WAIT_TIMEOUT = 1800.0  # --wait-timeout: 30 minutes
MAX_WAIT_TIMEOUT = 6 * 3600.0

SWITCH, VALUE, REPEATED = "switch", "value", "repeated"  # how an option is given


class Options(NamedTuple):
    """One run of the gate, as the command line asked for it."""

    rules: str | None
    dry_run: bool
    json: bool
    report: str | None
    env_files: tuple[str, ...]
    assignments: tuple[str, ...]
    api_url: str | None
    force: bool
    wait: bool
    wait_timeout: float
    wait_for_nodes: bool
    now: datetime | None
    repo: str
    verbose: bool


class Option(NamedTuple):
    """One row of the table: what argparse and the quick reader both need."""

    flag: str
    dest: str  # its field of Options
    kind: str  # SWITCH, VALUE (the last one counts) or REPEATED (each one is kept)
    help: str
    metavar: str | None = None
    default: object = None
    convert: Callable[[str], object] | None = None  # raises BadValue for a bad value


class BadValue(ValueError):
    """A value an option's converter rejects; its text is argparse's message for it."""


def rules_path(given: str | None, environ: Mapping[str, str]) -> str:
    """The rules file: --rules, else $DEPLOY_GATE_RULES, else the default."""
    return given or environ.get("DEPLOY_GATE_RULES") or DEFAULT_RULES


def seconds(value: str) -> float:
    """--wait-timeout: a positive number of seconds, at most MAX_WAIT_TIMEOUT."""
    try:
        found = float(value)
    except ValueError:
        found = -1.0
    if not 0 < found <= MAX_WAIT_TIMEOUT:
        raise BadValue(f"expected seconds from 1 to {MAX_WAIT_TIMEOUT:g}, found {value!r}")
    return found


def instant(value: str) -> datetime:
    """--now: ISO 8601 with an offset or Z; a time without a zone would be a guess."""
    from datetime import datetime

    text = value.strip()
    text = text[:-1] + "+00:00" if text[-1:] in ("Z", "z") else text
    try:
        found = datetime.fromisoformat(text)
    except ValueError:
        raise BadValue(
            f"expected an ISO 8601 instant such as 2026-11-20T17:00:00+01:00, found {value!r}"
        ) from None
    if found.tzinfo is None:
        raise BadValue(f"{value!r} has no offset: add one (+01:00) or Z, so it names one instant")
    return found


OPTIONS = (
    Option(
        "--rules",
        "rules",
        VALUE,
        f"the rules file (default: $DEPLOY_GATE_RULES, else {DEFAULT_RULES})",
        "PATH",
    ),
    Option("--dry-run", "dry_run", SWITCH, "decide and print the request, send nothing"),
    Option("--json", "json", SWITCH, "print only the JSON report on stdout"),
    Option("--report", "report", VALUE, "also write the JSON report to FILE", "FILE"),
    Option(
        "--env-file",
        "env_files",
        REPEATED,
        "lay a dotenv file (KEY=VALUE) over the environment; repeatable",
        "PATH",
        (),
    ),
    Option(
        "--set",
        "assignments",
        REPEATED,
        "set one variable over the environment and --env-file; repeatable",
        "NAME=VALUE",
        (),
    ),
    Option(
        "--api-url",
        "api_url",
        VALUE,
        "the CircleCI host (default: $DEPLOY_GATE_API_URL, then circleci.url, "
        "then https://circleci.com)",
        "URL",
    ),
    Option(
        "--force",
        "force",
        SWITCH,
        "fire even when a build of the job at this revision already exists",
    ),
    Option(
        "--wait",
        "wait",
        SWITCH,
        "follow the fired build or pipeline to its end; exit 1 unless it succeeds",
    ),
    Option(
        "--wait-timeout",
        "wait_timeout",
        VALUE,
        f"how long --wait and --wait-for-nodes wait (default {DEFAULT_WAIT_TIMEOUT:g})",
        "SECONDS",
        DEFAULT_WAIT_TIMEOUT,
        seconds,
    ),
    Option(
        "--wait-for-nodes",
        "wait_for_nodes",
        SWITCH,
        "on node 0, fire only after every other parallel node passed "
        "(also wait_for_nodes: true in the rules file)",
    ),
    Option(
        "--now",
        "now",
        VALUE,
        "decide the windows and freezes at this instant, with an offset or Z "
        "(2026-11-20T17:00:00+01:00), instead of the clock",
        "ISO-8601",
        None,
        instant,
    ),
    Option(
        "--repo",
        "repo",
        VALUE,
        "the git checkout the git facts and a local dry-run read (default: .)",
        "PATH",
        ".",
    ),
    Option(
        "--verbose",
        "verbose",
        SWITCH,
        "log each request and answer (method, URL, status, time, attempt) on stderr",
    ),
)
_BY_FLAG = {option.flag: option for option in OPTIONS}


def defaults() -> dict[str, Any]:
    """Every field of Options at its default: what an invocation without options means."""
    return {option.dest: False if option.kind == SWITCH else option.default for option in OPTIONS}


def quick_read(words: Sequence[str]) -> Options | None:
    """Options from a plain invocation, without argparse; None for anything unusual (an
    unknown or abbreviated flag, -h, a positional, a missing or rejected value, `--`), so
    that argparse parses it and says what is wrong in its own words."""
    values = defaults()
    items = iter(words)
    for word in items:
        flag, equals, value = word.partition("=")
        option = _BY_FLAG.get(flag)
        if option is None:
            return None
        if option.kind == SWITCH:
            if equals:
                return None
            values[option.dest] = True
            continue
        if not equals:
            value = next(items, "")
            if value[:1] in ("", "-"):
                return None  # argparse: "expected one argument", or a value it reads its way
        if not value:
            return None
        if option.convert is not None:
            try:
                converted = option.convert(value)
            except BadValue:
                return None
        else:
            converted = value
        if option.kind == REPEATED:
            values[option.dest] = (*values[option.dest], converted)
        else:
            values[option.dest] = converted
    return Options(**values)
