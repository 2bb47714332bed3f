"""`--wait`: follow a fired build or pipeline to its end, so the step's exit code is the
deploy's. Polls back off from 2 s to 30 s; each state change is shown once."""

from __future__ import annotations

from ci_deploy_gate.circleci import versions
from ci_deploy_gate.circleci.answers import read

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ci_deploy_gate.circleci.model import Fired, Progress, TriggerRequest
    from ci_deploy_gate.circleci.retry import Clock
    from ci_deploy_gate.circleci.transport import Client

FIRST_POLL = 2.0
LONGEST_POLL = 30.0


def poll(
    check: Callable[[], Progress],
    *,
    timeout: float,
    clock: Clock,
    show: Callable[[str], None],
    label: str,
) -> Progress | None:
    """Call `check` until it is done; None when `timeout` seconds pass first."""
    started = clock.now()
    delay = FIRST_POLL
    shown = None
    while True:
        progress = check()
        if progress.state != shown:
            show(f"{label}: {progress.state}")
            shown = progress.state
        if progress.done:
            return progress
        left = timeout - (clock.now() - started)
        if left <= 0:
            return None
        clock.sleep(min(delay, left))
        delay = min(delay * 1.5, LONGEST_POLL)


def follow(
    client: Client,
    request: TriggerRequest,
    fired: Fired,
    *,
    timeout: float,
    show: Callable[[str], None],
) -> Fired:
    """The fired build with its `result`: success, a failure's name, or `timed out`."""
    version = versions.api(request.api)
    url = version.progress_url(request, fired)

    def check() -> Progress:
        answer = read(
            client, url, internal_error=version.INTERNAL_ERROR_HINT, gone=version.GONE_HINT
        )
        return version.progress(answer)

    label = f"{request.label} {fired.label}"
    final = poll(check, timeout=timeout, clock=client.clock, show=show, label=label)
    if final is None:
        return fired._replace(result=f"timed out after {timeout:g}s")
    return fired._replace(result="success" if final.ok else final.state)
