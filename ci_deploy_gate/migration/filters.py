"""The workflow filters of the job that ran a trigger, folded into its rule: the old
config fired only where CircleCI ran that job, so the rule says so too.

CircleCI (configuration reference, `filters`): `branches.only`/`ignore` and `tags.only`/
`ignore` take names or /regex/ that must match the whole name; a job runs for a tag only
when it has a `tags` filter, and then its `branches` filter does not apply. Without
`workflows:`, CircleCI runs the job `build` on every branch push, and nothing for tags.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from ci_deploy_gate.migration import Refused
from ci_deploy_gate.migration.ifexpr import (
    TRUE,
    Leaf,
    both,
    either,
    fact_of_variable,
    is_set,
    negate,
    slashed,
)
from ci_deploy_gate.migration.triggers import BRANCH_VARIABLE
from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ci_deploy_gate.migration.ifexpr import Cond

TAG_VARIABLE = "CIRCLE_TAG"
DEFAULT_JOB = "build"  # what CircleCI runs for a config without workflows


class Runs(NamedTuple):
    """When CircleCI ran the job: the filters as a condition, and whether any tag can."""

    condition: Cond
    on_tags: bool


def workflow_names(data: Mapping[str, Any]) -> list[str]:
    workflows = data.get("workflows")
    if not isinstance(workflows, Mapping):
        return []
    return [
        name for name, body in workflows.items() if name != "version" and isinstance(body, Mapping)
    ]


def job_entries(workflow: Mapping[str, Any]) -> list[tuple[str, Mapping[str, Any]]]:
    """(job, its options) for each job of a workflow."""
    jobs = workflow.get("jobs")
    found: list[tuple[str, Mapping[str, Any]]] = []
    for entry in jobs if isinstance(jobs, list) else []:
        if isinstance(entry, str):
            found.append((entry, {}))
        elif isinstance(entry, Mapping):
            for name, options in entry.items():
                found.append((str(name), options if isinstance(options, Mapping) else {}))
    return found


def when_job_runs(data: Mapping[str, Any], job: str) -> Runs:
    """The filters of every place the job runs, any of them."""
    names = workflow_names(data)
    if not names:
        if job != DEFAULT_JOB:
            raise Refused(
                f"the job {job!r} runs only when fired through "
                "the API (there are no workflows): not migrated"
            )
        return Runs(TRUE, on_tags=False)
    places: list[Cond] = []
    on_tags = False
    for name in names:
        for entry, options in job_entries(data["workflows"][name]):
            if entry != job:
                continue
            filters = options.get("filters")
            filters = filters if isinstance(filters, Mapping) else {}
            condition, tags = _filters(filters, f"workflows.{name}.jobs.{job}.filters")
            places.append(condition)
            on_tags = on_tags or tags
    if not places:
        raise Refused(
            f"the job {job!r} is in no workflow: it runs "
            "only when fired through the API: not migrated"
        )
    return Runs(either(*places), on_tags)


def _filters(filters: Mapping[str, Any], where: str) -> tuple[Cond, bool]:
    branch = fact_of_variable(BRANCH_VARIABLE)
    tag = fact_of_variable(TAG_VARIABLE)
    on_branches = _only_ignore(filters.get("branches"), branch, f"{where}.branches")
    if "tags" not in filters:
        return on_branches, False
    on_tags = _only_ignore(filters.get("tags"), tag, f"{where}.tags")
    return either(both(is_set(tag), on_tags), both(negate(is_set(tag)), on_branches)), True


def _only_ignore(spec: object, fact: str, where: str) -> Cond:
    if spec is None:
        return TRUE
    if not isinstance(spec, Mapping):
        raise Refused(f"{where}: expected only/ignore")
    found: Cond = TRUE
    if "only" in spec:
        found = either(*[_name(fact, p, where) for p in _listed(spec["only"], where)])
    if "ignore" in spec:
        found = both(
            found, negate(either(*[_name(fact, p, where) for p in _listed(spec["ignore"], where)]))
        )
    return found


def _listed(value: object, where: str) -> list[str]:
    items = value if isinstance(value, list) else [value]
    if not all(isinstance(item, str) for item in items):
        raise Refused(f"{where}: a filter is a name or a /regex/")
    return [str(item) for item in items]


def _name(fact: str, pattern: str, where: str) -> Cond:
    """A filter's name or /regex/ (CircleCI's regexes match the whole name, as the
    gate's do)."""
    if len(pattern) >= 2 and pattern.startswith("/") and pattern.endswith("/"):
        try:
            re.compile(pattern[1:-1])
        except re.error as exc:
            raise Refused(f"{where}: {pattern} is not a regex Python reads ({exc})") from None
        return Leaf(fact, "matches", f"/{slashed(pattern[1:-1])}/")
    return Leaf(fact, "is", pattern) if pattern else negate(is_set(fact))
