"""Fire a job exactly once: look before firing, and look again when an answer is lost.

A rerun of the same workflow, a second run of the gate or a retried request must not
deploy twice. Before the POST the gate lists the branch's recent builds (v1.1) or
pipelines (v2) and stops when one already runs this job at this revision. When a POST
gets no clear answer, a build that was not there before is the one it created.
"""

from __future__ import annotations

from ci_deploy_gate.circleci import versions
from ci_deploy_gate.circleci.answers import read, refusal
from ci_deploy_gate.circleci.model import FAILED_BEFORE, Fired, Request
from ci_deploy_gate.credentials import MASK
from ci_deploy_gate.errors import ApiError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ci_deploy_gate.circleci.model import TriggerRequest
    from ci_deploy_gate.circleci.transport import Client
    from ci_deploy_gate.model import CircleCISettings


PAGES = 10  # the most pages a lookup reads before it says it cannot tell


def lookup(
    client: Client, request: TriggerRequest, settings: CircleCISettings, how: str
) -> tuple[tuple[Fired, ...], tuple[int, int]]:
    """Builds or pipelines that already run this job at this revision, newest first, and
    how far the lookup read (pages, entries): back past this build's pipeline, at most
    PAGES pages; ApiError when that is not far enough, for then it cannot tell."""
    version = versions.api(request.api)
    url: str | None = request.lookup_url
    found: list[Fired] = []
    listed: list[object] = []
    pages = 0
    while url is not None:
        if pages == PAGES:
            raise ApiError(
                f"GET {request.lookup_url}: read {PAGES} pages ({len(listed)} "
                f"{version.KIND}s) without getting back past this build's pipeline; cannot "
                f"tell whether {request.label} already runs, so the gate does not fire"
            )
        answer = read(
            client, url, internal_error=version.INTERNAL_ERROR_HINT, gone=version.GONE_HINT
        )
        pages += 1
        found += version.found(client, answer, request, how, settings)
        listed += version.listed(answer)
        url = version.next_page(client, request, answer, listed)
    looked = (pages, len(listed))
    return tuple(fired._replace(looked=looked) for fired in found), looked


def fire(
    client: Client, request: TriggerRequest, settings: CircleCISettings, *, force: bool
) -> Fired:
    """The build this request made, or found: ApiError when CircleCI refused or went silent.

    With `force` an existing build does not stop the trigger, but it is still set aside
    so a lost answer is never mistaken for one of them. An earlier deploy that failed or
    was cancelled does not count: it is named in a warning on what the gate fires."""
    seen, looked = lookup(client, request, settings, "already-triggered")
    existing = [fired for fired in seen if fired.how != FAILED_BEFORE]
    at = f" at {request.revision}" if request.revision else ""
    previous = tuple(
        f"previous deploy of {request.label}{at}: {fired.result}, {fired.label}"
        for fired in seen
        if fired.how == FAILED_BEFORE
    )

    def told(fired: Fired) -> Fired:
        return fired._replace(warnings=(*previous, *fired.warnings), looked=looked)

    if existing and not force:
        return told(existing[0])
    known = {(fired.number, fired.id) for fired in seen}

    def recheck() -> Fired | None:
        try:
            found, _ = lookup(client, request, settings, "recovered")
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
