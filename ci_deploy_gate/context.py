"""The facts a rule can test: read once from the build's CIRCLE_* environment, and from
git (`gitfacts`) when a rule asks for a commit's message, author or changed paths."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import datetime
from typing import NamedTuple, Union


class PathQuery(NamedTuple):
    """`changed PATTERNS` (any changed path matches) or `changed only PATTERNS` (every one
    does); PATTERNS are gitignore-style, in order, `!` excluding."""

    patterns: tuple[str, ...]
    only: bool


class PathAnswer(NamedTuple):
    result: bool
    # the paths that decided it: matching ones for `changed`, ones outside for `only`
    examples: tuple[str, ...]


class ChangeRange(NamedTuple):
    """What changed in base..CIRCLE_SHA1, kept as answers rather than a list of paths, so
    memory stays flat however large the change."""

    base: str  # the base commit
    how: str  # how the base was chosen, for the report
    total: int  # paths changed
    answers: Mapping[PathQuery, PathAnswer]
    messages: tuple[str, ...]  # of every commit in the range, newest first


class TimeState(NamedTuple):
    """A window (open) or a freeze (in force) at the run's instant, and the sentence that
    says until when: 'closed, opens Mon 2026-11-23 09:00 Europe/Berlin, in 2d 14h'."""

    active: bool
    text: str


class Calendar(NamedTuple):
    """Every window and freeze of the rules file at the run's one instant."""

    windows: Mapping[str, TimeState]
    freezes: Mapping[str, TimeState]


FactValue = Union[str, bool, None, tuple[str, ...], ChangeRange, Calendar]

# name -> (kind, what it holds). "flag" facts are yes/no; "text" facts are strings or unset;
# "prose" is text searched rather than compared (a commit message); "messages" is every
# message of the changed range; "paths" the paths it changed.
FACTS: dict[str, tuple[str, str]] = {
    "branch": ("text", "CIRCLE_BRANCH"),
    "tag": ("text", "CIRCLE_TAG"),
    "sha": ("text", "CIRCLE_SHA1"),
    "pull_request": ("flag", "CIRCLE_PULL_REQUEST or CIRCLE_PR_NUMBER is set"),
    "fork": ("flag", "CIRCLE_PR_USERNAME or CIRCLE_PR_REPONAME is set"),
    "user": ("text", "CIRCLE_USERNAME"),
    "job": ("text", "CIRCLE_JOB"),
    "project": ("text", "CIRCLE_PROJECT_USERNAME/CIRCLE_PROJECT_REPONAME"),
    "message": ("prose", "git: the message of the CIRCLE_SHA1 commit"),
    "author": ("text", "git: the author e-mail of the CIRCLE_SHA1 commit"),
    "committer": ("text", "git: the committer e-mail of the CIRCLE_SHA1 commit"),
    "messages": ("messages", "git: the message of every commit in base..CIRCLE_SHA1"),
    "changed": ("paths", "git: the paths changed in base..CIRCLE_SHA1"),
    "within": ("window", "a window of `windows:` is open now: `within NAME`"),
    "frozen": ("freeze", "a freeze of `freezes:` is in force now: `frozen`, `frozen NAME`"),
}
TIME_FACTS = ("within", "frozen")
# fact -> the variables it is read from; the first one set is named as its source
VARIABLES: dict[str, tuple[str, ...]] = {
    "branch": ("CIRCLE_BRANCH",),
    "tag": ("CIRCLE_TAG",),
    "sha": ("CIRCLE_SHA1",),
    "pull_request": ("CIRCLE_PULL_REQUEST", "CIRCLE_PR_NUMBER"),
    "fork": ("CIRCLE_PR_USERNAME", "CIRCLE_PR_REPONAME"),
    "user": ("CIRCLE_USERNAME",),
    "job": ("CIRCLE_JOB",),
    "project": ("CIRCLE_PROJECT_USERNAME", "CIRCLE_PROJECT_REPONAME"),
}
COMMIT_FACTS = ("message", "author", "committer")  # of the commit itself
RANGE_FACTS = ("messages", "changed")  # of base..CIRCLE_SHA1: they depend on changed_base
GIT_FACTS = frozenset(COMMIT_FACTS + RANGE_FACTS)
ENV_PREFIX = "env."

# CircleCI's names for the hosts it builds from, as they appear in v1.1 URLs.
VCS_HOSTS = {"github.com": "github", "bitbucket.org": "bitbucket"}
VCS_TYPES = ("github", "bitbucket")

# https://host/..., ssh://git@host/..., git@host:org/repo
_URL_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/]+@)?(?P<host>[^/:]+)", re.IGNORECASE)


def fact_kind(name: str) -> str | None:
    """'text', 'flag', or None for a name that is no fact."""
    if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
        return "text"
    spec = FACTS.get(name)
    return spec[0] if spec else None


def vcs_from_url(url: str) -> str | None:
    found = _URL_HOST.match(url.strip())
    return VCS_HOSTS.get(found.group("host").lower()) if found else None


class GitFacts(NamedTuple):
    commit: Mapping[str, str]  # the COMMIT_FACTS that were asked for
    ranges: Mapping[str | None, ChangeRange]  # by changed_base as written; None: default


class Context(NamedTuple):
    """What this build is. Empty variables count as unset: they equal nothing."""

    facts: Mapping[str, FactValue]
    env: Mapping[str, str]
    org: str | None
    repo: str | None
    vcs: str | None
    repository_url: str | None
    on_circleci: bool
    git: GitFacts | None = None  # read only when a rule tests a git fact
    sources: Mapping[str, str] = {}  # fact -> where it came from, for the report
    now: datetime | None = None  # the run's one instant: --now, or the clock read once
    calendar: Calendar | None = None  # the windows and freezes at `now`, from `evaluate`

    def get(self, name: str) -> FactValue:
        return self.scoped(None).get(name)

    def scoped(self, base: str | None) -> Scoped:
        """The facts as one rule sees them: `changed` and `messages` follow its base."""
        return Scoped(self, base)

    @property
    def branch(self) -> str | None:
        return _text(self.facts["branch"])

    @property
    def tag(self) -> str | None:
        return _text(self.facts["tag"])

    @property
    def sha(self) -> str | None:
        return _text(self.facts["sha"])


class Scoped(NamedTuple):
    context: Context
    base: str | None

    def get(self, name: str) -> FactValue:
        context = self.context
        if name.startswith(ENV_PREFIX):
            return context.env.get(name[len(ENV_PREFIX) :]) or None
        if name in TIME_FACTS:
            return context.calendar
        if name in GIT_FACTS:
            if context.git is None:
                return None
            if name in COMMIT_FACTS:
                return context.git.commit.get(name)
            found = context.git.ranges.get(self.base)
            if found is None:
                return None
            return found.messages if name == "messages" else found
        return context.facts.get(name)


def _text(value: FactValue) -> str | None:
    return value if isinstance(value, str) else None


def build_context(
    environ: Mapping[str, str],
    *,
    vcs: str | None = None,
    origins: Mapping[str, str] | None = None,
) -> Context:
    """`vcs` is the rules file's `circleci.vcs`, which wins over the repository URL;
    `origins` says where a variable came from when not from the process environment."""

    def var(name: str) -> str | None:
        return environ.get(name, "").strip() or None

    org, repo = var("CIRCLE_PROJECT_USERNAME"), var("CIRCLE_PROJECT_REPONAME")
    repository_url = var("CIRCLE_REPOSITORY_URL")
    facts: dict[str, FactValue] = {
        "branch": var("CIRCLE_BRANCH"),
        "tag": var("CIRCLE_TAG"),
        "sha": var("CIRCLE_SHA1"),
        "pull_request": bool(var("CIRCLE_PULL_REQUEST") or var("CIRCLE_PR_NUMBER")),
        "fork": bool(var("CIRCLE_PR_USERNAME") or var("CIRCLE_PR_REPONAME")),
        "user": var("CIRCLE_USERNAME"),
        "job": var("CIRCLE_JOB"),
        "project": f"{org}/{repo}" if org and repo else None,
    }
    return Context(
        facts=facts,
        env=dict(environ),
        org=org,
        repo=repo,
        vcs=vcs or (vcs_from_url(repository_url) if repository_url else None),
        repository_url=repository_url,
        on_circleci=environ.get("CIRCLECI") == "true",
        sources=_sources(environ, origins or {}),
    )


def _sources(environ: Mapping[str, str], origins: Mapping[str, str]) -> dict[str, str]:
    """fact -> 'where (VARIABLE)', for each fact some variable sets."""
    found: dict[str, str] = {}
    for fact, names in VARIABLES.items():
        name = next((n for n in names if environ.get(n, "").strip()), None)
        if name:
            found[fact] = f"{origins.get(name, 'environment')} ({name})"
    return found
