"""CircleCI's answers turned into errors: its own message, and what to do about it."""

from __future__ import annotations

from ci_deploy_gate.errors import ApiError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Mapping

    from ci_deploy_gate.circleci.model import Answer
    from ci_deploy_gate.circleci.transport import Client


def message(answer: Answer) -> str:
    """CircleCI's own words: `{"message": ...}`, sometimes JSON again inside the string."""
    from ci_deploy_gate.circleci.transport import parse_json

    payload = answer.payload
    found = payload.get("message") if isinstance(payload, dict) else None
    if isinstance(found, str):
        inner = parse_json(found)
        if isinstance(inner, dict) and isinstance(inner.get("message"), str):
            return str(inner["message"])
        return found
    return " ".join(answer.text.split())[:200] or "(empty answer)"


_HINTS = {
    400: "CircleCI rejected the request body",
    401: "the token in {token_env} was not accepted: it needs a personal API token; "
    "API v2 takes no project token",
    403: "the token in {token_env} may not trigger builds of this project",
    404: "CircleCI knows no such project or branch, or the token in {token_env} cannot see it",
    410: "CircleCI says this endpoint is gone",
    429: "CircleCI kept rate-limiting the gate until circleci.retries or circleci.deadline ran out",
}


def refusal(
    method: str,
    url: str,
    answer: Answer,
    token_env: str,
    *,
    internal_error: str | None,
    gone: str | None = None,
) -> ApiError:
    """The error for a final non-2xx answer: CircleCI's message and what to do about it.

    `internal_error` is the API version's INTERNAL_ERROR_HINT: what a 5xx saying
    "internal server error" means there, when it means something known; `gone` its
    GONE_HINT, what a 410 means there (v1.1's triggers are removed)."""
    said = message(answer)
    hint = _HINTS.get(answer.status, "CircleCI could not take the request").format(
        token_env=token_env
    )
    if gone and answer.status == 410:
        hint = gone
    if internal_error and answer.status >= 500 and "internal server error" in said.lower():
        hint = internal_error
    elif answer.status >= 500:
        hint = "CircleCI kept failing until circleci.retries or circleci.deadline ran out"
    return ApiError(
        f"{method} {url}: CircleCI answered {answer.status} {answer.reason}: {said} ({hint})"
    )


def glimpse(answer: Answer, secret: str | None = None) -> str:
    """What came back, briefly: status, content type and the first 80 characters of the
    body, whitespace folded; `secret` (the token) shown as the mask should it be echoed."""
    from ci_deploy_gate.credentials import MASK

    body = " ".join(answer.text.split())
    if secret:
        body = body.replace(secret, MASK)
    shown = f'"{body[:80]}..."' if len(body) > 80 else f'"{body}"' if body else "an empty body"
    kind = next((v for k, v in answer.headers.items() if k.lower() == "content-type"), None)
    return f"{answer.status} {answer.reason}, {kind or 'no Content-Type'}: {shown}"


def unreadable(
    method: str, url: str, answer: Answer, expected: str, meaning: str, secret: str | None
) -> ApiError:
    """An answer that is not the shape the gate reads (a login or proxy page, a message,
    broken JSON): it cannot tell what happened, and says so with what came back."""
    return ApiError(
        f"{method} {url}: CircleCI answered {glimpse(answer, secret)}, not {expected}; {meaning}"
    )


def deprecation(headers: Mapping[str, str]) -> str | None:
    """CircleCI's Sunset or Deprecation header, said aloud with the way out."""
    sunset = headers.get("Sunset")
    if sunset:
        return f"CircleCI retires this endpoint on {sunset}; set circleci.api: v2"
    if headers.get("Deprecation"):
        return "CircleCI marks this endpoint deprecated; set circleci.api: v2"
    return None


def read(
    client: Client, url: str, *, internal_error: str | None = None, gone: str | None = None
) -> Answer:
    """GET `url`: its answer when CircleCI took the request, else the refusal as an error,
    with the hints of the API version it belongs to."""
    answer = client.get(url)
    if not answer.ok:
        raise refusal(
            "GET", url, answer, client.token.name, internal_error=internal_error, gone=gone
        )
    return answer
