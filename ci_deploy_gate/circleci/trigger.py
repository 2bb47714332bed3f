"""The request for one target, built in one place for every API version.

`targets.plan` decides where each matched trigger goes; the version named by
`circleci.api` gives only its `Route` (where to POST what, and where to look for what the
POST made); the rest of the `TriggerRequest` is shared.
"""

from __future__ import annotations

from urllib.parse import quote

from ci_deploy_gate.circleci import versions
from ci_deploy_gate.circleci.model import HEADERS, Target, TriggerRequest

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ci_deploy_gate.context import Context
    from ci_deploy_gate.model import CircleCISettings


def request_for(
    *, api_url: str, context: Context, target: Target, settings: CircleCISettings
) -> TriggerRequest:
    """The exact request for `target`."""
    route = versions.api(settings.api).route(api_url, context, target, settings)
    pipeline = context.env.get("CIRCLE_PIPELINE_ID", "").strip()
    since = (
        f"{api_url.rstrip('/')}/api/v2/pipeline/{quote(pipeline, safe='')}" if pipeline else None
    )
    return TriggerRequest(
        rule=target.rules[0],
        job=target.job,
        revision=target.revision,
        branch=target.branch,
        tag=target.tag,
        api=settings.api,
        method="POST",
        url=route.url,
        body=route.body,
        headers=HEADERS,
        lookup_url=route.lookup_url,
        base=route.base,
        slug=route.slug,
        rules=target.rules,
        token_env=target.token_env or settings.token_env,
        since_url=since,
    )
