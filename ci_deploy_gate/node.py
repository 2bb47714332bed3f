"""Which parallel node this is.

Under `parallelism: N` every node runs the deploy step; only node 0 may fire.
This module imports nothing so the node-1 skip costs about an interpreter start.
"""

from __future__ import annotations

from ci_deploy_gate.errors import ConfigError

TYPE_CHECKING = False  # not `from typing`: typing alone costs more than this whole path
if TYPE_CHECKING:
    from collections.abc import Mapping


class Node:
    """This container's place among the job's parallel nodes (0-based); `total` None when
    CIRCLE_NODE_INDEX is set without CIRCLE_NODE_TOTAL."""

    __slots__ = ("index", "total")

    def __init__(self, index: int, total: int | None) -> None:
        self.index = index
        self.total = total

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Node) and (self.index, self.total) == (other.index, other.total)

    def __hash__(self) -> int:
        return hash((self.index, self.total))

    def __repr__(self) -> str:
        return f"Node(index={self.index}, total={self.total})"

    @property
    def fires(self) -> bool:
        return self.index == 0

    @property
    def others(self) -> list[int]:
        """The other nodes of the job; none known when the total is unknown."""
        return [i for i in range(self.total or 0) if i != self.index]

    def skip_reason(self) -> str:
        if self.total is None:
            return f"node {self.index} (CIRCLE_NODE_TOTAL not set), only node 0 fires"
        return f"node {self.index} of {self.total}, only node 0 fires"

    def as_json(self) -> dict[str, int | None]:
        return {"index": self.index, "total": self.total}


def _number(environ: Mapping[str, str], name: str) -> int | None:
    raw = environ.get(name, "").strip()
    if not raw:
        return None
    if not raw.isdigit():
        raise ConfigError(f"environment: {name}={raw!r} is not a whole number")
    return int(raw)


def read_node(environ: Mapping[str, str]) -> Node:
    """Unset or empty CIRCLE_NODE_INDEX means node 0 (of 1, without CIRCLE_NODE_TOTAL);
    a set index without a total leaves the total unknown, not guessed; garbage is an
    error, not node 0."""
    index = _number(environ, "CIRCLE_NODE_INDEX")
    total = _number(environ, "CIRCLE_NODE_TOTAL")
    if index is None:
        index, total = 0, 1 if total is None else total
    if total is None:
        return Node(index, None)
    if total < 1 or index >= total:
        raise ConfigError(
            f"environment: CIRCLE_NODE_INDEX={index} does not fit CIRCLE_NODE_TOTAL={total}"
        )
    return Node(index, total)
