"""Trigger targets: another project, its branch or default branch, pins, tokens,
templated values and one request per target, on the shapes real configs fire."""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.rules import parse_rules
from tests.conftest import SHA, TOKEN, circle_env, run_gate, write
from tests.fake_circleci import FakeCircleCI

DOCS_TOKEN = "d0cs-t0ken-5ecret-0123456789abcdef0123"


def errors_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_rules(text, "gate.yml")
    return str(caught.value).splitlines()


def gate(cwd: Path, rules: str, *args: str, **env: str | None) -> tuple[int, dict[str, Any], str]:
    """A real run (`--json`) with `rules`; (exit code, report, stderr)."""
    write(cwd / ".circleci" / "deploy-gate.yml", rules)
    result = run_gate(["--json", *args], circle_env(**env), cwd)
    assert "Traceback" not in result.stderr, result.stderr
    assert TOKEN not in result.stdout + result.stderr
    assert DOCS_TOKEN not in result.stdout + result.stderr
    doc = json.loads(result.stdout) if result.stdout.strip() else {}
    return result.returncode, doc, result.stderr


# --- the shapes from real configs ------------------------------------------------------

DOCS = """\
rules:
  - name: docs
    if: branch is release
    trigger:
      project: gh/acme/docs
      branch: master
      token_env: DOCS_TOKEN
      job: publish
"""


def test_a_docs_trigger_into_another_project_on_its_master_unpinned_with_its_token(
    tmp_path: Path, fake: FakeCircleCI
) -> None:
    ours = fake._create_pipeline("gh/acme/shop", {"branch": "release"})
    env = {"DOCS_TOKEN": DOCS_TOKEN, "CIRCLE_PIPELINE_ID": ours["id"]}
    code, doc, _ = gate(tmp_path, DOCS, "--api-url", fake.url, **env)
    ((post),) = fake.posts()
    assert (code, post.path) == (0, "/api/v2/project/gh/acme/docs/pipeline")
    assert post.body == {"branch": "master", "parameters": {"deploy_job": "publish"}}
    assert post.headers["Circle-Token"] == DOCS_TOKEN
    assert doc["triggers"][0]["revision"] is None
    assert doc["decision"] == "triggered"


def test_an_unpinned_trigger_counts_as_done_once_one_ran_since_this_pipeline(
    tmp_path: Path, fake: FakeCircleCI
) -> None:
    fake.now = "2026-11-22T09:00:00Z"
    ours = fake._create_pipeline("gh/acme/shop", {"branch": "release"})
    fake.now = "2026-11-22T08:00:00Z"  # before this build: another push's docs
    fake._create_pipeline("gh/acme/docs", {"branch": "master"})
    run = ("--api-url", fake.url)
    env = {"DOCS_TOKEN": DOCS_TOKEN, "CIRCLE_PIPELINE_ID": ours["id"]}
    fake.now = "2026-11-22T09:05:00Z"
    assert gate(tmp_path, DOCS, *run, **env)[1]["decision"] == "triggered"
    code, doc, _ = gate(tmp_path, DOCS, *run, **env)  # a rerun of this build
    assert (code, doc["decision"]) == (0, "already-triggered")
    assert len(fake.posts()) == 1


def test_an_unpinned_trigger_without_the_pipeline_id_cannot_tell_and_does_not_fire(
    tmp_path: Path, fake: FakeCircleCI
) -> None:
    code, _, stderr = gate(tmp_path, DOCS, "--api-url", fake.url, DOCS_TOKEN=DOCS_TOKEN)
    assert (code, fake.posts()) == (2, [])
    assert stderr.splitlines()[-1] == (
        "ci-deploy-gate: error: environment: CIRCLE_PIPELINE_ID is not set: the unpinned "
        "trigger of rule 'docs' counts as done once something was triggered through the API "
        "since this build's pipeline began, and without it the gate cannot tell"
    )


INFRA = """\
rules:
  - name: infra
    if: branch is release
    trigger:
      project: gh/acme/infra
      parameters:
        frontend_version: ${sha}
        service_version: ${sha}
"""


def test_an_infra_pipeline_on_the_default_branch_gets_exactly_the_templated_parameters(
    tmp_path: Path,
) -> None:
    code, doc, _ = gate(tmp_path, INFRA, "--dry-run")
    request = doc["triggers"][0]["request"]
    assert (code, request["url"]) == (
        0,
        "https://circleci.com/api/v2/project/gh/acme/infra/pipeline",
    )
    assert request["body"] == {
        "parameters": {"frontend_version": SHA, "service_version": SHA}
    }  # no branch: the project's default; no job, no revision parameter


DEPLOYMENTS = """\
rules:
  - name: deployments
    if: tag matches v*
    trigger:
      project: gh/acme/deployments
      branch: staging
      parameters: {branch-name: "${ref}", build: "release-${build_num}"}
"""


def test_a_deployments_pipeline_on_staging_gets_the_tag_as_ref_on_a_tag_build(
    tmp_path: Path,
) -> None:
    code, doc, _ = gate(
        tmp_path,
        DEPLOYMENTS,
        "--dry-run",
        CIRCLE_BRANCH=None,
        CIRCLE_TAG="v2.4.0",
        CIRCLE_BUILD_NUM="1041",
    )
    assert code == 0
    assert doc["triggers"][0]["request"]["body"] == {
        "branch": "staging",
        "parameters": {"branch-name": "v2.4.0", "build": "release-1041"},
    }


PACKAGES = """\
match: all
rules:
  - {name: web, if: branch is release, trigger: {pin: false, parameters: {web: true}}}
  - {name: api, if: branch is release, trigger: {pin: false, parameters: {api: true}}}
  - {name: cli, if: branch is release, trigger: {pin: false, parameters: {cli: true}}}
  - {name: docs, if: branch is release, trigger: {pin: false, parameters: {docs: true}}}
  - {name: mobile, if: branch is main, trigger: {pin: false, parameters: {mobile: true}}}
"""


def test_four_package_rules_make_one_pipeline_with_four_booleans(tmp_path: Path) -> None:
    code, doc, _ = gate(tmp_path, PACKAGES, "--dry-run")
    ((trigger),) = doc["triggers"]
    assert code == 0
    assert (trigger["rule"], trigger["rules"]) == ("web", ["web", "api", "cli", "docs"])
    assert trigger["request"]["body"] == {
        "branch": "release",
        "parameters": {"web": True, "api": True, "cli": True, "docs": True},
    }


def test_the_dry_run_says_unpinned_and_names_every_rule(tmp_path: Path) -> None:
    write(tmp_path / ".circleci" / "deploy-gate.yml", PACKAGES)
    result = run_gate(["--dry-run"], circle_env(), tmp_path)
    assert "  pipeline of gh/acme/shop (rules web, api, cli, docs) on gh/acme/shop, unpinned:" in (
        result.stdout.splitlines()
    )


def test_rules_for_different_targets_fire_one_each_in_file_order(tmp_path: Path) -> None:
    rules = "match: all\n" + DOCS + INFRA.removeprefix("rules:\n")
    code, doc, _ = gate(tmp_path, rules, "--dry-run")
    assert code == 0
    assert [(t["rules"], t["request"]["url"].split("/")[-2]) for t in doc["triggers"]] == [
        (["docs"], "docs"),
        (["infra"], "infra"),
    ]


# --- errors before anything is sent -------------------------------------------------------


def test_two_rules_giving_one_parameter_two_values_stop_before_sending(tmp_path: Path) -> None:
    rules = PACKAGES.replace("{docs: true}", "{web: false}")
    code, doc, stderr = gate(tmp_path, rules, "--dry-run")
    assert code == 2
    assert stderr.splitlines()[-1] == (
        "ci-deploy-gate: error: rules 'web' and 'docs' fire one v2 request to this project "
        "(branch release) and give its parameter web two values (True, False): make them agree"
    )
    assert doc["triggers"] == []


def test_a_fact_unset_on_the_build_names_the_rule_and_sends_nothing(tmp_path: Path) -> None:
    code, _, stderr = gate(tmp_path, DEPLOYMENTS.replace("tag matches v*", "true"), "--dry-run")
    assert code == 2
    assert stderr.splitlines()[-1] == (
        "ci-deploy-gate: error: rule 'deployments': trigger.parameters.build: ${build_num} "
        "is not set on this build ('release-${build_num}' would be sent without it)"
    )


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        (
            "{project: gh/acme/docs, pin: true, job: publish}",
            "gate.yml:1: rules[0] (a): trigger.pin: CIRCLE_SHA1 means nothing in gh/acme/docs: "
            "a trigger into another project is never pinned (leave pin out)",
        ),
        (
            "{job: deploy_docker, pin: false}",
            "gate.yml:1: rules[0] (a): trigger.pin: a deploy job of this repository is never "
            "fired unpinned: leave pin out to pin deploy_docker to CIRCLE_SHA1, or leave job "
            "out to run a pipeline with the rule's parameters alone",
        ),
        (
            "{job: d, branch: main, tag: v1}",
            "gate.yml:1: rules[0] (a): trigger.tag: give branch or tag, not both",
        ),
        (
            "{job: d, parameters: {v: '${author}'}}",
            "gate.yml:1: rules[0] (a): trigger.parameters.v: '${author}': ${author} cannot be "
            "filled in: a template takes the build's text facts (branch, tag, sha, user, job, "
            "project, build_num, ref) and env.NAME",
        ),
        (
            "{job: d, parameters: {v: '${shaa}'}}",
            "gate.yml:1: rules[0] (a): trigger.parameters.v: '${shaa}': unknown name ${shaa} "
            "(did you mean 'sha'?)",
        ),
        (
            "{job: d, parameters: {v: '$CIRCLE_SHA1'}}",
            "gate.yml:1: rules[0] (a): trigger.parameters.v: '$CIRCLE_SHA1': a '$' starts a "
            "template such as ${env.CIRCLE_SHA1}; write $$ for a '$' itself",
        ),
        (
            "{job: d, parameters: {v: '${env.CIRCLE_API_USER_TOKEN}'}}",
            "gate.yml:1: rules[0] (a): trigger.parameters.v: '${env.CIRCLE_API_USER_TOKEN}': "
            "${env.CIRCLE_API_USER_TOKEN} is an API token's variable: never sent",
        ),
        (
            "{project: gh/acme/docs, token_env: DOCS, branch: '${env.DOCS}'}",
            "gate.yml:1: rules[0] (a): trigger.branch: '${env.DOCS}': ${env.DOCS} is an API "
            "token's variable: never sent",
        ),
    ],
)
def test_a_trigger_that_cannot_be_right_is_a_load_error(trigger: str, message: str) -> None:
    assert errors_of(f"rules: [{{name: a, if: fork, trigger: {trigger}}}]\n") == [message]


@pytest.mark.parametrize(
    ("trigger", "message"),
    [
        (
            "{parameters: {x: y}}",
            "gate.yml:2: rules[0] (a): trigger: API v1.1 fires a job: give job",
        ),
        (
            "{project: gh/acme/docs, job: publish}",
            "gate.yml:2: rules[0] (a): trigger.project: API v1.1 needs a branch (or tag) in "
            "another project: its URL names one",
        ),
    ],
)
def test_api_v1_1_needs_a_job_and_a_branch_elsewhere(trigger: str, message: str) -> None:
    text = f"circleci: {{api: v1.1}}\nrules: [{{name: a, if: fork, trigger: {trigger}}}]\n"
    assert errors_of(text) == [message]


def test_dollar_dollar_is_a_dollar(tmp_path: Path) -> None:
    rules = "rules: [{name: a, if: true, trigger: {job: d, parameters: {price: '$$5'}}}]\n"
    code, doc, _ = gate(tmp_path, rules, "--dry-run")
    assert (code, doc["triggers"][0]["request"]["body"]["parameters"]["price"]) == (0, "$5")


def test_v1_1_fires_another_projects_branch_unpinned(tmp_path: Path) -> None:
    rules = (
        "circleci: {api: v1.1}\nrules:\n  - name: docs\n    if: true\n"
        "    trigger: {project: github/acme/docs, branch: master, job: publish}\n"
    )
    code, doc, _ = gate(tmp_path, rules, "--dry-run")
    request = doc["triggers"][0]["request"]
    assert code == 0
    assert request == {
        "method": "POST",
        "url": "https://circleci.com/api/v1.1/project/github/acme/docs/tree/master",
        "body": {"build_parameters": {"CIRCLE_JOB": "publish"}},
    }


_VALUES = st.sampled_from(
    [
        "gh/acme/docs",
        "github/a/b",
        "circleci/x/y",
        "master",
        "${sha}",
        "${tag}",
        "${ref}",
        "${env.X}",
        "$$",
        "v1",
        "",
        "deploy",
        "true",
    ]
)
_TRIGGERS = st.dictionaries(
    st.sampled_from(["job", "project", "branch", "tag", "pin", "token_env", "parameters"]),
    st.one_of(_VALUES, st.booleans(), st.dictionaries(st.sampled_from(["a", "b"]), _VALUES)),
    max_size=5,
)


@settings(max_examples=150, deadline=None)
@given(_TRIGGERS, st.sampled_from(["v1.1", "v2"]), st.sampled_from(["release", ""]))
@example({"job": "gh/acme/docs", "parameters": {"a": "${tag}"}}, "v1.1", "release")
def test_any_trigger_dry_runs_or_fails_with_one_line(
    trigger: dict[str, object], api: str, branch: str
) -> None:
    import contextlib
    import io

    import yaml

    from ci_deploy_gate.cli import main

    rules = yaml.safe_dump(
        {"circleci": {"api": api}, "rules": [{"name": "a", "if": "true", "trigger": trigger}]}
    )
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "gate.yml"
        path.write_text(rules, encoding="utf-8")
        env = circle_env(CIRCLE_BRANCH=branch or None, CIRCLE_TAG=None if branch else "v1")
        err = io.StringIO()
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(err):
            code = main(["--rules", str(path), "--dry-run"], env)
    said = [line for line in err.getvalue().splitlines() if " warning: " not in line]
    assert code in (0, 2), err.getvalue()
    assert "Traceback" not in err.getvalue()
    if code == 2:  # the first line says what is wrong; a rules file may list more problems
        assert said[0].startswith("ci-deploy-gate: error: "), err.getvalue()


def test_true_and_1_are_two_values_of_one_parameter(tmp_path: Path) -> None:
    rules = PACKAGES.replace("{docs: true}", "{web: 1}")
    code, _, stderr = gate(tmp_path, rules, "--dry-run")
    assert code == 2
    assert stderr.splitlines()[-1].endswith(
        "give its parameter web two values (True, 1): make them agree"
    )
