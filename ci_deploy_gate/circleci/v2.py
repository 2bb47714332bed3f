"""CircleCI API v2: run a pipeline whose parameters name the job and the revision.

v2 cannot pin a revision, so the gate sends CIRCLE_SHA1 as a pipeline parameter and the
deploy job checks it out (README: the `version: 2.1` config). The pipeline is read back:
when the branch has moved on, its head is not the revision, and the report says so.
This module is one row of `versions.VERSIONS`: it provides everything `versions.ApiVersion`
names. `--wait-for-nodes` reads a job through it too, whatever `circleci.api` says.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

from ci_deploy_gate.circleci.answers import message, read, unreadable
from ci_deploy_gate.circleci.host import DEFAULT_API_URL
from ci_deploy_gate.circleci.model import (
    FAILED_BEFORE,
    Fired,
    Progress,
    Route,
    Target,
    number,
    text,
)
from ci_deploy_gate.circleci.project import build_slug
from ci_deploy_gate.circleci.since import instant, pipeline_created
from ci_deploy_gate.errors import ApiError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping
    from typing import Any

    from ci_deploy_gate.circleci.model import Answer, TriggerRequest
    from ci_deploy_gate.circleci.transport import Client
    from ci_deploy_gate.context import Context
    from ci_deploy_gate.model import CircleCISettings

SHORT_PREFIXES = {"github": "gh", "bitbucket": "bb"}  # /pipeline/run takes gh/, not github/
API = "v2"
KIND = "pipeline"
INTERNAL_ERROR_HINT: str | None = None  # a 5xx on v2 means nothing more specific
GONE_HINT: str | None = None  # no v2 endpoint the gate uses is being removed
WEB_VCS = {"gh": "github", "bb": "bitbucket"}
DEFAULT_WEB_URL = "https://app.circleci.com"
# Workflow status: success, running, not_run, failed, error, failing, on_hold, canceled,
# unauthorized. `failing` means a job already failed: the deploy has failed.
FAILED = ("failed", "error", "failing", "canceled", "unauthorized", "not_run")
# A pipeline whose workflows all ended one of these did not deploy: it does not count as done
ENDED_BADLY = ("failed", "error", "canceled", "unauthorized", "not_run")


def project_slug(context: Context, settings: CircleCISettings, project: str | None = None) -> str:
    """The trigger's project, else circleci.project_slug, else gh/ORG/REPO or bb/ORG/REPO
    from the build; always with the short prefix (gh, bb, circleci) every v2 endpoint takes."""
    slug = project or settings.project_slug
    if not slug:
        return build_slug(context)
    prefix, _, rest = slug.partition("/")
    return f"{SHORT_PREFIXES.get(prefix, prefix)}/{rest}"


def _path(slug: str) -> str:
    return "/".join(quote(part, safe="") for part in slug.split("/"))


def route(api_url: str, context: Context, target: Target, settings: CircleCISettings) -> Route:
    """POST the pipeline with its parameters: the job's and the revision's when it has them;
    on the target's branch or tag, or (none given) the project's default branch."""
    slug = project_slug(context, settings, target.project)
    root = f"{api_url.rstrip('/')}/api/v2"
    ref = {"branch": target.branch} if target.branch else {"tag": target.tag} if target.tag else {}
    parameters: dict[str, Any] = dict(target.parameters)
    if target.job is not None:
        parameters[settings.job_parameter] = target.job
    if target.revision is not None:
        parameters[settings.revision_parameter] = target.revision
    body: dict[str, Any]
    if settings.definition_id and target.project is None and ref:
        # The endpoint CircleCI recommends, and the only one for GitHub App and GitLab; the
        # definition is this project's.
        url = f"{root}/project/{_path(slug)}/pipeline/run"
        body = {
            "definition_id": settings.definition_id,
            "config": ref,
            "checkout": ref,
            "parameters": parameters,
        }
    else:
        url = f"{root}/project/{_path(slug)}/pipeline"
        body = {**ref, "parameters": parameters}
    query = f"?{urlencode({'branch': target.branch})}" if target.branch else ""
    return Route(
        url=url,
        body=body,
        lookup_url=f"{root}/project/{_path(slug)}/pipeline{query}",
        base=root,
        slug=slug,
    )


def web_url(request: TriggerRequest, pipeline_number: int | None) -> str | None:
    """The pipeline's page, for people: app.circleci.com for circleci.com, else the host."""
    if pipeline_number is None:
        return None
    host = request.base[: -len("/api/v2")]
    web = DEFAULT_WEB_URL if host == DEFAULT_API_URL else host
    vcs, _, rest = request.slug.partition("/")
    return f"{web}/pipelines/{WEB_VCS.get(vcs, vcs)}/{rest}/{pipeline_number}"


def created(answer: Answer, request: TriggerRequest) -> Fired:
    """The pipeline a 201 describes; ApiError for pipeline/run's 200, which made none."""
    if answer.status == 200:  # "successful response with no created pipeline"
        raise ApiError(
            f"{request.method} {request.url}: CircleCI created no pipeline: {message(answer)} "
            "(check the pipeline definition's trigger settings and the config's filters)"
        )
    pipeline = answer.payload
    if (
        not isinstance(pipeline, dict)
        or text(pipeline.get("id")) is None
        or number(pipeline.get("number")) is None
    ):
        raise unreadable(
            request.method,
            request.url,
            answer,
            "a created pipeline (a JSON object with id and number)",
            "cannot tell whether CircleCI created one: look at the project's pipelines before "
            "running the gate again",
            None,
        )
    pipeline_number = number(pipeline.get("number"))
    return Fired(
        api=API,
        kind=KIND,
        number=pipeline_number,
        url=web_url(request, pipeline_number),
        status=answer.status,
        id=text(pipeline.get("id")),
        state=text(pipeline.get("state")),
    )


def sent_parameters(pipeline: Mapping[str, Any]) -> dict[str, Any]:
    """What `trigger_parameters` holds, flattened one level (CircleCI nests its own trigger
    data under `git` and `circleci`). CircleCI is not known to report the parameters an API
    trigger posted here, so these are only an extra signal when they are present."""
    reported = pipeline.get("trigger_parameters")
    if not isinstance(reported, dict):
        return {}
    found: dict[str, Any] = {}
    for value in reported.values():
        if isinstance(value, dict):
            found.update(value)
    found.update({k: v for k, v in reported.items() if not isinstance(v, dict)})
    return found


def _parameters_say(
    pipeline: Mapping[str, Any], request: TriggerRequest, settings: CircleCISettings
) -> bool | None:
    """Whether the pipeline's reported parameters name this job at this revision, or None
    when they do not name a job at all (the usual case)."""
    sent = sent_parameters(pipeline)
    if settings.job_parameter not in sent:
        return None
    return bool(
        sent.get(settings.job_parameter) == request.job
        and sent.get(settings.revision_parameter) == request.revision
    )


def _triggered_here(pipeline: Mapping[str, Any], request: TriggerRequest) -> bool:
    """Documented fields only: triggered through the API, on this branch or tag, at this
    revision (the pipeline's own, or the commit its /pipeline/run checkout took)."""
    trigger = pipeline.get("trigger")
    vcs = pipeline.get("vcs")
    if not isinstance(trigger, dict) or trigger.get("type") != "api" or not isinstance(vcs, dict):
        return False
    if request.branch is not None and vcs.get("branch") != request.branch:
        return False
    if request.tag is not None and vcs.get("tag") != request.tag:
        return False  # (neither: the project's default branch, whichever it is)
    if request.revision is None:
        return True  # unpinned: any revision
    reported = pipeline.get("trigger_parameters")
    git = reported.get("git") if isinstance(reported, dict) else None
    checkout = git.get("checkout_sha") if isinstance(git, dict) else None
    return request.revision in (vcs.get("revision"), checkout)


def _workflows(client: Client, request: TriggerRequest, pipeline_id: str) -> list[tuple[Any, Any]]:
    """The pipeline's workflows, (name, status) each: whether it runs a workflow named for
    the job (the config pattern the gate and `migrate` use: a workflow J runs when the job
    parameter is J), and how they ended."""
    url = f"{request.base}/pipeline/{quote(pipeline_id, safe='')}/workflow"
    answer = read(client, url, internal_error=INTERNAL_ERROR_HINT)
    items = answer.payload.get("items") if isinstance(answer.payload, dict) else None
    return [
        (item.get("name"), item.get("status")) for item in items or () if isinstance(item, dict)
    ]


def _ended_badly(workflows: list[tuple[Any, Any]]) -> str | None:
    """How a pipeline whose workflows all failed or were cancelled ended, else None."""
    statuses = [status for _, status in workflows]
    if not statuses or not all(status in ENDED_BADLY for status in statuses):
        return None
    return ", ".join(sorted({str(status).replace("_", " ") for status in statuses}))


def found(
    client: Client,
    answer: Answer,
    request: TriggerRequest,
    how: str,
    settings: CircleCISettings,
) -> tuple[Fired, ...]:
    """Pipelines of the list that deploy this job at this revision: API-triggered on this
    branch or tag at this revision, and running the job's workflow (one workflow read per
    such candidate). Reported parameters, when present, decide instead. One whose
    workflows (when read) all failed or were cancelled comes back as `failed-before`."""
    items = answer.payload.get("items") if isinstance(answer.payload, dict) else None
    if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
        raise unreadable(
            "GET",
            request.lookup_url,
            answer,
            "a JSON object with an items list",
            f"cannot tell whether {request.label} already runs, so the gate does not fire",
            client.token.reveal(),
        )
    since = pipeline_created(client, request) if request.revision is None else None
    matches = []
    for pipeline in items:
        pipeline_id = text(pipeline.get("id"))
        said: bool | None
        if since is not None:  # unpinned: anything triggered through the API since
            created = instant(pipeline.get("created_at"))
            said = _triggered_here(pipeline, request) and created is not None and created >= since
        else:
            said = _parameters_say(pipeline, request, settings)
        failed: str | None = None
        if said is None:
            said = _triggered_here(pipeline, request)
            if said and request.job is not None:
                workflows = _workflows(client, request, pipeline_id) if pipeline_id else []
                said = request.job in {name for name, _ in workflows}
                failed = _ended_badly(workflows)
        if said:
            pipeline_number = number(pipeline.get("number"))
            matches.append(
                Fired(
                    api=API,
                    kind=KIND,
                    number=pipeline_number,
                    url=web_url(request, pipeline_number),
                    id=pipeline_id,
                    state=text(pipeline.get("state")),
                    how=FAILED_BEFORE if failed else how,
                    result=failed,
                )
            )
    return tuple(matches)


def listed(answer: Answer) -> list[Any]:
    items = answer.payload.get("items") if isinstance(answer.payload, dict) else None
    return items if isinstance(items, list) else []


def next_page(
    client: Client, request: TriggerRequest, answer: Answer, listed: list[Any]
) -> str | None:
    """The page `next_page_token` names, until one holds a pipeline older than this
    build's (CIRCLE_PIPELINE_ID's `created_at`); None too when there is no next page."""
    token = answer.payload.get("next_page_token") if isinstance(answer.payload, dict) else None
    if not isinstance(token, str) or not token:
        return None
    if request.since_url is not None:
        since = pipeline_created(client, request)
        for pipeline in listed:
            created = instant(pipeline.get("created_at"))
            if created is not None and created < since:
                return None
    joint = "&" if "?" in request.lookup_url else "?"
    return f"{request.lookup_url}{joint}{urlencode({'page-token': token})}"


def pipeline_url(request: TriggerRequest, fired: Fired) -> str:
    return f"{request.base}/pipeline/{quote(fired.id or '', safe='')}"


def moved_on(answer: Answer, request: TriggerRequest, fired: Fired) -> str | None:
    """A loud warning when the pipeline's head is not the revision the gate decided on."""
    pipeline = answer.payload if isinstance(answer.payload, dict) else {}
    vcs = pipeline.get("vcs") if isinstance(pipeline.get("vcs"), dict) else {}
    revision = text(vcs.get("revision")) if isinstance(vcs, dict) else None
    if revision is None or revision == request.revision:
        return None
    ref = f"branch {request.branch}" if request.branch else f"tag {request.tag}"
    return (
        f"the {ref} has moved on: {fired.label} runs at {revision}, not {request.revision}; "
        "the deploy job must check out the revision parameter, not the branch head"
    )


def confirm(client: Client, request: TriggerRequest, fired: Fired) -> Fired:
    """Read the pipeline back: v2 runs the branch head, which may not be the revision."""
    if not fired.id:
        return fired._replace(warnings=(*fired.warnings, "CircleCI sent no pipeline id"))
    url = pipeline_url(request, fired)
    try:
        answer = client.get(url)
    except ApiError as exc:
        return fired._replace(warnings=(*fired.warnings, f"could not read it back: {exc}"))
    if not answer.ok:
        problem = f"could not read it back: GET {url} answered {answer.status} {message(answer)}"
        return fired._replace(warnings=(*fired.warnings, problem))
    moved = moved_on(answer, request, fired)
    return fired._replace(warnings=(*fired.warnings, moved)) if moved else fired


def progress_url(request: TriggerRequest, fired: Fired) -> str:
    """The pipeline's workflows: `--wait` follows them all."""
    return f"{pipeline_url(request, fired)}/workflow"


def progress(answer: Answer) -> Progress:
    """All the pipeline's workflows together: failed as soon as one fails."""
    items = answer.payload.get("items") if isinstance(answer.payload, dict) else None
    statuses = [
        (text(item.get("name")) or "workflow", text(item.get("status")) or "unknown")
        for item in (items if isinstance(items, list) else [])
        if isinstance(item, dict)
    ]
    if not statuses:
        return Progress("no workflow yet", done=False, ok=False)
    shown = ", ".join(f"{name} {status.replace('_', ' ')}" for name, status in statuses)
    if any(status in FAILED for _, status in statuses):
        return Progress(shown, done=True, ok=False)
    if all(status == "success" for _, status in statuses):
        return Progress(shown, done=True, ok=True)
    return Progress(shown, done=False, ok=False)


def job_url(api_url: str, slug: str, build_num: str) -> str:
    return f"{api_url.rstrip('/')}/api/v2/project/{_path(slug)}/job/{quote(build_num, safe='')}"
