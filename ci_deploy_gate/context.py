"""The facts a rule can test: read once from the build's CIRCLE_* environment, and from
git (`gitfacts`) when a verdict needs a commit's message, author or changed paths."""

from __future__ import annotations

import re

from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from datetime import datetime
    from typing import Protocol, Union


class PathQuery(NamedTuple):
    """`changed PATTERNS` (any changed path matches) or `changed only PATTERNS` (every one
    does); PATTERNS are gitignore-style, in order, `!` excluding."""

    patterns: tuple[str, ...]
    only: bool


EXAMPLES = 10  # paths or commits a `changed` or `messages` answer names at most


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


class TimeState(NamedTuple):
    """A window (open) or a freeze (in force) at the run's instant, and the sentence that
    says until when: 'closed, opens Mon 2026-11-23 09:00 Europe/Berlin, in 2d 14h'."""

    active: bool
    text: str


class Calendar(NamedTuple):
    """Every window and freeze of the rules file at the run's one instant."""

    windows: Mapping[str, TimeState]
    freezes: Mapping[str, TimeState]


if TYPE_CHECKING:
    FactValue = Union[str, bool, None, tuple[str, ...], ChangeRange, Calendar]


class Fact(NamedTuple):
    """One fact a rule can test: the `if` language, the `when` map, `schema`, `init` and the
    README's table of facts are all derived from `FACTS`.

    kind: "text" (a string, or unset), "flag" (yes/no), "prose" (text searched rather than
    compared: a commit message), "messages" (every message of the changed range), "paths"
    (the paths it changed), "window" and "freeze" (the calendar of the rules file).
    source: "env" (read from `variables`), "commit" (git, the CIRCLE_SHA1 commit), "range"
    (git, base..CIRCLE_SHA1: these follow `changed_base`) or "clock" (the run's instant).
    """

    kind: str
    source: str
    variables: tuple[str, ...] = ()
    about: str = ""  # what it holds, where `variables` do not say it all
    joined: bool = False  # text of several variables: all of them, `a/b` (else the first set)

    @property
    def description(self) -> str:
        """The README's "from" column."""
        names = [f"`{name}`" for name in self.variables]
        if self.kind == "flag":
            said = f"yes/no: {' or '.join(names)} is set"
        elif self.joined:
            said = f"`org/repo` from {' and '.join(names)}"
        else:
            said = ", else ".join(names)
        return " ".join(part for part in (said, self.about) if part)

    def value(self, values: list[str | None]) -> str | bool | None:
        """The fact from its variables' values (None for each unset one)."""
        if self.kind == "flag":
            return any(values)
        if self.joined:
            return "/".join(v for v in values if v) if all(values) else None
        return next((v for v in values if v), None)


FACTS: dict[str, Fact] = {
    "branch": Fact("text", "env", ("CIRCLE_BRANCH",), "(empty on tag builds)"),
    "tag": Fact("text", "env", ("CIRCLE_TAG",)),
    "sha": Fact("text", "env", ("CIRCLE_SHA1",)),
    "pull_request": Fact("flag", "env", ("CIRCLE_PULL_REQUEST", "CIRCLE_PR_NUMBER")),
    "fork": Fact("flag", "env", ("CIRCLE_PR_USERNAME", "CIRCLE_PR_REPONAME")),
    "user": Fact("text", "env", ("CIRCLE_USERNAME",)),
    "job": Fact("text", "env", ("CIRCLE_JOB",)),
    "project": Fact(
        "text", "env", ("CIRCLE_PROJECT_USERNAME", "CIRCLE_PROJECT_REPONAME"), joined=True
    ),
    "build_num": Fact("text", "env", ("CIRCLE_BUILD_NUM",), "(this job's number)"),
    "ref": Fact("text", "env", ("CIRCLE_BRANCH", "CIRCLE_TAG"), "(the branch, or the tag)"),
    "message": Fact("prose", "commit", about="git: the full message of the CIRCLE_SHA1 commit"),
    "author": Fact("text", "commit", about="git: the author e-mail of the CIRCLE_SHA1 commit"),
    "committer": Fact(
        "text", "commit", about="git: the committer e-mail of the CIRCLE_SHA1 commit"
    ),
    "messages": Fact(
        "messages",
        "range",
        about="git: the message of every commit in the changed range, base..CIRCLE_SHA1",
    ),
    "changed": Fact("paths", "range", about="git: the paths changed in base..CIRCLE_SHA1"),
    "within": Fact(
        "window",
        "clock",
        about="`within NAME`: a window of `windows:` is open at the run's instant",
    ),
    "frozen": Fact(
        "freeze",
        "clock",
        about="`frozen`, `frozen NAME`: a freeze of `freezes:` (any, or that one) is in "
        "force at the run's instant",
    ),
}
ENV_PREFIX = "env."
ENV_FACT = Fact("text", "env", about="any environment variable")


def _named(source: str) -> tuple[str, ...]:
    return tuple(name for name, fact in FACTS.items() if fact.source == source)


TIME_FACTS = _named("clock")
COMMIT_FACTS = _named("commit")  # of the commit itself
RANGE_FACTS = _named("range")  # of base..CIRCLE_SHA1: they depend on changed_base
GIT_FACTS = frozenset(COMMIT_FACTS + RANGE_FACTS)
ENV_FACTS = _named("env")

# CircleCI's names for the hosts it builds from, as they appear in v1.1 URLs.
VCS_HOSTS = {"github.com": "github", "bitbucket.org": "bitbucket"}
VCS_TYPES = ("github", "bitbucket")

# https://host/..., ssh://git@host/..., git@host:org/repo
_URL_HOST = re.compile(r"^(?:[a-z][a-z0-9+.-]*://)?(?:[^@/]+@)?(?P<host>[^/:]+)", re.IGNORECASE)


def fact_of(name: str) -> Fact | None:
    """The fact `name` stands for (`env.NAME` included), or None for a name that is none."""
    if name.startswith(ENV_PREFIX) and len(name) > len(ENV_PREFIX):
        return ENV_FACT
    return FACTS.get(name)


def vcs_from_url(url: str) -> str | None:
    found = _URL_HOST.match(url.strip())
    return VCS_HOSTS.get(found.group("host").lower()) if found else None


if TYPE_CHECKING:

    class GitReader(Protocol):
        """The git facts, read when first asked for (`gitfacts.LazyGit`); a fact that
        cannot be read raises ConfigError."""

        @property
        def read(self) -> Mapping[str, str]:
            """The git facts read so far, and where from: the report's `sources`."""

        def commit_fact(self, name: str) -> str: ...
        def changed(self, base: str | None) -> ChangeRange: ...
        def messages(self, base: str | None) -> tuple[str, ...]: ...


class Context(NamedTuple):
    """What this build is. Empty variables count as unset: they equal nothing."""

    facts: Mapping[str, FactValue]
    env: Mapping[str, str]
    org: str | None
    repo: str | None
    vcs: str | None
    repository_url: str | None
    on_circleci: bool
    git: GitReader | None = None  # only when a rule tests a git fact; reads on first use
    sources: Mapping[str, str] = {}  # fact -> where it came from, for the report
    now: datetime | None = None  # the run's one instant: --now, or the clock read once
    calendar: Calendar | None = None  # the windows and freezes at `now`, from `evaluate`

    def get(self, name: str) -> FactValue:
        return self.scoped(None).get(name)

    def scoped(self, base: str | None, where: str = "") -> Scoped:
        """The facts as one rule sees them: `changed` and `messages` follow its base, and
        a git fact that cannot be read names `where` (the rule) in its error."""
        return Scoped(self, base, where)

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
    """The facts the evaluation of one rule (or one freeze's `unless`) reads: a git fact
    is read only when asked for, so only when a verdict needs it."""

    context: Context
    base: str | None
    where: str = ""  # `gate.yml:7: rules[1] (api)`, named when a git fact cannot be read

    def get(self, name: str) -> FactValue:
        context = self.context
        if name.startswith(ENV_PREFIX):
            return context.env.get(name[len(ENV_PREFIX) :]) or None
        if name in TIME_FACTS:
            return context.calendar
        if name in GIT_FACTS:
            return self._git(name)
        return context.facts.get(name)

    def _git(self, name: str) -> FactValue:
        reader = self.context.git
        if reader is None:  # no rule tests a git fact
            return None
        try:
            if name in COMMIT_FACTS:
                return reader.commit_fact(name)
            if name == "messages":
                return reader.messages(self.base)
            return reader.changed(self.base)
        except ConfigError as exc:
            if not self.where:
                raise
            raise ConfigError(f"{self.where}: {name}: {exc}") from None


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
    facts: dict[str, FactValue] = {}
    for name in ENV_FACTS:
        fact = FACTS[name]
        facts[name] = fact.value([var(variable) for variable in fact.variables])
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
    for fact in ENV_FACTS:
        name = next((n for n in FACTS[fact].variables if environ.get(n, "").strip()), None)
        if name:
            found[fact] = f"{origins.get(name, 'environment')} ({name})"
    return found
