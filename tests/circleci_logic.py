"""What CircleCI runs for a pipeline, as far as the migration tests need it, written for
the tests alone (not the code under test): logic statements of `when`/`unless`, with
`<< pipeline.parameters.X >>` substituted, and workflow job filters.

CircleCI's configuration reference, "Logic statements": `and`, `or`, `not`, `equal` (all
items equal), `matches` ({pattern, value}: a Java regex matching the whole value), and
literals, whose truthiness is false for false, null, 0, NaN and "" and true otherwise.
"Filters": branches/tags only/ignore, names or /regex/ matching the whole name; a tag
runs a job only when it has a tags filter, and then branch filters do not apply; a config
without workflows runs the job `build` on branch pushes.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from typing import Any

PARAMETER = re.compile(r"<<\s*pipeline\.parameters\.([A-Za-z0-9_-]+)\s*>>")


def substitute(value: Any, parameters: Mapping[str, Any]) -> Any:
    if isinstance(value, str):
        whole = PARAMETER.fullmatch(value.strip())
        if whole:
            return parameters[whole.group(1)]
        return PARAMETER.sub(lambda m: str(parameters[m.group(1)]), value)
    return value


def truthy(value: Any) -> bool:
    if value is None or value is False or value == "":
        return False
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return value != 0 and not math.isnan(value)
    return True


def holds(statement: Any, parameters: Mapping[str, Any]) -> bool:
    """A logic statement's truth with these pipeline parameters."""
    if isinstance(statement, Mapping):
        ((op, argument),) = statement.items()
        if op == "and":
            return all(holds(item, parameters) for item in argument)
        if op == "or":
            return any(holds(item, parameters) for item in argument)
        if op == "not":
            return not holds(argument, parameters)
        if op == "equal":
            values = [substitute(item, parameters) for item in argument]
            return all(value == values[0] for value in values)
        if op == "matches":
            value = substitute(argument["value"], parameters)
            return re.fullmatch(argument["pattern"], str(value)) is not None
        raise ValueError(f"unknown logic operator {op}")
    return truthy(substitute(statement, parameters))


def workflows_run(config: Mapping[str, Any], parameters: Mapping[str, Any]) -> list[str]:
    """The workflows whose when/unless let them run."""
    workflows = config.get("workflows") or {}
    found = []
    for name, body in workflows.items():
        if name == "version" or not isinstance(body, Mapping):
            continue
        if "when" in body and not holds(body["when"], parameters):
            continue
        if "unless" in body and holds(body["unless"], parameters):
            continue
        found.append(name)
    return found


def _name_matches(patterns: Any, value: str) -> bool:
    for pattern in patterns if isinstance(patterns, list) else [patterns]:
        if len(pattern) >= 2 and pattern.startswith("/") and pattern.endswith("/"):
            if re.fullmatch(pattern[1:-1], value):
                return True
        elif pattern == value:
            return True
    return False


def _passes(spec: Mapping[str, Any] | None, value: str) -> bool:
    if not spec:
        return True
    if "only" in spec and not _name_matches(spec["only"], value):
        return False
    return not ("ignore" in spec and _name_matches(spec["ignore"], value))


def job_runs(
    config: Mapping[str, Any],
    job: str,
    branch: str | None,
    tag: str | None,
    parameters: Mapping[str, Any],
) -> tuple[bool, bool]:
    """(whether CircleCI runs the job on this push, whether only an explicit filter
    stops it)."""
    names = workflows_run(config, parameters)
    if not config.get("workflows"):
        return job == "build" and bool(branch) and not tag, False
    runs = filtered = False
    for name in names:
        for entry in config["workflows"][name].get("jobs", []):
            entry_name, options = (
                (entry, {}) if isinstance(entry, str) else next(iter(entry.items()))
            )
            if entry_name != job:
                continue
            filters = (options or {}).get("filters") or {}
            if tag:
                ok = "tags" in filters and _passes(filters["tags"], tag)
                filtered = filtered or ("tags" in filters and not ok)
            else:
                ok = _passes(filters.get("branches"), branch or "")
                filtered = filtered or not ok
            runs = runs or ok
    return runs, filtered and not runs
