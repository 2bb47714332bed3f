"""The facts a rule can test, read once from the build's CIRCLE_* environment."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, NamedTuple, Union

if TYPE_CHECKING:
    from collections.abc import Mapping

FactValue = Union[str, bool, None]

# name -> (kind, what it holds). "flag" facts are yes/no; "text" facts are strings or unset.
FACTS: dict[str, tuple[str, str]] = {
    "branch": ("text", "CIRCLE_BRANCH"),
    "tag": ("text", "CIRCLE_TAG"),
    "sha": ("text", "CIRCLE_SHA1"),
    "pull_request": ("flag", "CIRCLE_PULL_REQUEST or CIRCLE_PR_NUMBER is set"),
    "fork": ("flag", "CIRCLE_PR_USERNAME or CIRCLE_PR_REPONAME is set"),
    "user": ("text", "CIRCLE_USERNAME"),
    "job": ("text", "CIRCLE_JOB"),
    "project": ("text", "CIRCLE_PROJECT_USERNAME/CIRCLE_PROJECT_REPONAME"),
}
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


class Context(NamedTuple):
    """What this build is. Empty variables count as unset: they equal nothing."""

    facts: Mapping[str, FactValue]
    env: Mapping[str, str]
    org: str | None
    repo: str | None
    vcs: str | None
    repository_url: str | None
    on_circleci: bool

    def get(self, name: str) -> FactValue:
        if name.startswith(ENV_PREFIX):
            return self.env.get(name[len(ENV_PREFIX) :]) or None
        return self.facts.get(name)

    @property
    def branch(self) -> str | None:
        return _text(self.facts["branch"])

    @property
    def tag(self) -> str | None:
        return _text(self.facts["tag"])

    @property
    def sha(self) -> str | None:
        return _text(self.facts["sha"])


def _text(value: FactValue) -> str | None:
    return value if isinstance(value, str) else None


def build_context(environ: Mapping[str, str], *, vcs: str | None = None) -> Context:
    """`vcs` is the rules file's `circleci.vcs`, which wins over the repository URL."""

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
    )
