"""Wait for the other parallel nodes before firing: what the deprecated `deploy` step did.

Node 0 reads its own job through API v2 (`parallel_runs`, one status per node) and fires
only once every other node has passed. A failed node, or the wait running out, stops it.
"""

from __future__ import annotations

from ci_deploy_gate.circleci import v2
from ci_deploy_gate.circleci.answers import read
from ci_deploy_gate.circleci.follow import poll
from ci_deploy_gate.circleci.model import Progress, text
from ci_deploy_gate.errors import ApiError, DeployFailed

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable

    from ci_deploy_gate.circleci.model import Answer
    from ci_deploy_gate.circleci.transport import Client
    from ci_deploy_gate.node import Node

# A node that ended any other way than `success` has failed the job.
ENDED_BADLY = frozenset(
    {
        "failed",
        "infrastructure_fail",
        "timedout",
        "canceled",
        "not_run",
        "terminated-unknown",
        "unauthorized",
        "error",
    }
)


def runs(answer: Answer) -> dict[int, str]:
    job = answer.payload if isinstance(answer.payload, dict) else {}
    found = job.get("parallel_runs")
    return {
        run["index"]: text(run.get("status")) or "unknown"
        for run in (found if isinstance(found, list) else [])
        if isinstance(run, dict) and isinstance(run.get("index"), int)
    }


def wait_for_siblings(
    client: Client,
    url: str,
    node: Node,
    *,
    timeout: float,
    show: Callable[[str], None],
) -> None:
    """Returns when every other node passed; DeployFailed when one failed or time ran out."""
    others = node.others
    failed: list[tuple[int, str]] = []

    def check() -> Progress:
        answer = read(client, url, internal_error=v2.INTERNAL_ERROR_HINT)
        statuses = runs(answer)
        failed[:] = [(i, statuses[i]) for i in others if statuses.get(i) in ENDED_BADLY]
        waiting = [i for i in others if statuses.get(i) != "success"]
        if failed:
            return Progress(_nodes(failed), done=True, ok=False)
        if not waiting:
            return Progress(f"all {len(others)} other nodes passed", done=True, ok=True)
        return Progress(
            f"waiting for {_nodes([(i, statuses.get(i, 'not started')) for i in waiting])}",
            done=False,
            ok=False,
        )

    try:
        final = poll(check, timeout=timeout, clock=client.clock, show=show, label="nodes")
    except ApiError as exc:
        raise ApiError(f"cannot tell whether the other nodes passed, not firing: {exc}") from None
    if final is None:
        raise DeployFailed(
            f"the other nodes did not all pass within {timeout:g}s (--wait-timeout): not firing"
        )
    if failed:
        raise DeployFailed(f"{_nodes(failed)} (of {node.total} nodes): not firing")


def _nodes(pairs: list[tuple[int, str]]) -> str:
    return ", ".join(f"node {index} {status.replace('_', ' ')}" for index, status in pairs)
