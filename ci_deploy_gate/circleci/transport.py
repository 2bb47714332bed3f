"""One exchange with CircleCI, tried again only when that cannot fire a deploy twice.

A GET is retried on every transient failure. A POST is retried freely only when CircleCI
cannot have acted on it (the connection never opened, or 429). After a timeout, a dropped
connection or a 5xx the outcome is unknown: the caller's `recheck` looks for what the
POST would have created before another attempt is made, and a found build ends the loop.
requests is imported here, and this module only on paths that talk to CircleCI.
"""

from __future__ import annotations

import json

from ci_deploy_gate.circleci.host import is_loopback_url
from ci_deploy_gate.circleci.model import TOKEN_HEADER, Answer, Lost, Request
from ci_deploy_gate.circleci.retry import RETRY_STATUSES, Clock, Policy, delay_before, retry_after
from ci_deploy_gate.credentials import MASK
from ci_deploy_gate.errors import ApiError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from typing import TypeVar, Union

    from ci_deploy_gate.credentials import Token

    T = TypeVar("T")
    Recheck = Callable[[], Union[T, None]]

MIN_TIMEOUT = 1.0


class Client:
    """A requests session holding the token, the retry policy and the --verbose log.

    Requests carry their own headers with the token masked; the token goes in only
    as each one is sent."""

    def __init__(
        self,
        token: Token,
        policy: Policy,
        *,
        log: Callable[[str], None] | None = None,
        clock: Clock | None = None,
    ) -> None:
        import requests

        self.token = token
        self.policy = policy
        self.log = log
        self.clock = clock or Clock()
        self.session = requests.Session()

    def get(self, url: str) -> Answer:
        """Retried on every transient failure; the last answer when retries run out."""
        return self.call(Request("GET", url))

    def call(self, request: Request, *, recheck: Recheck[T] | None = None) -> Answer | T:
        """The first final answer, or what `recheck` found after an unknown outcome.

        Raises ApiError when no answer came back at all."""
        policy, clock = self.policy, self.clock
        started = clock.now()
        attempt = 0
        while True:
            attempt += 1
            remaining = policy.deadline - (clock.now() - started)
            outcome = self._attempt(request, attempt, remaining)
            if isinstance(outcome, Answer) and outcome.status not in RETRY_STATUSES:
                return outcome
            unknown = request.method != "GET" and (
                (isinstance(outcome, Lost) and outcome.sent)
                or (isinstance(outcome, Answer) and outcome.status != 429)
            )
            asked = (
                retry_after(outcome.headers.get("Retry-After"))
                if isinstance(outcome, Answer)
                else None
            )
            delay, why = delay_before(policy, attempt, clock, asked)
            left = policy.deadline - (clock.now() - started)
            last = attempt >= policy.attempts or delay >= left
            if unknown and recheck is None:
                last = True  # nothing can tell whether it worked: do not risk a second one
            if not last:
                self._note(f"  waiting {delay:.1f}s before attempt {attempt + 1} ({why})")
                clock.sleep(delay)
            if unknown and recheck is not None:
                if last:  # give CircleCI a moment to list what it may have created
                    clock.sleep(max(0.0, min(delay, left)))
                found = recheck()
                if found is not None:
                    return found
            if last:
                reason = (
                    f" (the next wait, {delay:.0f}s, would pass circleci.deadline)"
                    if attempt < policy.attempts and delay >= left
                    else ""
                )
                return self._give_up(request, outcome, attempt, reason, looked=recheck is not None)

    @staticmethod
    def _give_up(
        request: Request, outcome: Answer | Lost, attempts: int, reason: str, *, looked: bool
    ) -> Answer:
        """The last answer, for the caller to word with its hints; ApiError when none came."""
        if isinstance(outcome, Answer):
            return outcome
        where = f"{request.method} {request.url}"
        tries = f"{attempts} attempt{'s' if attempts > 1 else ''}{reason}"
        if not outcome.sent:
            raise ApiError(
                f"{where}: could not reach CircleCI in {tries}, nothing was sent: {outcome.cause}"
            )
        if request.method == "GET":
            raise ApiError(f"{where}: no answer from CircleCI in {tries}: {outcome.cause}")
        found = "no build for it was found, but " if looked else ""
        raise ApiError(
            f"{where}: sent, but no answer came back in {tries}: {outcome.cause}; "
            f"{found}CircleCI may have created one: look at the project's builds before "
            "running the gate again"
        )

    def _attempt(self, request: Request, attempt: int, remaining: float) -> Answer | Lost:
        import requests

        policy = self.policy
        budget = max(remaining, MIN_TIMEOUT)
        timeout = (min(policy.connect_timeout, budget), min(policy.read_timeout, budget))
        started = self.clock.now()
        label = f"{request.method} {request.url} (attempt {attempt}/{policy.attempts})"
        # A proxy from the environment (HTTP_PROXY) would see the token in clear on plain
        # http: a loopback host is reached directly, and only it may be plain http.
        self.session.trust_env = not is_loopback_url(request.url)
        try:
            response = self.session.request(
                request.method,
                request.url,
                data=None if request.body is None else json.dumps(request.body),
                headers=self._headers(request),
                timeout=timeout,
                allow_redirects=False,
            )
        except requests.RequestException as exc:
            lost = Lost(sent=not _never_connected(exc), cause=_cause(exc))
            self._note(f"{label} -> no answer: {lost.cause}")
            return lost
        elapsed = self.clock.now() - started
        self._note(f"{label} -> {response.status_code} {response.reason} ({elapsed:.2f}s)")
        return Answer(
            status=response.status_code,
            reason=response.reason or "",
            headers=dict(response.headers),
            payload=parse_json(response.text),
            text=response.text,
        )

    def _headers(self, request: Request) -> dict[str, str]:
        """The request's headers as sent: the real token in place of the mask."""
        return {
            name: self.token.reveal() if name == TOKEN_HEADER and value == MASK else value
            for name, value in request.headers
        }

    def _note(self, line: str) -> None:
        if self.log is not None:
            self.log(line)

    def close(self) -> None:
        self.session.close()


def parse_json(text: str) -> object:
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
        seen = next(
            (e for e in (reason, seen.__cause__, *seen.args) if isinstance(e, BaseException)),
            None,
        )


def _never_connected(exc: BaseException) -> bool:
    from urllib3.exceptions import ConnectTimeoutError, NewConnectionError

    return any(isinstance(e, (ConnectTimeoutError, NewConnectionError)) for e in _chain(exc))


def _cause(exc: BaseException) -> str:
    """The innermost reason (refused, unknown name), not urllib3's nested wrappers."""
    *_, root = _chain(exc)
    return str(root) or type(root).__name__
