"""The trigger as a value, for either API, and what CircleCI's answers mean.

A dry-run prints the same `TriggerRequest` a real run sends, so the two cannot drift.
`api_v1` and `api_v2` build and read the API-specific shapes; this module holds what
both share: the values in the report, and CircleCI's refusals turned into hints.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, NamedTuple

from ci_deploy_gate.errors import ApiError, ConfigError

if TYPE_CHECKING:
    from ci_deploy_gate.context import Context
    from ci_deploy_gate.rules import CircleCISettings, Trigger
    from ci_deploy_gate.transport import Answer


class TriggerRequest(NamedTuple):
    """One job to fire: the POST, and where to look for a build it already made."""

    rule: str
    job: str
    revision: str
    branch: str | None
    tag: str | None
    api: str  # "v1.1" or "v2"
    method: str
    url: str
    body: Mapping[str, Any]
    lookup_url: str  # recent builds (v1.1) or pipelines (v2) of the branch or project
    base: str  # v1.1: the project's URL; v2: the API root, {host}/api/v2
    slug: str  # gh/ORG/REPO, bb/ORG/REPO or circleci/ORG-ID/PROJECT-ID

    def shown_headers(self) -> tuple[tuple[str, str], ...]:
        from ci_deploy_gate.transport import SHOWN_HEADERS

        return SHOWN_HEADERS

    def as_json(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "body": dict(self.body)}


class Route(NamedTuple):
    """Where one API sends a trigger, and where it looks for what a trigger made."""

    url: str
    body: Mapping[str, Any]
    lookup_url: str
    base: str
    slug: str


class Fired(NamedTuple):
    """A build (v1.1) or pipeline (v2) for the job at the revision, however it was found."""

    api: str
    number: int | None  # build_num or pipeline number
    url: str | None
    status: int | None = None  # the trigger's HTTP status; None when nothing was sent
    id: str | None = None  # v2 pipeline id
    state: str | None = None  # v1.1 lifecycle or v2 pipeline state, when triggered
    how: str = "fired"  # fired, already-triggered or recovered (answer lost, build found)
    deprecation: str | None = None  # CircleCI's Sunset/Deprecation headers, said aloud
    warnings: tuple[str, ...] = ()
    result: str | None = None  # --wait: success, failed, canceled, timed out...

    @property
    def label(self) -> str:
        kind = "build" if self.api == "v1.1" else "pipeline"
        return f"{kind} #{self.number}" if self.number is not None else kind

    def as_json(self) -> dict[str, Any]:
        v1 = self.api == "v1.1"
        return {
            "api": self.api,
            "how": self.how,
            "status": self.status,
            "build_num": self.number if v1 else None,
            "build_url": self.url if v1 else None,
            "lifecycle": self.state if v1 else None,
            "pipeline_number": None if v1 else self.number,
            "pipeline_id": self.id,
            "pipeline_url": None if v1 else self.url,
            "state": self.state,
            "deprecation": self.deprecation,
            "warnings": list(self.warnings),
            "result": self.result,
        }


class Progress(NamedTuple):
    """Where a fired build or pipeline is: `done` once it cannot change, `ok` if it passed."""

    state: str
    done: bool
    ok: bool


def build_trigger(
    *,
    api_url: str,
    context: Context,
    rule: str,
    trigger: Trigger,
    settings: CircleCISettings | None = None,
) -> TriggerRequest:
    """The exact request for one job, pinned to CIRCLE_SHA1; ConfigError when it cannot be."""
    from ci_deploy_gate.rules import CircleCISettings

    settings = settings or CircleCISettings()
    if not context.sha:
        raise ConfigError(
            f"environment: CIRCLE_SHA1 is not set: refusing an unpinned deploy of {trigger.job!r}"
        )
    if not (context.branch or context.tag):
        raise ConfigError(
            "environment: neither CIRCLE_BRANCH nor CIRCLE_TAG is set: nothing to build"
        )
    if settings.api == "v2":
        from ci_deploy_gate import api_v2

        route = api_v2.route(api_url, context, trigger, settings)
    else:
        from ci_deploy_gate import api_v1

        route = api_v1.route(api_url, context, trigger)
    return TriggerRequest(
        rule=rule,
        job=trigger.job,
        revision=context.sha,
        branch=context.branch,
        tag=None if context.branch else context.tag,
        api=settings.api,
        method="POST",
        url=route.url,
        body=route.body,
        lookup_url=route.lookup_url,
        base=route.base,
        slug=route.slug,
    )


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


def message(answer: Answer) -> str:
    """CircleCI's own words: `{"message": ...}`, sometimes JSON again inside the string."""
    from ci_deploy_gate.transport import parse_json

    payload = answer.payload
    found = payload.get("message") if isinstance(payload, dict) else None
    if isinstance(found, str):
        inner = parse_json(found)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        return found
    return " ".join(answer.text.split())[:200] or "(empty answer)"


_HINTS = {
    400: "CircleCI rejected the request body",
    401: "the token in {token_env} was not accepted: it needs a personal API token",
    403: "the token in {token_env} may not trigger builds of this project",
    404: "CircleCI knows no such project or branch, or the token in {token_env} cannot see it",
    410: "CircleCI has retired this v1.1 endpoint; move to API v2 pipeline triggers "
    "(circleci.api: v2)",
    429: "CircleCI kept rate-limiting the gate until circleci.retries or circleci.deadline ran out",
}


def refusal(method: str, url: str, answer: Answer, token_env: str, *, api: str) -> ApiError:
    """The error for a final non-2xx answer: CircleCI's message and what to do about it."""
    said = message(answer)
    hint = _HINTS.get(answer.status, "CircleCI could not take the request").format(
        token_env=token_env
    )
    if api == "v1.1" and answer.status >= 500 and "internal server error" in said.lower():
        hint = (
            "v1.1 job triggers fail this way on `version: 2.1` configs; "
            "set circleci.api: v2 to use pipeline triggers"
        )
    elif answer.status >= 500:
        hint = "CircleCI kept failing until circleci.retries or circleci.deadline ran out"
    return ApiError(
        f"{method} {url}: CircleCI answered {answer.status} {answer.reason}: {said} ({hint})"
    )


def deprecation(headers: Mapping[str, str]) -> str | None:
    sunset = headers.get("Sunset")
    if sunset:
        return f"CircleCI retires this endpoint on {sunset}; set circleci.api: v2"
    if headers.get("Deprecation"):
        return "CircleCI marks this endpoint deprecated; set circleci.api: v2"
    return None


def text(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def number(value: object) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None
