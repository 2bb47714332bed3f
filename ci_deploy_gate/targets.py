"""The matched triggers as targets: each trigger's templates filled in with this build's
facts, and triggers that go to one place (API, project, branch or tag, job, pin) merged
into one request, their parameters together.

Pure, and done for every trigger before anything is sent: an unset fact or two rules
giving one parameter different values is an error (exit 2) while nothing has gone out.
"""

from __future__ import annotations

from ci_deploy_gate.circleci.model import Target
from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.templates import Unset, expand

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterable, Sequence

    from ci_deploy_gate.circleci.model import TriggerRequest
    from ci_deploy_gate.context import Context
    from ci_deploy_gate.evaluate import Fire
    from ci_deploy_gate.model import CircleCISettings, Trigger


def plan(fires: Iterable[Fire], context: Context, settings: CircleCISettings) -> tuple[Target, ...]:
    """One target per place, in the order of the rules that first name it."""
    found: dict[tuple[object, ...], Target] = {}
    given_by: dict[tuple[tuple[object, ...], str], str] = {}  # (place, parameter) -> rule
    for fire in fires:
        target = _target(fire.rule, fire.trigger, context)
        place = (
            target.project,
            target.branch,
            target.tag,
            target.job,
            target.revision,
            target.token_env,
        )
        earlier = found.get(place)
        if earlier is None:
            found[place] = target
            given_by.update(((place, name), fire.rule) for name, _ in target.parameters)
            continue
        merged = dict(earlier.parameters)
        for name, value in target.parameters:
            # `true` and `1` differ as pipeline parameters, though Python calls them equal
            if name in merged and (type(merged[name]), merged[name]) != (type(value), value):
                raise ConfigError(
                    f"rules {given_by[place, name]!r} and {fire.rule!r} fire one "
                    f"{settings.api} request to {_where(target)} and give its parameter "
                    f"{name} two values ({merged[name]!r}, {value!r}): make them agree"
                )
            merged[name] = value
            given_by.setdefault((place, name), fire.rule)
        found[place] = earlier._replace(
            rules=(*earlier.rules, fire.rule), parameters=tuple(merged.items())
        )
    return tuple(found.values())


def _where(target: Target) -> str:
    project = target.project or "this project"
    ref = (
        f"branch {target.branch}"
        if target.branch
        else f"tag {target.tag}"
        if target.tag
        else "its default branch"
    )
    job = f", job {target.job}" if target.job else ""
    return f"{project} ({ref}{job})"


def _target(rule: str, trigger: Trigger, context: Context) -> Target:
    """The place `trigger` fires into on this build, its values filled in."""

    def filled(key: str, text: str) -> str:
        try:
            return expand(text, value)
        except Unset as unset:
            raise ConfigError(
                f"rule {rule!r}: trigger.{key}: ${{{unset.name}}} is not set on this build "
                f"({text!r} would be sent without it)"
            ) from None

    def value(name: str) -> str | None:
        if name.startswith("env."):
            return context.env.get(name[len("env.") :], "").strip() or None
        found = context.facts.get(name)
        return found if isinstance(found, str) else None

    branch = filled("branch", trigger.branch) if trigger.branch else None
    tag = filled("tag", trigger.tag) if trigger.tag else None
    if trigger.project is None and branch is None and tag is None:
        if not (context.branch or context.tag):
            raise ConfigError(
                "environment: neither CIRCLE_BRANCH nor CIRCLE_TAG is set: nothing to build"
            )
        branch, tag = context.branch, None if context.branch else context.tag
    if trigger.pin and not context.sha:
        raise ConfigError(
            f"environment: CIRCLE_SHA1 is not set: refusing an unpinned deploy of "
            f"{trigger.job or 'the pipeline'!r}"
        )
    parameters = tuple(
        (name, filled(f"parameters.{name}", item) if isinstance(item, str) else item)
        for name, item in trigger.parameters
    )
    return Target(
        rules=(rule,),
        job=trigger.job,
        project=trigger.project,
        branch=branch,
        tag=tag,
        revision=context.sha if trigger.pin else None,
        parameters=parameters,
        token_env=trigger.token_env,
    )


def build_trigger(
    *,
    api_url: str,
    context: Context,
    rule: str,
    trigger: Trigger,
    settings: CircleCISettings | None = None,
) -> TriggerRequest:
    """The request one rule's trigger makes on its own; ConfigError when it cannot be."""
    from ci_deploy_gate.circleci.trigger import request_for
    from ci_deploy_gate.evaluate import Fire
    from ci_deploy_gate.model import CircleCISettings

    settings = settings or CircleCISettings()
    (target,) = plan([Fire(rule, trigger)], context, settings)
    return request_for(api_url=api_url, context=context, target=target, settings=settings)


def requests_for(
    api_url: str, context: Context, fires: Sequence[Fire], settings: CircleCISettings
) -> list[TriggerRequest]:
    """Every request the matched rules make, one per target."""
    from ci_deploy_gate.circleci.trigger import request_for

    return [
        request_for(api_url=api_url, context=context, target=target, settings=settings)
        for target in plan(fires, context, settings)
    ]
