"""The rules file as frozen records: what `rules.load_rules` hands to the rest of the gate.

Nothing downstream sees a raw YAML mapping. The keys, their defaults and their checks are
described once in `spec`; a test holds these records' defaults to that description.
"""

from __future__ import annotations

from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from datetime import datetime, time
    from typing import Union

    from ci_deploy_gate.conditions import Expr

    ParameterValue = Union[str, int, bool]


class CircleCISettings(NamedTuple):
    """`circleci:` of the rules file: how to reach CircleCI and which API to use."""

    url: str | None = None
    token_env: str = "CIRCLE_API_USER_TOKEN"
    vcs: str | None = None
    api: str = "v2"
    project_slug: str | None = None
    definition_id: str | None = None
    job_parameter: str = "deploy_job"
    revision_parameter: str = "deploy_revision"
    retries: int = 4  # attempts in all, the first included
    deadline: float = 60.0  # seconds for one request and its retries
    # whether the file names `api`: a `version: 2` config with the default (v2) is a
    # setup that predates it, not a choice
    api_given: bool = False


class Trigger(NamedTuple):
    """What a rule fires. Text values (parameters, branch, tag) may hold templates
    (`${sha}`), expanded for each run by `targets`."""

    job: str | None  # None: a v2 pipeline with no job parameter
    # v1.1 build_parameters (sent as text) or v2 pipeline parameters (typed), in file order
    parameters: tuple[tuple[str, ParameterValue], ...]
    line: int = 1  # of `trigger:` in the rules file, for `check`
    project: str | None = None  # another project's slug; None: this build's project
    branch: str | None = None  # there; None: this build's (this project) or the default
    tag: str | None = None
    pin: bool = True  # send CIRCLE_SHA1 (never for another project)
    token_env: str | None = None  # None: circleci.token_env


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
    trigger: Trigger | None  # None only in a rules file for `run`: it runs a command instead
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
