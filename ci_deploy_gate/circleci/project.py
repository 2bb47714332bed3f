"""Which CircleCI project this build belongs to, named as both API versions name it."""

from __future__ import annotations

import re

from ci_deploy_gate.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ci_deploy_gate.context import Context

SLUG_VCS = {"github": "gh", "bitbucket": "bb"}
_USERINFO = re.compile(r"(?<=://)[^@/]+@")  # https://user:token@host/...: never shown


def _from_checkout(context: Context) -> bool:
    """Whether the facts came from the local checkout (gitfacts.local_environment), where
    CIRCLE_REPOSITORY_URL, when set, is its origin remote."""
    return context.sources.get("sha", "").startswith("local checkout:")


def project_parts(context: Context) -> tuple[str, str, str]:
    """(vcs, org, repo) of this build; ConfigError naming what is missing."""
    missing = [
        name
        for name, value in (
            ("CIRCLE_PROJECT_USERNAME", context.org),
            ("CIRCLE_PROJECT_REPONAME", context.repo),
        )
        if not value
    ]
    shown = _USERINFO.sub("", context.repository_url or "")
    if missing:
        unset = f"environment: {' and '.join(missing)} not set"
        needed = {"CIRCLE_PROJECT_USERNAME": "ORG", "CIRCLE_PROJECT_REPONAME": "REPO"}
        pass_them = "pass " + " ".join(f"--set {name}={needed[name]}" for name in missing)
        if not _from_checkout(context):
            raise ConfigError(
                f"{unset}: cannot name the project (a local dry-run reads them from the "
                f"checkout's origin remote; or pass --set {missing[0]}=...)"
            )
        if not shown:
            raise ConfigError(
                f"{unset}: the checkout has no origin remote to name the CircleCI project "
                f"after; {pass_them}"
            )
        raise ConfigError(
            f"{unset}: the checkout's origin remote ({shown}) is not on GitHub, Bitbucket "
            f"or GitLab, so it names no CircleCI project; {pass_them}"
        )
    if not context.vcs:
        if _from_checkout(context) and shown:
            raise ConfigError(
                f"environment: cannot tell GitHub from Bitbucket by the checkout's origin "
                f"remote ({shown}), which is on neither github.com nor bitbucket.org; set "
                "circleci.vcs in the rules file, or pass --set CIRCLE_REPOSITORY_URL="
                "https://github.com/ORG/REPO (or https://bitbucket.org/ORG/REPO)"
            )
        raise ConfigError(
            "environment: cannot tell GitHub from Bitbucket by CIRCLE_REPOSITORY_URL "
            f"({shown or 'unset'}); set circleci.vcs in the rules file"
        )
    return context.vcs, context.org or "", context.repo or ""


def build_slug(context: Context) -> str:
    """gh/ORG/REPO or bb/ORG/REPO: the project as the build names it."""
    vcs, org, repo = project_parts(context)
    return f"{SLUG_VCS[vcs]}/{org}/{repo}"


def slug_parts(slug: str) -> tuple[str, str, str]:
    """(vcs, org, repo) of a slug as a rules file writes it: gh/ or github/, bb/ or
    bitbucket/; ConfigError for a circleci/ slug, which names no VCS (API v1.1 needs one)."""
    prefix, _, rest = slug.partition("/")
    vcs = {short: long for long, short in SLUG_VCS.items()}.get(prefix, prefix)
    org, _, repo = rest.partition("/")
    if vcs not in SLUG_VCS:
        raise ConfigError(f"API v1.1 names a project github/ORG/REPO or bitbucket/ORG/REPO: {slug}")
    return vcs, org, repo
