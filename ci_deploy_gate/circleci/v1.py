"""CircleCI API v1.1: fire one job of a `version: 2` config, pinned with `revision`.

CircleCI retires these endpoints on 1 February 2027; `v2` is the way forward. This module
is one row of `versions.VERSIONS`: it provides everything `versions.ApiVersion` names.
"""

from __future__ import annotations

from urllib.parse import quote

from ci_deploy_gate.circleci.answers import deprecation, unreadable
from ci_deploy_gate.circleci.model import (
    FAILED_BEFORE,
    Fired,
    Progress,
    Route,
    Target,
    number,
    text,
)
from ci_deploy_gate.circleci.project import SLUG_VCS, project_parts, slug_parts
from ci_deploy_gate.circleci.since import instant, pipeline_created
from ci_deploy_gate.circleci.versions import MIGRATE, V1_REMOVAL

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ci_deploy_gate.circleci.model import Answer, TriggerRequest
    from ci_deploy_gate.circleci.transport import Client
    from ci_deploy_gate.context import Context
    from ci_deploy_gate.model import CircleCISettings

API = "v1.1"
KIND = "build"
INTERNAL_ERROR_HINT: str | None = (
    "v1.1 job triggers fail this way on `version: 2.1` configs; "
    "set circleci.api: v2 to use pipeline triggers"
)
GONE_HINT: str | None = (
    f"CircleCI removed the API v1.1 trigger endpoints on {V1_REMOVAL}; run `{MIGRATE}` "
    "to move to API v2 pipelines (circleci.api: v2)"
)
LOOKUP_LIMIT = 100  # the most v1.1 returns in one page
# `outcome` of a finished build; no_tests is CircleCI's green "ran no tests"
PASSED = ("success", "no_tests")
# `outcome` of a build that did not deploy: an earlier one like it does not count as done
NOT_DEPLOYED = ("failed", "canceled", "infrastructure_fail", "timedout")


def route(api_url: str, context: Context, target: Target, settings: CircleCISettings) -> Route:
    """POST to the branch (or, for a tag, the project) with the job as CIRCLE_JOB, pinned
    with `revision` when the target is."""
    parts = slug_parts(target.project) if target.project else project_parts(context)
    base = project_url(api_url, parts)
    build_parameters = {
        "CIRCLE_JOB": target.job,
        **{k: _env_text(v) for k, v in target.parameters},
    }
    body: dict[str, Any] = {"build_parameters": build_parameters}
    if target.revision is not None:
        body = {"revision": target.revision, **body}
    if target.branch:
        # A branch is one path segment: hotfix/x must travel as hotfix%2Fx.
        url = f"{base}/tree/{quote(target.branch, safe='')}"
        lookup = url
    else:
        url = lookup = base
        body = {"tag": target.tag, **body}
    return Route(
        url=url,
        body=body,
        lookup_url=f"{lookup}?limit={LOOKUP_LIMIT}",
        base=base,
        slug=f"{SLUG_VCS[parts[0]]}/{parts[1]}/{parts[2]}",
    )


def project_url(api_url: str, parts: tuple[str, str, str]) -> str:
    project = "/".join(quote(part, safe="") for part in parts)
    return f"{api_url.rstrip('/')}/api/v1.1/project/{project}"


def _env_text(value: object) -> str:
    """build_parameters become environment variables: text, true/false as YAML wrote them."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def created(answer: Answer, request: TriggerRequest) -> Fired:
    """The build the answer describes: a JSON object with its build_num, else ApiError."""
    summary = answer.payload
    if not isinstance(summary, dict) or number(summary.get("build_num")) is None:
        raise unreadable(
            request.method,
            request.url,
            answer,
            "a created build (a JSON object with build_num)",
            "cannot tell whether CircleCI created one: look at the project's builds before "
            "running the gate again",
            None,
        )
    return Fired(
        api=API,
        kind=KIND,
        number=number(summary.get("build_num")),
        url=text(summary.get("build_url")) or answer.headers.get("Location"),
        status=answer.status,
        state=text(summary.get("lifecycle")),
        deprecation=deprecation(answer.headers),
    )


def confirm(client: Client, request: TriggerRequest, fired: Fired) -> Fired:
    """Nothing to read back: `revision` pinned the build."""
    return fired


def found(
    client: Client,
    answer: Answer,
    request: TriggerRequest,
    how: str,
    settings: CircleCISettings,
) -> tuple[Fired, ...]:
    """Builds in a recent-builds list that ran this job at this revision, newest first: a
    build summary names its job and revision, so nothing more is read. Unpinned: builds
    of the job triggered through the API since this build's pipeline began. One that
    failed or was cancelled comes back as `failed-before`, with how it ended as `result`."""
    builds = answer.payload
    if not isinstance(builds, list) or not all(isinstance(build, dict) for build in builds):
        raise unreadable(
            "GET",
            request.lookup_url,
            answer,
            "a JSON list of builds",
            f"cannot tell whether {request.label} already runs, so the gate does not fire",
            client.token.reveal(),
        )
    since = pipeline_created(client, request) if request.revision is None else None

    def same(build: dict[str, Any]) -> bool:
        parameters = build.get("build_parameters")
        if not isinstance(parameters, dict) or parameters.get("CIRCLE_JOB") != request.job:
            return False
        if since is None:
            return bool(build.get("vcs_revision") == request.revision)
        queued = instant(build.get("queued_at"))
        return build.get("why") == "api" and queued is not None and queued >= since

    return tuple(
        Fired(
            api=API,
            kind=KIND,
            number=number(build.get("build_num")),
            url=text(build.get("build_url")),
            state=text(build.get("lifecycle")),
            how=FAILED_BEFORE if failed else how,
            result=failed,
        )
        for build in builds
        if same(build)
        for failed in [_failed(build)]
    )


def _failed(build: dict[str, Any]) -> str | None:
    """How a build that did not deploy ended (failed, canceled, not run...), else None."""
    if build.get("lifecycle") == "not_run":
        return "not run"
    outcome = text(build.get("outcome"))
    return outcome.replace("_", " ") if outcome in NOT_DEPLOYED else None


def listed(answer: Answer) -> list[Any]:
    return answer.payload if isinstance(answer.payload, list) else []


def next_page(
    client: Client, request: TriggerRequest, answer: Answer, listed: list[Any]
) -> str | None:
    """The next `offset`, until a page ends with builds older than the oldest at this
    revision (this build's own is among them), or, unpinned, older than this build's
    pipeline; None too when the page was not full: the list ended."""
    page = answer.payload if isinstance(answer.payload, list) else []
    if len(page) < LOOKUP_LIMIT or not listed:
        return None
    last = listed[-1]
    if request.revision is None:
        queued = instant(last.get("queued_at"))
        if queued is not None and queued < pipeline_created(client, request):
            return None
    elif last.get("vcs_revision") != request.revision and any(
        build.get("vcs_revision") == request.revision for build in listed
    ):
        return None
    return f"{request.lookup_url}&offset={len(listed)}"


def progress_url(request: TriggerRequest, fired: Fired) -> str:
    return f"{request.base}/{fired.number}"


def progress(answer: Answer) -> Progress:
    build = answer.payload if isinstance(answer.payload, dict) else {}
    lifecycle = text(build.get("lifecycle")) or "unknown"
    outcome = text(build.get("outcome"))
    if lifecycle == "finished":
        result = outcome or text(build.get("status")) or "unknown"
        return Progress(result, done=True, ok=result in PASSED)
    if lifecycle == "not_run":
        return Progress("not run", done=True, ok=False)
    return Progress(lifecycle.replace("_", " "), done=False, ok=False)
