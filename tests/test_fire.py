"""Retries and exactly-once firing against a loopback CircleCI that injects faults.

The clock is a value (`circleci.retry.Clock`): waits advance it instead of sleeping, so a test
can ask "did the gate wait what Retry-After said?" without waiting. HTTP is real.
"""

from __future__ import annotations

import socket
from typing import Any

import pytest

from ci_deploy_gate.circleci.fire import fire
from ci_deploy_gate.circleci.model import TriggerRequest
from ci_deploy_gate.circleci.retry import Clock, Policy, backoff, retry_after
from ci_deploy_gate.circleci.transport import Client
from ci_deploy_gate.context import build_context
from ci_deploy_gate.credentials import Token
from ci_deploy_gate.errors import ApiError
from ci_deploy_gate.model import CircleCISettings, Trigger
from ci_deploy_gate.targets import build_trigger
from tests.conftest import SHA, TOKEN, FakeTime, circle_env
from tests.fake_circleci import FakeCircleCI

V1 = CircleCISettings(api="v1.1")
V2 = CircleCISettings(api="v2")


def client(
    fake_time: FakeTime, read_timeout: float = 30.0, log: list[str] | None = None, **policy: Any
) -> Client:
    return Client(
        Token(TOKEN, "CIRCLE_API_USER_TOKEN"),
        Policy(read_timeout=read_timeout, **policy),
        log=None if log is None else log.append,
        clock=fake_time.clock(),
    )


def request(url: str, settings: CircleCISettings = V1, **env: str | None) -> TriggerRequest:
    return build_trigger(
        api_url=url,
        context=build_context(circle_env(**env)),
        rule="production",
        trigger=Trigger("deploy_docker", ()),
        settings=settings,
    )


def posts(fake: FakeCircleCI) -> int:
    return len(fake.posts())


# --- retries -------------------------------------------------------------------------


def test_500_twice_then_created_fires_one_build(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.faults = ["500", "500"]
    fired = fire(client(fake_time), request(fake.url), V1, force=False)
    assert (fired.number, fired.how, fired.status) == (3925, "fired", 201)
    assert (posts(fake), len(fake.builds)) == (3, 1)
    assert fake_time.waits == [1.0, 2.0]  # full jitter's upper bound, doubling


def test_lasting_500_gives_up_with_circlecis_message(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    fake.faults = ["500"] * 4
    target = request(fake.url)
    with pytest.raises(ApiError) as caught:
        fire(client(fake_time), target, V1, force=False)
    assert str(caught.value) == (
        f"POST {target.url}: CircleCI answered 500 Internal Server Error: An internal server "
        "error occurred. (v1.1 job triggers fail this way on `version: 2.1` configs; "
        "set circleci.api: v2 to use pipeline triggers)"
    )
    assert (posts(fake), len(fake.builds)) == (4, 0)
    # before the first attempt, and after each unknown outcome: is there a build already?
    assert [seen.method for seen in fake.requests].count("GET") == 5


def test_429_waits_what_retry_after_says(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.faults = ["429:7"]
    log: list[str] = []
    fired = fire(client(fake_time, log=log), request(fake.url), V1, force=False)
    assert (fired.number, posts(fake), len(fake.builds)) == (3925, 2, 1)
    assert fake_time.waits == [7.0]
    assert "  waiting 7.0s before attempt 2 (CircleCI asked for 7s (Retry-After))" in log
    # 429 means CircleCI did not act on it: no lookup is needed before trying again
    assert [seen.method for seen in fake.requests] == ["GET", "POST", "POST"]


def test_retry_after_past_the_deadline_gives_up_at_once(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    fake.faults = ["429:120"]
    with pytest.raises(ApiError, match="answered 429 Too Many Requests: error"):
        fire(client(fake_time, deadline=60), request(fake.url), V1, force=False)
    assert (posts(fake), fake_time.waits) == (1, [])


def test_400_401_404_are_final(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    for status, words in (
        (400, "Unexpected argument(s): branchh (CircleCI rejected the request body)"),
        (401, "You must log in first. (the token in CIRCLE_API_USER_TOKEN was not accepted"),
        (404, "Not Found (CircleCI knows no such project or branch, or the token in"),
    ):
        fake.faults = [str(status)]
        before = posts(fake)
        with pytest.raises(ApiError) as caught:
            fire(client(fake_time), request(fake.url), V1, force=False)
        assert words in str(caught.value)
        assert TOKEN not in str(caught.value)
        assert posts(fake) == before + 1
    assert (fake.builds, fake_time.waits) == ([], [])


def test_410_names_the_removal_of_v1_1_and_migrate(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.faults = ["410"]
    with pytest.raises(ApiError) as caught:
        fire(client(fake_time), request(fake.url), V1, force=False)
    assert str(caught.value) == (
        f"POST {fake.url}/api/v1.1/project/github/acme/shop/tree/release: CircleCI answered "
        "410 Gone: error (CircleCI removed the API v1.1 trigger endpoints on 1 February 2027; "
        "run `python -m ci_deploy_gate migrate` to move to API v2 pipelines (circleci.api: v2))"
    )
    assert posts(fake) == 1


def test_unreachable_host_is_retried_then_says_nothing_was_sent(fake_time: FakeTime) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    target = request(f"http://127.0.0.1:{port}")
    with pytest.raises(ApiError) as caught:
        fire(client(fake_time), target, V1, force=False)
    message = str(caught.value)
    assert message.startswith(
        f"GET {target.lookup_url}: could not reach CircleCI in 4 attempts, nothing was sent: "
    )
    assert "refused" in message.lower()
    assert fake_time.waits == [1.0, 2.0, 4.0]


def test_retry_after_forms() -> None:
    assert retry_after("3") == 3.0
    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a date in the past
    assert retry_after("soon") is None
    assert retry_after(None) is None


def test_backoff_is_capped() -> None:
    full = Clock(random=lambda: 1.0)
    assert [backoff(Policy(), n, full) for n in (1, 2, 3, 6, 9)] == [1, 2, 4, 20, 20]
    assert backoff(Policy(), 3, Clock(random=lambda: 0.25)) == 1.0


# --- exactly once --------------------------------------------------------------------


def test_connection_cut_after_create_finds_the_build(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    fake.faults = ["drop-after-create"]
    fired = fire(client(fake_time), request(fake.url), V1, force=False)
    assert (fired.number, fired.how, fired.status) == (3925, "recovered", None)
    assert (posts(fake), len(fake.builds)) == (1, 1)


def test_read_timeout_after_create_finds_the_build(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.faults = ["slow-after-create:1.5"]
    fired = fire(client(fake_time, read_timeout=0.3), request(fake.url), V1, force=False)
    assert (fired.number, fired.how) == (3925, "recovered")
    assert (posts(fake), len(fake.builds)) == (1, 1)


def test_lost_answers_with_no_build_give_up_without_a_guess(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    fake.faults = ["slow:1.5", "slow:1.5"]
    target = request(fake.url)
    with pytest.raises(ApiError) as caught:
        fire(client(fake_time, read_timeout=0.3, attempts=2), target, V1, force=False)
    message = str(caught.value)
    assert message.startswith(f"POST {target.url}: sent, but no answer came back in 2 attempts: ")
    assert message.endswith(
        "; no build for it was found, but CircleCI may have created one: look at the "
        "project's builds before running the gate again"
    )
    assert (posts(fake), fake.builds) == (2, [])
    assert [seen.method for seen in fake.requests] == ["GET", "POST", "GET", "POST", "GET"]


def test_500_after_create_finds_the_build(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.faults = ["500-after-create"]
    fired = fire(client(fake_time), request(fake.url), V1, force=False)
    assert (fired.how, posts(fake), len(fake.builds)) == ("recovered", 1, 1)


def test_second_run_finds_the_first_build(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    first = fire(client(fake_time), request(fake.url), V1, force=False)
    second = fire(client(fake_time), request(fake.url), V1, force=False)
    assert (first.how, second.how) == ("fired", "already-triggered")
    assert second.number == first.number == 3925
    assert second.url == "https://circleci.com/gh/acme/shop/3925"
    assert posts(fake) == 1


def test_another_job_or_revision_is_not_the_same_deploy(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    fire(client(fake_time), request(fake.url), V1, force=False)
    other = fire(client(fake_time), request(fake.url, CIRCLE_SHA1="0" * 40), V1, force=False)
    assert (other.how, posts(fake)) == ("fired", 2)


def test_force_fires_again_and_never_mistakes_the_old_build(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    fire(client(fake_time), request(fake.url), V1, force=False)
    fake.faults = ["500"]  # unknown outcome: the old build must not be taken for the new one
    again = fire(client(fake_time), request(fake.url), V1, force=True)
    assert (again.how, again.number) == ("fired", 3926)
    assert (posts(fake), len(fake.builds)) == (3, 2)


# --- API v2 --------------------------------------------------------------------------


def test_v2_fires_a_pipeline_and_reads_it_back(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fired = fire(client(fake_time), request(fake.url, V2), V2, force=False)
    assert (fired.api, fired.number, fired.how, fired.state) == ("v2", 700, "fired", "created")
    assert fired.id == fake.pipelines[0]["id"]
    assert fired.url == f"{fake.url}/pipelines/github/acme/shop/700"
    assert fired.warnings == ()
    ((post),) = fake.posts()
    assert post.path == "/api/v2/project/gh/acme/shop/pipeline"
    assert post.headers["Content-Type"] == "application/json"
    assert post.headers["Circle-Token"] == TOKEN
    assert post.body == {
        "branch": "release",
        "parameters": {"deploy_job": "deploy_docker", "deploy_revision": SHA},
    }
    assert fake.requests[-1].path == f"/api/v2/pipeline/{fired.id}"


def test_v2_says_loudly_when_the_branch_moved_on(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.head = "f" * 40
    fired = fire(client(fake_time), request(fake.url, V2), V2, force=False)
    assert fired.warnings == (
        f"the branch release has moved on: pipeline #700 runs at {'f' * 40}, not {SHA}; "
        "the deploy job must check out the revision parameter, not the branch head",
    )


def test_v2_second_run_finds_the_pipeline_by_its_documented_fields(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    first = fire(client(fake_time), request(fake.url, V2), V2, force=False)
    second = fire(client(fake_time), request(fake.url, V2), V2, force=False)
    assert (second.how, second.number, second.id) == ("already-triggered", 700, first.id)
    assert posts(fake) == 1
    # the parameters are not reported: the job's workflow told it
    assert "deploy_job" not in str(fake.pipelines[0]["trigger_parameters"])
    assert f"/api/v2/pipeline/{first.id}/workflow" in [seen.path for seen in fake.requests]


def pipeline(fake: FakeCircleCI, *, trigger: str = "api", revision: str = SHA, **vcs: str) -> str:
    """A pipeline CircleCI already has, running the workflow deploy_docker."""
    made = fake._create_pipeline("gh/acme/shop", {"branch": "release"})
    made["trigger"]["type"] = trigger
    made["vcs"] = {"revision": revision, **(vcs or {"branch": "release"})}
    made["trigger_parameters"]["git"]["checkout_sha"] = revision
    fake.workflow_names[made["id"]] = ["deploy_docker"]
    return str(made["id"])


@pytest.mark.parametrize(
    ("made", "found"),
    [
        ({}, True),
        ({"trigger": "webhook"}, False),  # the push's own pipeline: not a deploy
        ({"revision": "e" * 40}, False),  # another commit
        ({"tag": "v1.0.0"}, False),  # another ref
    ],
)
def test_v2_an_earlier_deploy_is_an_api_pipeline_of_this_ref_and_revision(
    fake: FakeCircleCI, fake_time: FakeTime, made: dict[str, str], found: bool
) -> None:
    earlier = pipeline(fake, **made)
    fired = fire(client(fake_time), request(fake.url, V2), V2, force=False)
    assert (fired.how == "already-triggered", fired.id == earlier) == (found, found)
    assert posts(fake) == (0 if found else 1)


def test_v2_a_pipeline_running_another_jobs_workflow_is_not_this_deploy(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    fake.workflow_names[pipeline(fake)] = ["deploy_docs"]
    fired = fire(client(fake_time), request(fake.url, V2), V2, force=False)
    assert (fired.how, posts(fake)) == ("fired", 1)


def test_v2_reported_parameters_decide_when_present(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    fake.echo_parameters = True
    first = fire(client(fake_time), request(fake.url, V2), V2, force=False)
    fake.workflow_names[first.id or ""] = ["something-else"]  # not read: the parameters say
    second = fire(client(fake_time), request(fake.url, V2), V2, force=False)
    assert (second.how, posts(fake)) == ("already-triggered", 1)
    assert f"/api/v2/pipeline/{first.id}/workflow" not in [seen.path for seen in fake.requests]


def test_v2_tag_build_finds_the_tag_pipeline(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    tagged = request(fake.url, V2, CIRCLE_BRANCH="", CIRCLE_TAG="v1.0.0")
    earlier = pipeline(fake, tag="v1.0.0")
    fired = fire(client(fake_time), tagged, V2, force=False)
    assert (fired.how, fired.id, posts(fake)) == ("already-triggered", earlier, 0)


def test_v2_slug_takes_the_short_prefix(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    settings = V2._replace(project_slug="github/acme/shop")
    fire(client(fake_time), request(fake.url, settings), settings, force=False)
    assert [seen.path for seen in fake.posts()] == ["/api/v2/project/gh/acme/shop/pipeline"]


def test_v2_lost_answer_finds_the_pipeline(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    fake.faults = ["drop-after-create"]
    fired = fire(client(fake_time), request(fake.url, V2), V2, force=False)
    assert (fired.how, fired.number, posts(fake), len(fake.pipelines)) == (
        "recovered",
        700,
        1,
        1,
    )


def test_v2_run_endpoint_answering_200_created_nothing(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    settings = V2._replace(definition_id="5b1d7e5e-9a4c-4cde-8f0a-0d2c3b7e9a11")
    fake.faults = ["200"]
    with pytest.raises(ApiError, match="CircleCI created no pipeline: error"):
        fire(client(fake_time), request(fake.url, settings), settings, force=False)


def test_v2_a_candidate_whose_workflows_cannot_be_read_stops_the_gate(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    earlier = pipeline(fake)
    fake.workflow_read_status = 404
    with pytest.raises(ApiError) as caught:
        fire(client(fake_time), request(fake.url, V2), V2, force=False)
    assert str(caught.value).startswith(
        f"GET {fake.url}/api/v2/pipeline/{earlier}/workflow: CircleCI answered 404 Not Found"
    )
    assert posts(fake) == 0  # cannot tell whether it is deployed: not fired


def test_410_on_a_v2_endpoint_is_not_blamed_on_v1_1(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    fake.faults = ["410"]
    target = request(fake.url, V2)
    with pytest.raises(ApiError) as caught:
        fire(client(fake_time), target, V2, force=False)
    assert str(caught.value) == (
        f"POST {target.url}: CircleCI answered 410 Gone: error (CircleCI says this endpoint "
        "is gone)"
    )


# --- answers that cannot be read -------------------------------------------------------

LOGIN = '"<!DOCTYPE html> <html lang="en"> <head><title>Log in - CircleCI</title></head> <..."'


@pytest.mark.parametrize(
    ("settings", "fault", "shown"),
    [
        (V1, "html", f"200 OK, text/html; charset=utf-8: {LOGIN}, not a JSON list of builds"),
        (
            V1,
            "message",
            '200 OK, application/json;charset=utf-8: "{"message": "Project not found"}", not a '
            "JSON list of builds",
        ),
        (
            V1,
            "broken",
            '200 OK, application/json: "[{"build_num": 3925, "lifecycle": "fin", '
            "not a JSON list of builds",
        ),
        (
            V2,
            "html",
            f"200 OK, text/html; charset=utf-8: {LOGIN}, not a JSON object with an items list",
        ),
        (
            V2,
            "message",
            '200 OK, application/json;charset=utf-8: "{"message": "Project not found"}", not a '
            "JSON object with an items list",
        ),
    ],
)
def test_a_lookup_that_cannot_be_read_stops_the_gate_before_firing(
    fake: FakeCircleCI,
    fake_time: FakeTime,
    settings: CircleCISettings,
    fault: str,
    shown: str,
) -> None:
    fake.lookup_faults = [fault]
    target = request(fake.url, settings)
    with pytest.raises(ApiError) as caught:
        fire(client(fake_time), target, settings, force=False)
    assert str(caught.value) == (
        f"GET {target.lookup_url}: CircleCI answered {shown}; cannot tell whether "
        "deploy_docker already runs, so the gate does not fire"
    )
    assert posts(fake) == 0


def test_a_recheck_that_cannot_be_read_stops_without_a_guess(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    fake.faults = ["drop-after-create"]
    fake.lookup_faults = ["", "html"]  # the lookup before firing reads; the recheck does not
    target = request(fake.url)
    with pytest.raises(ApiError) as caught:
        fire(client(fake_time), target, V1, force=False)
    assert str(caught.value) == (
        f"POST {target.url}: no clear answer, and looking for the build it may have created "
        f"failed too (GET {target.lookup_url}: CircleCI answered 200 OK, text/html; "
        f"charset=utf-8: {LOGIN}, not a JSON list of builds; cannot tell whether deploy_docker "
        "already runs, so the gate does not fire); not trying again: look at the project's "
        "builds before running the gate again"
    )
    assert (posts(fake), len(fake.builds)) == (1, 1)


@pytest.mark.parametrize(
    ("settings", "fault", "expected"),
    [
        (
            V1,
            "html:200",
            "a created build (a JSON object with build_num); cannot tell whether "
            "CircleCI created one: look at the project's builds",
        ),
        (
            V1,
            "message:201",
            "a created build (a JSON object with build_num); cannot tell "
            "whether CircleCI created one: look at the project's builds",
        ),
        (
            V2,
            "html:201",
            "a created pipeline (a JSON object with id and number); cannot tell "
            "whether CircleCI created one: look at the project's pipelines",
        ),
        (
            V2,
            "broken:201",
            "a created pipeline (a JSON object with id and number); cannot tell "
            "whether CircleCI created one: look at the project's pipelines",
        ),
    ],
)
def test_a_trigger_answer_that_cannot_be_read_is_not_triggered(
    fake: FakeCircleCI,
    fake_time: FakeTime,
    settings: CircleCISettings,
    fault: str,
    expected: str,
) -> None:
    fake.faults = [fault]
    target = request(fake.url, settings)
    with pytest.raises(ApiError) as caught:
        fire(client(fake_time), target, settings, force=False)
    message = str(caught.value)
    kind, _, status = fault.partition(":")
    assert message.startswith(f"POST {target.url}: CircleCI answered {status} ")
    assert message.endswith(f", not {expected} before running the gate again")
    assert ("text/html" in message) == (kind == "html")
    assert (TOKEN not in message, posts(fake)) == (True, 1)


def test_a_token_echoed_in_an_unreadable_answer_is_masked(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    from tests import fake_circleci

    fake_circleci.UNREADABLE["echo"] = fake_circleci.Raw(f"bad token {TOKEN}", "text/plain")
    try:
        fake.lookup_faults = ["echo"]
        with pytest.raises(ApiError) as caught:
            fire(client(fake_time), request(fake.url), V1, force=False)
    finally:
        del fake_circleci.UNREADABLE["echo"]
    assert 'text/plain: "bad token ***", not a JSON list of builds' in str(caught.value)
    assert TOKEN not in str(caught.value)


# --- earlier deploys that failed -----------------------------------------------------


@pytest.mark.parametrize(
    ("lifecycle", "outcome", "said"),
    [
        ("finished", "failed", "failed"),
        ("finished", "canceled", "canceled"),
        ("finished", "infrastructure_fail", "infrastructure fail"),
        ("finished", "timedout", "timedout"),
        ("not_run", None, "not run"),
    ],
)
def test_a_failed_earlier_build_does_not_count_as_done(
    fake: FakeCircleCI, fake_time: FakeTime, lifecycle: str, outcome: str | None, said: str
) -> None:
    fire(client(fake_time), request(fake.url), V1, force=False)
    fake.builds[0].update(lifecycle=lifecycle, outcome=outcome)
    again = fire(client(fake_time), request(fake.url), V1, force=False)
    assert (again.how, again.number, posts(fake)) == ("fired", 3926, 2)
    assert again.warnings == (f"previous deploy of deploy_docker at {SHA}: {said}, build #3925",)


@pytest.mark.parametrize(
    ("lifecycle", "outcome"), [("finished", "success"), ("running", None), ("queued", None)]
)
def test_a_passed_or_running_earlier_build_is_already_triggered(
    fake: FakeCircleCI, fake_time: FakeTime, lifecycle: str, outcome: str | None
) -> None:
    fire(client(fake_time), request(fake.url), V1, force=False)
    fake.builds[0].update(lifecycle=lifecycle, outcome=outcome)
    again = fire(client(fake_time), request(fake.url), V1, force=False)
    assert (again.how, again.number, again.warnings, posts(fake)) == (
        "already-triggered",
        3925,
        (),
        1,
    )


def test_a_failed_build_beside_a_running_one_is_named_but_the_running_one_counts(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    fire(client(fake_time), request(fake.url), V1, force=False)
    fake.builds[0].update(lifecycle="finished", outcome="failed")
    fire(client(fake_time), request(fake.url), V1, force=False)
    third = fire(client(fake_time), request(fake.url), V1, force=False)
    assert (third.how, third.number, posts(fake)) == ("already-triggered", 3926, 2)
    assert third.warnings == (f"previous deploy of deploy_docker at {SHA}: failed, build #3925",)


@pytest.mark.parametrize(
    ("statuses", "said"),
    [
        (["failed"], "failed"),
        (["canceled"], "canceled"),
        (["error", "canceled"], "canceled, error"),
    ],
)
def test_v2_a_pipeline_whose_workflows_all_failed_does_not_count(
    fake: FakeCircleCI, fake_time: FakeTime, statuses: list[str], said: str
) -> None:
    pipeline(fake)
    fake.workflow_states = [statuses]
    fired = fire(client(fake_time), request(fake.url, V2), V2, force=False)
    assert (fired.how, fired.number, posts(fake)) == ("fired", 701, 1)
    assert fired.warnings == (f"previous deploy of deploy_docker at {SHA}: {said}, pipeline #700",)


@pytest.mark.parametrize("statuses", [["success"], ["running"], ["failed", "running"], ["on_hold"]])
def test_v2_a_pipeline_that_passed_or_still_runs_is_already_triggered(
    fake: FakeCircleCI, fake_time: FakeTime, statuses: list[str]
) -> None:
    earlier = pipeline(fake)
    fake.workflow_states = [statuses]
    fired = fire(client(fake_time), request(fake.url, V2), V2, force=False)
    assert (fired.how, fired.id, fired.warnings, posts(fake)) == (
        "already-triggered",
        earlier,
        (),
        0,
    )


# --- paging --------------------------------------------------------------------------


def builds(fake: FakeCircleCI, count: int, *, job: str = "test", revision: str = "e" * 40) -> None:
    """`count` builds CircleCI already has on release, newer than those before."""
    for _ in range(count):
        made = fake._create_build(
            ["", "api", "v1.1", "project", "github", "acme", "shop", "tree", "release"],
            {"revision": revision, "build_parameters": {"CIRCLE_JOB": job}},
        )
        made.update(lifecycle="finished", outcome="success")


def test_v1_pages_back_to_an_earlier_deploy(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    builds(fake, 1, job="build", revision=SHA)  # this build
    fire(client(fake_time), request(fake.url), V1, force=False)  # the deploy, build #3926
    builds(fake, 150)  # the branch moved on
    again = fire(client(fake_time), request(fake.url), V1, force=False)
    assert (again.how, again.number, posts(fake)) == ("already-triggered", 3926, 1)
    assert again.as_json()["lookup"] == {"pages": 2, "entries": 152}
    assert fake.requests[-1].path.endswith("/tree/release?limit=100&offset=100")


def test_v1_stops_after_the_page_that_ends_older_than_this_revision(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    builds(fake, 150)
    builds(fake, 1, job="build", revision=SHA)
    builds(fake, 99)
    fired = fire(client(fake_time), request(fake.url), V1, force=False)
    assert (fired.how, fired.looked, posts(fake)) == ("fired", (2, 200), 1)


def test_v1_ten_pages_without_getting_past_cannot_tell(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    builds(fake, 1001)
    target = request(fake.url)
    with pytest.raises(ApiError) as caught:
        fire(client(fake_time), target, V1, force=False)
    assert str(caught.value) == (
        f"GET {target.lookup_url}: read 10 pages (1000 builds) without getting back past "
        "this build's pipeline; cannot tell whether deploy_docker already runs, so the gate "
        "does not fire"
    )
    assert posts(fake) == 0


def pipelines(fake: FakeCircleCI, count: int, created: str, trigger: str = "webhook") -> str:
    """`count` pipelines on release created at `created`; the id of the last."""
    made: dict[str, Any] = {}
    for _ in range(count):
        made = fake._create_pipeline("gh/acme/shop", {"branch": "release"})
        made.update(created_at=created)
        made["trigger"]["type"] = trigger
    return str(made["id"])


def test_v2_pages_back_to_an_earlier_deploy(fake: FakeCircleCI, fake_time: FakeTime) -> None:
    own = pipelines(fake, 1, "2026-11-22T10:00:00Z")
    earlier = pipeline(fake)
    pipelines(fake, 30, "2026-11-22T10:05:00Z")
    target = request(fake.url, V2, CIRCLE_PIPELINE_ID=own)
    fired = fire(client(fake_time), target, V2, force=False)
    assert (fired.how, fired.id, posts(fake)) == ("already-triggered", earlier, 0)
    assert fired.as_json()["lookup"] == {"pages": 2, "entries": 32}
    assert "/api/v2/project/gh/acme/shop/pipeline?branch=release&page-token=20" in [
        seen.path for seen in fake.requests
    ]


def test_v2_stops_at_a_page_with_a_pipeline_older_than_this_one(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    pipelines(fake, 25, "2026-11-22T09:00:00Z")
    own = pipelines(fake, 1, "2026-11-22T10:00:00Z")
    pipelines(fake, 15, "2026-11-22T10:05:00Z")
    target = request(fake.url, V2, CIRCLE_PIPELINE_ID=own)
    fired = fire(client(fake_time), target, V2, force=False)
    assert (fired.how, fired.looked, posts(fake)) == ("fired", (1, 20), 1)
    assert not [seen for seen in fake.requests if "page-token" in seen.path]


def test_v2_ten_pages_without_getting_past_cannot_tell(
    fake: FakeCircleCI, fake_time: FakeTime
) -> None:
    own = pipelines(fake, 1, "2026-11-22T10:00:00Z")
    pipelines(fake, 200, "2026-11-22T10:05:00Z")
    target = request(fake.url, V2, CIRCLE_PIPELINE_ID=own)
    with pytest.raises(ApiError) as caught:
        fire(client(fake_time), target, V2, force=False)
    assert str(caught.value) == (
        f"GET {target.lookup_url}: read 10 pages (200 pipelines) without getting back past "
        "this build's pipeline; cannot tell whether deploy_docker already runs, so the gate "
        "does not fire"
    )
    assert posts(fake) == 0
