"""Fire a job exactly once: look before firing, and look again when an answer is lost.

A rerun of the same workflow, a second run of the gate or a retried request must not
deploy twice. Before the POST the gate lists the branch's recent builds (v1.1) or
pipelines (v2) and stops when one already runs this job at this revision. When a POST
gets no clear answer, a build that was not there before is the one it created.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ci_deploy_gate import api_v1, api_v2
from ci_deploy_gate.circleci import Fired, TriggerRequest, message, refusal
from ci_deploy_gate.errors import ApiError
from ci_deploy_gate.transport import Request

if TYPE_CHECKING:
    from ci_deploy_gate.rules import CircleCISettings
    from ci_deploy_gate.transport import Client


def lookup(
    client: Client, request: TriggerRequest, settings: CircleCISettings, how: str
) -> tuple[Fired, ...]:
    """Builds or pipelines that already run this job at this revision, newest first."""
    answer = client.get(request.lookup_url)
    if not answer.ok:
        raise refusal("GET", request.lookup_url, answer, client.token.name, api=request.api)
    if request.api == api_v2.API:
        return api_v2.found(answer.payload, request, how, settings)
    return api_v1.found(answer.payload, request, how)


def fire(
    client: Client, request: TriggerRequest, settings: CircleCISettings, *, force: bool
) -> Fired:
    """The build this request made, or found: ApiError when CircleCI refused or went silent.

    With `force` an existing build does not stop the trigger, but it is still set aside
    so a lost answer is never mistaken for one of them."""
    existing = lookup(client, request, settings, "already-triggered")
    if existing and not force:
        return existing[0]
    known = {(fired.number, fired.id) for fired in existing}

    def recheck() -> Fired | None:
        try:
            found = lookup(client, request, settings, "recovered")
        except ApiError as exc:
            raise ApiError(
                f"{request.method} {request.url}: no clear answer, and looking for the build "
                f"it may have created failed too ({exc}); not trying again: look at the "
                "project's builds before running the gate again"
            ) from None
        fresh = [fired for fired in found if (fired.number, fired.id) not in known]
        return fresh[0] if fresh else None

    outcome = client.call(Request(request.method, request.url, request.body), recheck=recheck)
    if isinstance(outcome, Fired):
        return outcome
    if not outcome.ok:
        raise refusal(request.method, request.url, outcome, client.token.name, api=request.api)
    if request.api == api_v1.API:
        return api_v1.created(outcome, request)
    if outcome.status == 200:  # pipeline/run: "successful response with no created pipeline"
        raise ApiError(
            f"{request.method} {request.url}: CircleCI created no pipeline: {message(outcome)} "
            "(check the pipeline definition's trigger settings and the config's filters)"
        )
    return confirm(client, request, api_v2.created(outcome, request))


def confirm(client: Client, request: TriggerRequest, fired: Fired) -> Fired:
    """Read the pipeline back: v2 runs the branch head, which may not be the revision."""
    if not fired.id:
        return fired._replace(warnings=(*fired.warnings, "CircleCI sent no pipeline id"))
    url = api_v2.pipeline_url(request, fired)
    try:
        answer = client.get(url)
    except ApiError as exc:
        return fired._replace(warnings=(*fired.warnings, f"could not read it back: {exc}"))
    if not answer.ok:
        problem = f"could not read it back: GET {url} answered {answer.status} {message(answer)}"
        return fired._replace(warnings=(*fired.warnings, problem))
    moved = api_v2.moved_on(answer, request, fired)
    return fired._replace(warnings=(*fired.warnings, moved)) if moved else fired
