"""CircleCI's logic statements, three-valued: table-driven."""

from __future__ import annotations

import pytest

from ci_deploy_gate.circleci_logic import truth
from ci_deploy_gate.yamllines import load_yaml

JOB = "<< pipeline.parameters.deploy_job >>"
BRANCH = "{equal: [main, << pipeline.git.branch >>]}"
KNOWN = {"pipeline.parameters.deploy_job": "deploy_docker", "pipeline.parameters.n": 0}


@pytest.mark.parametrize(
    ("statement", "expected"),
    [
        (f"equal: [deploy_docker, {JOB}]", True),
        (f'equal: ["", {JOB}]', False),
        (f"not: {{equal: [deploy_docker, {JOB}]}}", False),
        (
            f"and: [{{equal: [deploy_docker, {JOB}]}}, {BRANCH}]",
            None,
        ),
        (f"and: [{{equal: [x, {JOB}]}}, {BRANCH}]", False),
        (f"or: [{{equal: [deploy_docker, {JOB}]}}, << pipeline.git.branch >>]", True),
        (f"matches: {{pattern: '^deploy_.+$', value: {JOB}}}", True),
        ("matches: {pattern: 'deploy', value: deploy_docker}", False),  # the whole value
        (f"equal: [x-deploy_docker, 'x-{JOB}']", True),  # inside text
        ("equal: [0, << pipeline.parameters.n >>]", True),
        ("equal: [false, << pipeline.parameters.n >>]", False),  # false is not 0
        ("and: []", False),
        ("unknown_operator: [a]", None),
    ],
)
def test_statements(statement: str, expected: bool | None) -> None:
    assert truth(load_yaml(statement, "t.yml"), KNOWN) is expected


@pytest.mark.parametrize(
    ("literal", "expected"),
    [
        (JOB, True),
        ("<< pipeline.parameters.n >>", False),
        ("''", False),
        ("<< pipeline.git.tag >>", None),
    ],
)
def test_literals_are_truthy_as_circleci_says(literal: str, expected: bool | None) -> None:
    assert truth(load_yaml(literal, "t.yml"), KNOWN) is expected
