"""Fire a job exactly once: look before firing, and look again when an answer is lost.

A rerun of the same workflow, a second run of the gate or a retried request must not
deploy twice. Before the POST the gate lists the branch's recent builds (v1.1) or
pipelines (v2) and stops when one already runs this job at this revision. When a POST
gets no clear answer, a build that was not there before is the one it created.
"""

from __future__ import annotations

from ci_deploy_gate.circleci import versions
from ci_deploy_gate.circleci.answers import refusal
from ci_deploy_gate.circleci.model import FAILED_BEFORE, Fired, Request
from ci_deploy_gate.credentials import MASK
from ci_deploy_gate.errors import ApiError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ci_deploy_gate.circleci.model import TriggerRequest
    from ci_deploy_gate.circleci.transport import Client
    from ci_deploy_gate.model import CircleCISettings


def lookup(
    client: Client, request: TriggerRequest, settings: CircleCISettings, how: str
) -> tuple[Fired, ...]:
    """Builds or pipelines that already run this job at this revision, newest first."""
    version = versions.api(request.api)
    answer = client.get(request.lookup_url)
    if not answer.ok:
        raise refusal(
            "GET",
            request.lookup_url,
            answer,
            client.token.name,
            internal_error=version.INTERNAL_ERROR_HINT,
            gone=version.GONE_HINT,
        )
    return version.found(client, answer, request, how, settings)


def fire(
    client: Client, request: TriggerRequest, settings: CircleCISettings, *, force: bool
) -> Fired:
    """The build this request made, or found: ApiError when CircleCI refused or went silent.

    With `force` an existing build does not stop the trigger, but it is still set aside
    so a lost answer is never mistaken for one of them. An earlier deploy that failed or
    was cancelled does not count: it is named in a warning on what the gate fires."""
    seen = lookup(client, request, settings, "already-triggered")
    existing = [fired for fired in seen if fired.how != FAILED_BEFORE]
    at = f" at {request.revision}" if request.revision else ""
    previous = tuple(
        f"previous deploy of {request.label}{at}: {fired.result}, {fired.label}"
        for fired in seen
        if fired.how == FAILED_BEFORE
    )

    def told(fired: Fired) -> Fired:
        return fired._replace(warnings=(*previous, *fired.warnings)) if previous else fired

    if existing and not force:
        return told(existing[0])
    known = {(fired.number, fired.id) for fired in seen}

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
        return fresh[0]._replace(how="recovered", result=None) if fresh else None

    version = versions.api(request.api)
    post = Request(request.method, request.url, request.body, request.headers)
    outcome = client.call(post, recheck=recheck)
    if isinstance(outcome, Fired):
        return told(outcome)
    if not outcome.ok:
        raise refusal(
            request.method,
            request.url,
            outcome,
            client.token.name,
            internal_error=version.INTERNAL_ERROR_HINT,
            gone=version.GONE_HINT,
        )
    try:
        made = version.created(outcome, request)
    except ApiError as exc:  # CircleCI's words may echo anything: never the token
        secret = client.token.reveal()
        raise ApiError(str(exc).replace(secret, MASK) if secret else str(exc)) from None
    return told(version.confirm(client, request, made))
