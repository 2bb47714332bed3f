from __future__ import annotations

import pytest

from ci_deploy_gate.context import build_context, vcs_from_url
from tests.conftest import SHA, circle_env


def test_facts_come_from_circle_variables() -> None:
    context = build_context(circle_env())
    assert (context.branch, context.tag, context.sha) == ("release", None, SHA)
    assert context.get("user") == "alice"
    assert context.get("job") == "build"
    assert context.get("project") == "acme/shop"
    assert context.get("pull_request") is False
    assert context.get("fork") is False
    assert (context.vcs, context.org, context.repo) == ("github", "acme", "shop")
    assert context.on_circleci is True


def test_empty_variables_are_unset() -> None:
    # CircleCI sets CIRCLE_BRANCH to "" on tag builds.
    context = build_context(circle_env(CIRCLE_BRANCH="", CIRCLE_TAG="v1.2.0", FLAG=""))
    assert context.branch is None
    assert context.tag == "v1.2.0"
    assert context.get("env.FLAG") is None


@pytest.mark.parametrize(
    ("variables", "pull_request", "fork"),
    [
        ({"CIRCLE_PULL_REQUEST": "https://github.com/acme/shop/pull/7"}, True, False),
        ({"CIRCLE_PR_NUMBER": "7"}, True, False),
        ({"CIRCLE_PR_NUMBER": "7", "CIRCLE_PR_USERNAME": "mallory"}, True, True),
        ({"CIRCLE_PR_REPONAME": "shop"}, False, True),
        ({"CIRCLE_PULL_REQUEST": ""}, False, False),
    ],
)
def test_pull_request_and_fork_facts(
    variables: dict[str, str], pull_request: bool, fork: bool
) -> None:
    context = build_context(circle_env(**variables))
    assert (context.get("pull_request"), context.get("fork")) == (pull_request, fork)


@pytest.mark.parametrize(
    ("url", "vcs"),
    [
        ("git@github.com:acme/shop.git", "github"),
        ("https://github.com/acme/shop", "github"),
        ("ssh://git@github.com/acme/shop.git", "github"),
        ("git@bitbucket.org:acme/shop.git", "bitbucket"),
        ("https://someone@bitbucket.org/acme/shop.git", "bitbucket"),
        ("git@gitlab.com:acme/shop.git", None),
        ("", None),
    ],
)
def test_vcs_from_repository_url(url: str, vcs: str | None) -> None:
    assert vcs_from_url(url) == vcs


def test_rules_file_vcs_wins_over_the_url() -> None:
    context = build_context(circle_env(), vcs="bitbucket")
    assert context.vcs == "bitbucket"


def test_context_is_not_changed_by_later_environment_changes() -> None:
    env = circle_env()
    context = build_context(env)
    env["DEPLOY"] = "yes"
    assert context.get("env.DEPLOY") is None
