"""The trigger for one job, built in one place for every API version.

The checks and the `TriggerRequest` are shared; the version named by `circleci.api` gives
only its `Route` (where to POST what, and where to look for what the POST made).
"""

from __future__ import annotations

from ci_deploy_gate.circleci import versions
from ci_deploy_gate.circleci.model import HEADERS, TriggerRequest
from ci_deploy_gate.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from ci_deploy_gate.context import Context
    from ci_deploy_gate.model import CircleCISettings, Trigger


def build_trigger(
    *,
    api_url: str,
    context: Context,
    rule: str,
    trigger: Trigger,
    settings: CircleCISettings | None = None,
) -> TriggerRequest:
    """The exact request for one job, pinned to CIRCLE_SHA1; ConfigError when it cannot be."""
    from ci_deploy_gate.model import CircleCISettings

    settings = settings or CircleCISettings()
    if not context.sha:
        raise ConfigError(
            f"environment: CIRCLE_SHA1 is not set: refusing an unpinned deploy of {trigger.job!r}"
        )
    if not (context.branch or context.tag):
        raise ConfigError(
            "environment: neither CIRCLE_BRANCH nor CIRCLE_TAG is set: nothing to build"
        )
    route = versions.api(settings.api).route(api_url, context, trigger, settings)
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
        headers=HEADERS,
        lookup_url=route.lookup_url,
        base=route.base,
        slug=route.slug,
    )
