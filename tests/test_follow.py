"""--wait and --wait-for-nodes against the loopback CircleCI, on a clock that does not sleep."""

from __future__ import annotations

import pytest

from ci_deploy_gate.circleci.fire import fire
from ci_deploy_gate.circleci.follow import follow
from ci_deploy_gate.circleci.siblings import wait_for_siblings
from ci_deploy_gate.circleci.v2 import job_url
from ci_deploy_gate.errors import DeployFailed
from ci_deploy_gate.model import CircleCISettings
from ci_deploy_gate.node import Node
from tests.conftest import FakeTime
from tests.fake_circleci import FakeCircleCI
from tests.test_fire import V1, V2, client, request


def fired_and_followed(
    fake: FakeCircleCI, fake_time: FakeTime, settings: CircleCISettings, timeout: float = 600
) -> tuple[str | None, list[str]]:
    shown: list[str] = []
    target = request(fake.url, settings)
    gate = client(fake_time)
    fired = fire(gate, target, settings, force=False)
    followed = follow(gate, target, fired, timeout=timeout, show=shown.append)
    return followed.result, shown


def test_v1_build_followed_to_success(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.build_states = [
        ("queued", None),
        ("running", None),
        ("running", None),
        ("finished", "success"),
    ]
    result, shown = fired_and_followed(fake, fake_time, V1)
    assert result == "success"
    assert shown == [
        "deploy_docker build #3925: queued",
        "deploy_docker build #3925: running",
        "deploy_docker build #3925: success",
    ]
    assert fake.requests[-1].path == "/api/v1.1/project/github/acme/shop/3925"
    assert fake_time.waits == [2.0, 3.0, 4.5]  # polls back off


def test_v1_build_failure_is_the_result(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.build_states = [("running", None), ("finished", "failed")]
    assert fired_and_followed(fake, fake_time, V1)[0] == "failed"


def test_v1_build_not_run(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.build_states = [("not_run", None)]
    assert fired_and_followed(fake, fake_time, V1)[0] == "not run"


def test_v1_wait_times_out(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.build_states = [("running", None)]
    result, shown = fired_and_followed(fake, fake_time, V1, timeout=60)
    assert result == "timed out after 60s"
    assert shown == ["deploy_docker build #3925: running"]
    assert sum(fake_time.waits) == 60


def test_v2_pipeline_followed_to_success(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.workflow_states = [[], ["running"], ["on_hold"], ["success"]]
    result, shown = fired_and_followed(fake, fake_time, V2)
    assert result == "success"
    assert shown == [
        "deploy_docker pipeline #700: no workflow yet",
        "deploy_docker pipeline #700: deploy_docker running",
        "deploy_docker pipeline #700: deploy_docker on hold",
        "deploy_docker pipeline #700: deploy_docker success",
    ]
    assert fake.requests[-1].path == f"/api/v2/pipeline/{fake.pipelines[0]['id']}/workflow"


def test_v2_one_failing_workflow_fails_the_deploy(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.workflow_states = [["running", "running"], ["success", "failing"]]
    assert (
        fired_and_followed(fake, fake_time, V2)[0]
        == "deploy_docker success, deploy_docker-1 failing"
    )


def test_v2_canceled_is_a_failure(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.workflow_states = [["canceled"]]
    assert fired_and_followed(fake, fake_time, V2)[0] == "deploy_docker canceled"


def test_v2_wait_times_out_when_no_workflow_runs(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.workflow_states = [[]]  # filters left the pipeline empty
    result, shown = fired_and_followed(fake, fake_time, V2, timeout=30)
    assert result == "timed out after 30s"
    assert shown == ["deploy_docker pipeline #700: no workflow yet"]


# --- waiting for the sibling nodes ---------------------------------------------------


def wait_on(fake: FakeCircleCI, fake_time: FakeTime, node: Node, timeout: float = 600) -> list[str]:
    shown: list[str] = []
    url = job_url(fake.url, "gh/acme/shop", "1234")
    wait_for_siblings(client(fake_time), url, node, timeout=timeout, show=shown.append)
    return shown


def test_node_0_fires_once_every_other_node_passed(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.parallel_runs = [
        ["running", "running", "queued"],
        ["running", "success", "running"],
        ["running", "success", "success"],
    ]
    shown = wait_on(fake, fake_time, Node(0, 3))
    assert shown == [
        "nodes: waiting for node 1 running, node 2 queued",
        "nodes: waiting for node 2 running",
        "nodes: all 2 other nodes passed",
    ]
    assert fake.requests[-1].path == "/api/v2/project/gh/acme/shop/job/1234"


def test_node_0_refuses_when_a_node_failed(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.parallel_runs = [
        ["running", "success", "running", "running"],
        ["running", "success", "failed", "running"],
    ]
    with pytest.raises(DeployFailed) as caught:
        wait_on(fake, fake_time, Node(0, 4))
    assert str(caught.value) == "node 2 failed (of 4 nodes): not firing"
    assert fake.posts() == []


def test_node_0_refuses_when_the_wait_runs_out(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.parallel_runs = [["running", "running"]]
    with pytest.raises(DeployFailed, match=r"did not all pass within 20s \(--wait-timeout\)"):
        wait_on(fake, fake_time, Node(0, 2), timeout=20)


def test_a_node_missing_from_parallel_runs_is_waited_for(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    fake.parallel_runs = [["running"], ["running", "success"]]
    assert wait_on(fake, fake_time, Node(0, 2))[0] == "nodes: waiting for node 1 not started"
