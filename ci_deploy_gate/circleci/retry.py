"""How long to wait before trying CircleCI again, and when to stop trying.

Exponential backoff with full jitter, so parallel jobs hit by the same outage do not
come back in step; CircleCI's `Retry-After` wins when it says more. The clock is a value
so tests can run a one-minute deadline in no time.
"""

from __future__ import annotations

import random
import time

from ci_deploy_gate.records import NamedTuple

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

# Transient answers: rate limited (429) or a server or gateway failing (5xx).
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


class Clock(NamedTuple):
    """The time as the gate sees it; tests pass one that advances instead of sleeping."""

    now: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    random: Callable[[], float] = random.random


class Policy(NamedTuple):
    """How often and how long to try: circleci.retries and circleci.deadline."""

    attempts: int = 4  # in all, the first included
    deadline: float = 60.0  # seconds, for one request and all its retries
    connect_timeout: float = 10.0
    read_timeout: float = 30.0
    base_delay: float = 1.0
    max_delay: float = 20.0


def backoff(policy: Policy, attempt: int, clock: Clock) -> float:
    """Full jitter: uniform in [0, min(max_delay, base_delay * 2**(attempt - 1))]."""
    return clock.random() * min(policy.max_delay, policy.base_delay * 2.0 ** (attempt - 1))


def retry_after(value: str | None) -> float | None:
    """Seconds CircleCI asked us to wait (`Retry-After`: seconds or an HTTP date), if any."""
    if not value:
        return None
    from urllib3.exceptions import InvalidHeader
    from urllib3.util.retry import Retry

    try:
        return float(Retry(0).parse_retry_after(value))
    except InvalidHeader:
        return None


def delay_before(
    policy: Policy, attempt: int, clock: Clock, asked: float | None
) -> tuple[float, str]:
    """The wait before attempt `attempt + 1`, and why (for --verbose)."""
    jittered = backoff(policy, attempt, clock)
    if asked is not None and asked >= jittered:
        return asked, f"CircleCI asked for {asked:g}s (Retry-After)"
    return jittered, "backoff"
