from __future__ import annotations

import pytest

from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.node import Node, read_node


@pytest.mark.parametrize(
    ("env", "node"),
    [
        ({}, Node(0, 1)),
        ({"CIRCLE_NODE_INDEX": ""}, Node(0, 1)),
        ({"CIRCLE_NODE_INDEX": "0", "CIRCLE_NODE_TOTAL": "4"}, Node(0, 4)),
        ({"CIRCLE_NODE_INDEX": "3", "CIRCLE_NODE_TOTAL": "4"}, Node(3, 4)),
        ({"CIRCLE_NODE_INDEX": "2"}, Node(2, None)),  # the total is unknown, not guessed
        ({"CIRCLE_NODE_INDEX": "0", "CIRCLE_NODE_TOTAL": ""}, Node(0, None)),
        ({"CIRCLE_NODE_TOTAL": "3"}, Node(0, 3)),
    ],
)
def test_read_node(env: dict[str, str], node: Node) -> None:
    assert read_node(env) == node


def test_only_node_zero_fires() -> None:
    assert [
        read_node({"CIRCLE_NODE_INDEX": str(i), "CIRCLE_NODE_TOTAL": "4"}).fires for i in range(4)
    ] == [True, False, False, False]


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"CIRCLE_NODE_INDEX": "one"},
            "environment: CIRCLE_NODE_INDEX='one' is not a whole number",
        ),
        ({"CIRCLE_NODE_INDEX": "-1"}, "environment: CIRCLE_NODE_INDEX='-1' is not a whole number"),
        (
            {"CIRCLE_NODE_INDEX": "4", "CIRCLE_NODE_TOTAL": "4"},
            "environment: CIRCLE_NODE_INDEX=4 does not fit CIRCLE_NODE_TOTAL=4",
        ),
    ],
)
def test_a_garbled_node_is_an_error_not_node_zero(env: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        read_node(env)
    assert str(caught.value) == message


def test_a_node_without_a_total_says_so() -> None:
    node = read_node({"CIRCLE_NODE_INDEX": "1"})
    assert node.skip_reason() == "node 1 (CIRCLE_NODE_TOTAL not set), only node 0 fires"
    assert node.as_json() == {"index": 1, "total": None}
    assert (node.fires, node.others) == (False, [])
    assert read_node({"CIRCLE_NODE_INDEX": "1", "CIRCLE_NODE_TOTAL": "3"}).others == [0, 2]
