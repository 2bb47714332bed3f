"""CircleCI API v1.1 job triggers: the request is built as a value, then sent.

A dry-run prints the same `TriggerRequest` a real run sends, so the two cannot drift.
requests is imported only in `send`: the skip and dry-run paths never pay for it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Mapping
from typing import Any, NamedTuple
from urllib.parse import quote

from ci_deploy_gate import __version__
from ci_deploy_gate.context import Context
from ci_deploy_gate.credentials import MASK, Token
from ci_deploy_gate.errors import ApiError, ConfigError
from ci_deploy_gate.rules import Trigger

USER_AGENT = f"ci-deploy-gate/{__version__}"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 30.0

# CircleCI's v1.1 answers EDN unless asked for JSON. The token goes in its own
# header (the spec's `circleToken` scheme), never in the URL where logs keep it.
BASE_HEADERS = (("Accept", "application/json"), ("Content-Type", "application/json"))
TOKEN_HEADER = "Circle-Token"


class TriggerRequest(NamedTuple):
    rule: str
    job: str
    revision: str
    branch: str | None
    tag: str | None
    method: str
    url: str
    body: Mapping[str, Any]

    def shown_headers(self) -> tuple[tuple[str, str], ...]:
        return (*BASE_HEADERS, (TOKEN_HEADER, MASK))

    def as_json(self) -> dict[str, Any]:
        return {"method": self.method, "url": self.url, "body": dict(self.body)}


class TriggerResponse(NamedTuple):
    status: int
    build_num: int | None
    build_url: str | None
    lifecycle: str | None
    deprecation: str | None  # CircleCI's Sunset/Deprecation headers, said aloud

    def as_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "build_num": self.build_num,
            "build_url": self.build_url,
            "lifecycle": self.lifecycle,
            "deprecation": self.deprecation,
        }


def build_trigger(*, api_url: str, context: Context, rule: str, trigger: Trigger) -> TriggerRequest:
    """The exact request for one job, pinned to CIRCLE_SHA1; ConfigError when it cannot be."""
    if not context.sha:
        raise ConfigError(
            f"environment: CIRCLE_SHA1 is not set: refusing an unpinned deploy of {trigger.job!r}"
        )
    missing = [
        name
        for name, value in (
            ("CIRCLE_PROJECT_USERNAME", context.org),
            ("CIRCLE_PROJECT_REPONAME", context.repo),
        )
        if not value
    ]
    if missing:
        raise ConfigError(f"environment: {' and '.join(missing)} not set: cannot name the project")
    if not context.vcs:
        shown = context.repository_url or "unset"
        raise ConfigError(
            f"environment: cannot tell GitHub from Bitbucket by CIRCLE_REPOSITORY_URL ({shown}); "
            "set circleci.vcs in the rules file"
        )
    project = "/".join(
        quote(part, safe="") for part in (context.vcs, context.org or "", context.repo or "")
    )
    base = f"{api_url.rstrip('/')}/api/v1.1/project/{project}"
    build_parameters = {"CIRCLE_JOB": trigger.job, **dict(trigger.parameters)}
    body: dict[str, Any]
    if context.branch:
        # A branch is one path segment: hotfix/x must travel as hotfix%2Fx.
        url = f"{base}/tree/{quote(context.branch, safe='')}"
        body = {"revision": context.sha, "build_parameters": build_parameters}
    elif context.tag:
        url = base
        body = {"tag": context.tag, "revision": context.sha, "build_parameters": build_parameters}
    else:
        raise ConfigError(
            "environment: neither CIRCLE_BRANCH nor CIRCLE_TAG is set: nothing to build"
        )
    return TriggerRequest(
        rule=rule,
        job=trigger.job,
        revision=context.sha,
        branch=context.branch,
        tag=None if context.branch else context.tag,
        method="POST",
        url=url,
        body=body,
    )


def send(
    request: TriggerRequest,
    token: Token,
    *,
    log: Callable[[str], None] | None = None,
    timeout: tuple[float, float] = (CONNECT_TIMEOUT, READ_TIMEOUT),
) -> TriggerResponse:
    """One attempt with connect and read timeouts; ApiError on any refusal or failure."""
    import requests

    headers = {**dict(BASE_HEADERS), "User-Agent": USER_AGENT, TOKEN_HEADER: token.reveal()}
    started = time.monotonic()
    try:
        response = requests.request(
            request.method,
            request.url,
            data=json.dumps(request.body),
            headers=headers,
            timeout=timeout,
            allow_redirects=False,
        )
    except requests.RequestException as exc:
        if _never_connected(exc):
            raise ApiError(
                f"{request.method} {request.url}: could not reach CircleCI "
                f"(nothing was sent): {_cause(exc)}"
            ) from None
        # Sent, then no complete answer: CircleCI may already have created the build.
        raise ApiError(
            f"{request.method} {request.url}: the request was sent but no answer came back "
            f"({_cause(exc)}); CircleCI may or may not have created the build: "
            "look at the project's builds before running again"
        ) from None
    elapsed = time.monotonic() - started
    if log is not None:
        log(f"{request.method} {request.url} -> {response.status_code} ({elapsed:.2f}s)")
    payload = _json(response.text)
    if not 200 <= response.status_code < 300:
        raise ApiError(
            _refusal(
                request, response.status_code, response.reason, payload, response.text, token.name
            )
        )
    summary = payload if isinstance(payload, dict) else {}
    build_num = summary.get("build_num")
    return TriggerResponse(
        status=response.status_code,
        build_num=build_num if isinstance(build_num, int) else None,
        build_url=_str(summary.get("build_url")) or response.headers.get("Location"),
        lifecycle=_str(summary.get("lifecycle")),
        deprecation=_deprecation(response.headers),
    )


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None


def _json(text: str) -> object:
    try:
        return json.loads(text)
    except ValueError:
        return None


def _chain(exc: BaseException) -> Iterator[BaseException]:
    """requests wraps urllib3 wraps the socket error: walk down to the root."""
    seen: BaseException | None = exc
    while seen is not None:
        yield seen
        reason = getattr(seen, "reason", None)
        first = seen.args[0] if seen.args else None
        seen = next(
            (e for e in (reason, seen.__cause__, first) if isinstance(e, BaseException)), None
        )


def _never_connected(exc: BaseException) -> bool:
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    return any(isinstance(e, (ConnectTimeoutError, NewConnectionError)) for e in _chain(exc))


def _cause(exc: BaseException) -> str:
    """The innermost reason (refused, unknown name), not urllib3's nested wrappers."""
    *_, root = _chain(exc)
    return str(root) or type(root).__name__


def _message(payload: object, text: str) -> str:
    """CircleCI's own words: `{"message": ...}`, sometimes JSON again inside the string."""
    message = payload.get("message") if isinstance(payload, dict) else None
    if isinstance(message, str):
        inner = _json(message)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        return message
    return " ".join(text.split())[:200] or "(empty answer)"


_HINTS = {
    400: "CircleCI rejected the request body",
    401: "the token in {token_env} was not accepted: it needs a personal API token",
    403: "the token in {token_env} may not trigger builds of this project",
    404: "CircleCI knows no such project or branch, or the token in {token_env} cannot see it",
    410: "CircleCI has retired this v1.1 endpoint; move to API v2 pipeline triggers",
}


def _refusal(
    request: TriggerRequest, status: int, reason: str, payload: object, text: str, token_env: str
) -> str:
    hint = _HINTS.get(status, "CircleCI could not take the request").format(token_env=token_env)
    if status >= 500 and "internal server error" in _message(payload, text).lower():
        hint = (
            "v1.1 job triggers fail this way on `version: 2.1` configs; "
            "those need API v2 pipeline triggers"
        )
    return (
        f"{request.method} {request.url}: CircleCI answered {status} {reason}: "
        f"{_message(payload, text)} ({hint})"
    )


def _deprecation(headers: Mapping[str, str]) -> str | None:
    sunset = headers.get("Sunset")
    if sunset:
        return f"CircleCI retires this endpoint on {sunset}; plan the move to API v2"
    if headers.get("Deprecation"):
        return "CircleCI marks this endpoint deprecated; plan the move to API v2"
    return None
