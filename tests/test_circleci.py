from __future__ import annotations

import json
import re
from typing import Any

import pytest

from ci_deploy_gate.circleci.model import TriggerRequest
from ci_deploy_gate.context import build_context
from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.model import CircleCISettings, Trigger
from ci_deploy_gate.targets import build_trigger
from tests.conftest import DATA, SHA, circle_env

V1 = CircleCISettings(api="v1.1")
V2 = CircleCISettings(api="v2")
DEFINITION = "5b1d7e5e-9a4c-4cde-8f0a-0d2c3b7e9a11"


def trigger_for(
    api_url: str = "https://circleci.com",
    settings: CircleCISettings | None = None,
    **env: str | None,
) -> TriggerRequest:
    return build_trigger(
        api_url=api_url,
        context=build_context(circle_env(**env)),
        rule="production",
        trigger=Trigger("deploy_docker", (("DEPLOY_ENV", "prod"), ("REPLICAS", 3))),
        settings=settings or V1,
    )


def test_branch_trigger_is_pinned_to_the_sha() -> None:
    request = trigger_for()
    assert request.method == "POST"
    assert request.url == "https://circleci.com/api/v1.1/project/github/acme/shop/tree/release"
    assert request.body == {
        "revision": SHA,
        "build_parameters": {"CIRCLE_JOB": "deploy_docker", "DEPLOY_ENV": "prod", "REPLICAS": "3"},
    }
    assert (request.branch, request.tag, request.revision) == ("release", None, SHA)
    assert request.lookup_url == f"{request.url}?limit=100"


def test_branch_with_slash_is_one_path_segment() -> None:
    request = trigger_for(CIRCLE_BRANCH="hotfix/login page")
    assert request.url.endswith("/tree/hotfix%2Flogin%20page")


def test_tag_build_posts_to_the_project_with_the_tag() -> None:
    request = trigger_for(CIRCLE_BRANCH="", CIRCLE_TAG="v1.2.0")
    assert request.url == "https://circleci.com/api/v1.1/project/github/acme/shop"
    assert request.body["tag"] == "v1.2.0"
    assert request.body["revision"] == SHA
    assert request.tag == "v1.2.0"
    assert request.lookup_url == f"{request.url}?limit=100"  # the project's recent builds


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
            "environment: CIRCLE_PROJECT_REPONAME not set: cannot name the project "
            "(a local dry-run reads them from the checkout's origin remote; "
            "or pass --set CIRCLE_PROJECT_REPONAME=...)",
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


def _spec_operation(method: str, url: str, version: str = "v1.1") -> dict[str, Any] | None:
    spec = json.loads((DATA / f"circleci-openapi-{version}.json").read_text())
    base = spec["servers"][0]["url"]  # https://circleci.com/api/v1.1 or /api/v2
    assert url.startswith(base)
    path = url[len(base) :].split("?")[0]
    for template, operations in spec["paths"].items():
        # a v2 project slug is three segments (gh/acme/shop), as CircleCI takes it
        slugged = template.replace("{project-slug}", "[^/]+/[^/]+/[^/]+")
        pattern = "^" + re.sub(r"\{[^}]+\}", "[^/]+", slugged) + "$"
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
    assert dict(request.headers)["Circle-Token"] == "***"  # the spec's circleToken header


def test_tag_trigger_path_is_a_spec_path() -> None:
    # The thin v1.1 spec lists GET on this path but lacks CircleCI's documented
    # "trigger a new build" POST on it; the path itself must still be the spec's.
    request = trigger_for(CIRCLE_BRANCH="", CIRCLE_TAG="v1.0.0")
    assert _spec_operation("GET", request.url) is not None
    assert _spec_operation(request.method, request.url) is None


# --- API v2 pipelines ---------------------------------------------------------------


def test_v2_pipeline_carries_the_job_and_revision_as_parameters() -> None:
    request = trigger_for(settings=V2)
    assert (request.api, request.method) == ("v2", "POST")
    assert request.url == "https://circleci.com/api/v2/project/gh/acme/shop/pipeline"
    assert request.body == {
        "branch": "release",
        "parameters": {
            "DEPLOY_ENV": "prod",
            "REPLICAS": 3,
            "deploy_job": "deploy_docker",
            "deploy_revision": SHA,
        },
    }
    assert request.lookup_url == (
        "https://circleci.com/api/v2/project/gh/acme/shop/pipeline?branch=release"
    )


def test_v2_parameter_names_and_slug_come_from_the_settings() -> None:
    settings = V2._replace(
        job_parameter="job", revision_parameter="sha", project_slug="circleci/o-1/p-2"
    )
    request = trigger_for(settings=settings, CIRCLE_BRANCH="", CIRCLE_TAG="v2.0.0")
    assert request.url == "https://circleci.com/api/v2/project/circleci/o-1/p-2/pipeline"
    assert request.body["tag"] == "v2.0.0"
    assert "branch" not in request.body
    assert (request.body["parameters"]["job"], request.body["parameters"]["sha"]) == (
        "deploy_docker",
        SHA,
    )
    assert request.lookup_url.endswith("/project/circleci/o-1/p-2/pipeline")  # no branch filter


def test_v2_definition_id_uses_the_run_endpoint() -> None:
    request = trigger_for(settings=V2._replace(definition_id=DEFINITION))
    assert request.url == "https://circleci.com/api/v2/project/gh/acme/shop/pipeline/run"
    assert request.body == {
        "definition_id": DEFINITION,
        "config": {"branch": "release"},
        "checkout": {"branch": "release"},
        "parameters": {
            "DEPLOY_ENV": "prod",
            "REPLICAS": 3,
            "deploy_job": "deploy_docker",
            "deploy_revision": SHA,
        },
    }


def _validate(schema: dict[str, Any], value: Any, spec: dict[str, Any], where: str) -> None:
    """The subset of OpenAPI schema checking these bodies need: types, properties,
    additionalProperties, anyOf and $ref."""
    if "$ref" in schema:
        _, kind, name = schema["$ref"].rsplit("/", 2)
        schema = spec["components"][kind][name]
    if "anyOf" in schema:
        errors = []
        for option in schema["anyOf"]:
            try:
                _validate(option, value, spec, where)
                return
            except AssertionError as exc:
                errors.append(str(exc))
        raise AssertionError(f"{where}: {value!r} matches no anyOf option: {errors}")
    kinds = {"object": dict, "string": str, "integer": int, "boolean": bool}
    expected = schema.get("type")
    if expected:
        assert isinstance(value, kinds[expected]), f"{where}: {value!r} is not {expected}"
        if expected == "integer":
            assert not isinstance(value, bool), f"{where}: {value!r} is not an integer"
    if isinstance(value, dict):
        properties = schema.get("properties", {})
        extra = schema.get("additionalProperties", True)
        for key, item in value.items():
            if key in properties:
                _validate(properties[key], item, spec, f"{where}.{key}")
            else:
                assert extra is not False, f"{where}: {key!r} is not allowed"
                if isinstance(extra, dict):
                    _validate(extra, item, spec, f"{where}.{key}")


@pytest.mark.parametrize(
    ("settings", "env", "operation_id"),
    [
        (V2, {}, "triggerPipeline"),
        (V2, {"CIRCLE_BRANCH": "", "CIRCLE_TAG": "v1.0.0"}, "triggerPipeline"),
        (V2._replace(definition_id=DEFINITION), {}, "triggerPipelineRun"),
        (
            V2._replace(definition_id=DEFINITION),
            {"CIRCLE_BRANCH": "", "CIRCLE_TAG": "v1.0.0"},
            "triggerPipelineRun",
        ),
    ],
)
def test_v2_trigger_is_a_spec_operation_with_a_valid_body(
    settings: CircleCISettings, env: dict[str, str], operation_id: str
) -> None:
    request = trigger_for(settings=settings, **env)
    operation = _spec_operation(request.method, request.url, "v2")
    assert operation is not None
    assert operation["operationId"] == operation_id
    spec = json.loads((DATA / "circleci-openapi-v2.json").read_text())
    schema = operation["requestBody"]["content"]["application/json"]["schema"]
    _validate(schema, dict(request.body), spec, "body")
    assert _spec_operation("GET", request.lookup_url, "v2") is not None


def test_v2_reads_are_spec_operations() -> None:
    from ci_deploy_gate.circleci import v2
    from ci_deploy_gate.circleci.model import Fired

    request = trigger_for(settings=V2)
    fired = Fired(
        api="v2", kind="pipeline", number=700, url=None, id="5b1d7e5e-9a4c-4cde-8f0a-0d2c3b7e9a11"
    )
    reads = {
        v2.pipeline_url(request, fired): "getPipelineById",
        v2.progress_url(request, fired): "listWorkflowsByPipelineId",
        v2.job_url("https://circleci.com", request.slug, "77"): "getJobDetails",
        request.lookup_url: "listPipelinesForProject",
    }
    for url, operation_id in reads.items():
        operation = _spec_operation("GET", url, "v2")
        assert operation is not None, url
        assert operation["operationId"] == operation_id
