from __future__ import annotations

import json
import re
import socket
import time
from typing import Any

import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from ci_deploy_gate.circleci import TriggerRequest, build_trigger, send
from ci_deploy_gate.context import build_context
from ci_deploy_gate.credentials import Token
from ci_deploy_gate.errors import ApiError, ConfigError
from ci_deploy_gate.rules import Trigger
from tests.conftest import CREATED, NOT_FOUND, SHA, SHARED, TOKEN, circle_env, recorded


def trigger_for(api_url: str = "https://circleci.com", **env: str | None) -> TriggerRequest:
    return build_trigger(
        api_url=api_url,
        context=build_context(circle_env(**env)),
        rule="production",
        trigger=Trigger("deploy_docker", (("DEPLOY_ENV", "prod"),)),
    )


def test_branch_trigger_is_pinned_to_the_sha() -> None:
    request = trigger_for()
    assert request.method == "POST"
    assert request.url == "https://circleci.com/api/v1.1/project/github/acme/shop/tree/release"
    assert request.body == {
        "revision": SHA,
        "build_parameters": {"CIRCLE_JOB": "deploy_docker", "DEPLOY_ENV": "prod"},
    }
    assert (request.branch, request.tag, request.revision) == ("release", None, SHA)


def test_branch_with_slash_is_one_path_segment() -> None:
    request = trigger_for(CIRCLE_BRANCH="hotfix/login page")
    assert request.url.endswith("/tree/hotfix%2Flogin%20page")


def test_tag_build_posts_to_the_project_with_the_tag() -> None:
    request = trigger_for(CIRCLE_BRANCH="", CIRCLE_TAG="v1.2.0")
    assert request.url == "https://circleci.com/api/v1.1/project/github/acme/shop"
    assert request.body["tag"] == "v1.2.0"
    assert request.body["revision"] == SHA
    assert request.tag == "v1.2.0"


def test_bitbucket_project_path() -> None:
    request = trigger_for(CIRCLE_REPOSITORY_URL="git@bitbucket.org:acme/shop.git")
    assert "/project/bitbucket/acme/shop/" in request.url


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"CIRCLE_SHA1": None},
            "environment: CIRCLE_SHA1 is not set: refusing an unpinned deploy of 'deploy_docker'",
        ),
        (
            {"CIRCLE_PROJECT_REPONAME": ""},
            "environment: CIRCLE_PROJECT_REPONAME not set: cannot name the project",
        ),
        (
            {"CIRCLE_REPOSITORY_URL": "git@gitlab.com:acme/shop.git"},
            "environment: cannot tell GitHub from Bitbucket by CIRCLE_REPOSITORY_URL "
            "(git@gitlab.com:acme/shop.git); set circleci.vcs in the rules file",
        ),
        (
            {"CIRCLE_BRANCH": None},
            "environment: neither CIRCLE_BRANCH nor CIRCLE_TAG is set: nothing to build",
        ),
    ],
)
def test_request_that_cannot_be_built(env: dict[str, str | None], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        trigger_for(**env)
    assert str(caught.value) == message


# --- the spec ------------------------------------------------------------------------


def _spec_operation(method: str, url: str) -> dict[str, Any] | None:
    spec = json.loads((SHARED / "circleci-openapi-v1.1.json").read_text())
    base = spec["servers"][0]["url"]  # https://circleci.com/api/v1.1
    assert url.startswith(base)
    path = url[len(base) :]
    for template, operations in spec["paths"].items():
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", template) + "$"
        if re.match(pattern, path) and method.lower() in operations:
            return operations[method.lower()]  # type: ignore[no-any-return]
    return None


def test_branch_trigger_is_the_specs_trigger_operation() -> None:
    request = trigger_for(CIRCLE_BRANCH="feature/x")
    operation = _spec_operation(request.method, request.url)
    assert operation is not None
    assert operation["operationId"] == "triggerJobOnBranch"
    body_schema = operation["requestBody"]["content"]
    assert "application/json" in body_schema  # the body is JSON, as we send it
    assert dict(request.shown_headers())["Circle-Token"] == "***"  # the spec's circleToken header


def test_tag_trigger_path_is_a_spec_path() -> None:
    # The thin v1.1 spec lists GET on this path but lacks CircleCI's documented
    # "trigger a new build" POST on it; the path itself must still be the spec's.
    request = trigger_for(CIRCLE_BRANCH="", CIRCLE_TAG="v1.0.0")
    assert _spec_operation("GET", request.url) is not None
    assert _spec_operation(request.method, request.url) is None


# --- sending -------------------------------------------------------------------------


def _created() -> tuple[int, dict[str, str], str]:
    exchange = recorded(CREATED)["http_interactions"][0]["response"]
    headers = {name: values[0] for name, values in exchange["headers"].items()}
    headers.pop("Content-Length")
    return exchange["status"]["code"], headers, exchange["body"]["string"]


def test_send_reports_the_created_build(httpserver: HTTPServer) -> None:
    status, headers, body = _created()
    httpserver.expect_oneshot_request(
        "/api/v1.1/project/github/acme/shop/tree/release", method="POST"
    ).respond_with_data(body, status=status, headers=headers)
    response = send(trigger_for(httpserver.url_for("/")), Token(TOKEN, "CIRCLE_API_USER_TOKEN"))
    assert (response.status, response.build_num, response.lifecycle) == (201, 3925, "queued")
    assert response.build_url == "https://circleci.com/gh/mtchavez/circleci/3925"
    ((request, _),) = httpserver.log
    assert request.headers["Circle-Token"] == TOKEN
    assert request.headers["Accept"] == "application/json"
    assert request.headers["Content-Type"] == "application/json"
    assert request.headers["User-Agent"].startswith("ci-deploy-gate/")
    assert TOKEN not in request.url
    assert request.get_json() == {
        "revision": SHA,
        "build_parameters": {"CIRCLE_JOB": "deploy_docker", "DEPLOY_ENV": "prod"},
    }


def test_send_passes_on_a_sunset_warning(httpserver: HTTPServer) -> None:
    status, headers, body = _created()
    headers["Sunset"] = "Mon, 01 Feb 2027 00:00:00 GMT"
    httpserver.expect_oneshot_request(re.compile(".*"), method="POST").respond_with_data(
        body, status=status, headers=headers
    )
    response = send(trigger_for(httpserver.url_for("/")), Token(TOKEN, "T"))
    assert response.deprecation == (
        "CircleCI retires this endpoint on Mon, 01 Feb 2027 00:00:00 GMT; plan the move to API v2"
    )


def test_not_found_carries_circlecis_message_and_a_hint(httpserver: HTTPServer) -> None:
    exchange = recorded(NOT_FOUND)["http_interactions"][0]["response"]
    httpserver.expect_oneshot_request(re.compile(".*"), method="POST").respond_with_data(
        exchange["body"]["string"], status=404, content_type="application/json;charset=utf-8"
    )
    request = trigger_for(httpserver.url_for("/"))
    with pytest.raises(ApiError) as caught:
        send(request, Token(TOKEN, "CIRCLE_API_USER_TOKEN"))
    assert str(caught.value) == (
        f"POST {request.url}: CircleCI answered 404 NOT FOUND: Not Found (CircleCI knows no such "
        "project or branch, or the token in CIRCLE_API_USER_TOKEN cannot see it)"
    )


def test_unauthorized_names_the_token_variable_not_the_token(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(re.compile(".*"), method="POST").respond_with_json(
        {"message": "You must log in first."}, status=401
    )
    request = trigger_for(httpserver.url_for("/"))
    with pytest.raises(ApiError) as caught:
        send(request, Token(TOKEN, "MY_TOKEN"))
    assert str(caught.value) == (
        f"POST {request.url}: CircleCI answered 401 UNAUTHORIZED: You must log in first. "
        "(the token in MY_TOKEN was not accepted: it needs a personal API token)"
    )
    assert TOKEN not in str(caught.value)


def test_internal_error_on_a_21_config_hints_at_v2(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(re.compile(".*"), method="POST").respond_with_json(
        {"message": "An internal server error occurred."}, status=500
    )
    with pytest.raises(ApiError, match=r"those need API v2 pipeline triggers\)$"):
        send(trigger_for(httpserver.url_for("/")), Token(TOKEN, "T"))


def test_non_json_error_body_is_shown_briefly(httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(re.compile(".*"), method="POST").respond_with_data(
        "<html>\n<h1>502 Bad Gateway</h1>\n</html>", status=502
    )
    with pytest.raises(ApiError, match=r"answered 502 BAD GATEWAY: <html> <h1>502 Bad Gateway"):
        send(trigger_for(httpserver.url_for("/")), Token(TOKEN, "T"))


def test_unreachable_host_says_nothing_was_sent() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    request = trigger_for(f"http://127.0.0.1:{port}")
    with pytest.raises(ApiError) as caught:
        send(request, Token(TOKEN, "T"))
    assert str(caught.value).startswith(
        f"POST {request.url}: could not reach CircleCI (nothing was sent): "
    )
    assert "Connection refused" in str(caught.value)


def test_read_timeout_says_the_build_may_exist(httpserver: HTTPServer) -> None:
    def slow(_: Request) -> Response:
        time.sleep(1.0)
        return Response("{}", status=201)

    httpserver.expect_oneshot_request(re.compile(".*"), method="POST").respond_with_handler(slow)
    request = trigger_for(httpserver.url_for("/"))
    with pytest.raises(ApiError) as caught:
        send(request, Token(TOKEN, "T"), timeout=(2.0, 0.2))
    assert str(caught.value).startswith(
        f"POST {request.url}: the request was sent but no answer came back ("
    )
    assert str(caught.value).endswith(
        "CircleCI may or may not have created the build: look at the project's builds before "
        "running again"
    )
