"""Which CircleCI project this build belongs to, named as both API versions name it."""

from __future__ import annotations

from ci_deploy_gate.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ci_deploy_gate.context import Context

SLUG_VCS = {"github": "gh", "bitbucket": "bb"}


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
    if missing:
        raise ConfigError(
            f"environment: {' and '.join(missing)} not set: cannot name the project "
            "(a local dry-run reads them from the checkout's origin remote; "
            f"or pass --set {missing[0]}=...)"
        )
    if not context.vcs:
        shown = context.repository_url or "unset"
        raise ConfigError(
            f"environment: cannot tell GitHub from Bitbucket by CIRCLE_REPOSITORY_URL ({shown}); "
            "set circleci.vcs in the rules file"
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
