"""When this build's pipeline was created: an unpinned trigger (another project's
pipeline, or one with no revision) cannot be matched by revision, so the gate counts it
done when something was triggered through the API on the target since then. A rerun
keeps the pipeline (and so this instant); a new push makes a new one.
"""

from __future__ import annotations

from datetime import datetime, timezone

from ci_deploy_gate.circleci.answers import read
from ci_deploy_gate.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ci_deploy_gate.circleci.model import TriggerRequest
    from ci_deploy_gate.circleci.transport import Client


def instant(value: object) -> datetime | None:
    """An ISO 8601 time as CircleCI writes it (`2026-11-22T10:00:00.123Z`), or None."""
    if not isinstance(value, str) or not value:
        return None
    try:
        found = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return found if found.tzinfo else found.replace(tzinfo=timezone.utc)


def pipeline_created(client: Client, request: TriggerRequest) -> datetime:
    """This build's pipeline's creation; ConfigError without CIRCLE_PIPELINE_ID, ApiError
    when CircleCI will not say: either way the gate cannot tell, so it does not fire."""
    if request.since_url is None:
        raise ConfigError(
            f"environment: CIRCLE_PIPELINE_ID is not set: the unpinned trigger of rule "
            f"{request.rule!r} counts as done once something was triggered through the API "
            "since this build's pipeline began, and without it the gate cannot tell"
        )
    answer = read(client, request.since_url)
    created = instant(
        answer.payload.get("created_at") if isinstance(answer.payload, dict) else None
    )
    if created is None:
        raise ConfigError(
            f"GET {request.since_url}: CircleCI sent no created_at for this build's pipeline: "
            "cannot tell whether the unpinned trigger already fired"
        )
    return created
