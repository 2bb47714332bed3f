"""`python -m ci_deploy_gate` as a CircleCI step runs it: a subprocess, a real HTTP server
on loopback standing in for CircleCI, a stateful fake shaped like the recorded real responses."""

from __future__ import annotations

import json
import re
import socket
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from ci_deploy_gate import __version__
from ci_deploy_gate.circleci.versions import V1_WARNING
from tests.conftest import (
    RELEASE_RULES,
    ROOT,
    SHA,
    TOKEN,
    V1_RULES,
    circle_env,
    run_gate,
    write,
)
from tests.fake_circleci import FakeCircleCI

ALL_OUTPUT: list[str] = []  # every byte any run printed or wrote, scanned for the token at the end


@pytest.fixture
def api(fake: FakeCircleCI) -> FakeCircleCI:
    return fake


WARNED = f"ci-deploy-gate: warning: {V1_WARNING}\n"  # every run with circleci.api: v1.1


def gate(
    cwd: Path, *args: str, rules: str | None = V1_RULES, **env: str | None
) -> subprocess.CompletedProcess[str]:
    if rules is not None:
        write(cwd / ".circleci" / "deploy-gate.yml", rules)
    result = run_gate(list(args), circle_env(**env), cwd)
    ALL_OUTPUT.extend([result.stdout, result.stderr])
    for report in cwd.glob("**/*.json"):
        ALL_OUTPUT.append(report.read_text())
    assert "Traceback" not in result.stderr, result.stderr
    return result


def test_release_push_fires_one_pinned_deploy(tmp_path: Path, api: FakeCircleCI) -> None:
    result = gate(tmp_path, "--api-url", api.url)
    assert result.returncode == 0, result.stderr
    assert [(m, p, b) for m, p, b, _ in api.posts()] == [
        (
            "POST",
            "/api/v1.1/project/github/acme/shop/tree/release",
            {"revision": SHA, "build_parameters": {"CIRCLE_JOB": "deploy_docker"}},
        )
    ]
    headers = api.posts()[0].headers
    assert headers["Circle-Token"] == TOKEN
    assert headers["Accept"] == "application/json"
    assert headers["User-Agent"] == f"ci-deploy-gate/{__version__}"
    assert result.stdout.splitlines() == [
        "triggered: rule 'production' matched; fired deploy_docker",
        "  rule production: matched",
        "    [x] branch is release  (branch: 'release')",
        "    [x] not pull_request  (pull_request: false)",
        f"  deploy_docker (rule production) at {SHA}:",
        "    build #3925 https://circleci.com/gh/acme/shop/3925",
    ]


def test_parallel_nodes_fire_once_in_total(tmp_path: Path, api: FakeCircleCI) -> None:
    outputs = [
        gate(tmp_path, "--api-url", api.url, CIRCLE_NODE_INDEX=str(i), CIRCLE_NODE_TOTAL="4")
        for i in range(4)
    ]
    assert [r.returncode for r in outputs] == [0, 0, 0, 0]
    assert len(api.posts()) == 1
    assert [r.stdout.strip() for r in outputs[1:]] == [
        f"skipped: node {i} of 4, only node 0 fires" for i in (1, 2, 3)
    ]


def test_other_nodes_skip_before_reading_the_rules(tmp_path: Path) -> None:
    result = gate(
        tmp_path, "--rules", "missing.yml", rules=None, CIRCLE_NODE_INDEX="1", CIRCLE_NODE_TOTAL="2"
    )
    assert (result.returncode, result.stdout) == (0, "skipped: node 1 of 2, only node 0 fires\n")


@pytest.mark.parametrize(
    "spelling",
    [["--json", "--report", "out/r.json"], ["--json", "--report=out/r.json", "--dry-run"]],
)
def test_node_skip_reports_json(tmp_path: Path, spelling: list[str]) -> None:
    result = gate(tmp_path, *spelling, rules=None, CIRCLE_NODE_INDEX="2", CIRCLE_NODE_TOTAL="3")
    expected = {
        "decision": "skipped",
        "reason": "node 2 of 3, only node 0 fires",
        "node": {"index": 2, "total": 3},
        "sources": {},
        "rule": None,
        "rules": [],
        "triggers": [],
    }
    assert result.returncode == 0
    assert json.loads(result.stdout) == expected
    assert json.loads((tmp_path / "out" / "r.json").read_text()) == expected
    assert result.stderr == "skipped: node 2 of 3, only node 0 fires\n"


@pytest.mark.parametrize("spelling", [["--json"], ["--json", "--set", "CIRCLE_NODE_INDEX=1"]])
def test_a_node_without_a_total_skips_without_inventing_one(
    tmp_path: Path, spelling: list[str]
) -> None:
    """The first spelling leaves by the node guard, the second by the full path."""
    env = {"CIRCLE_NODE_INDEX": "1" if spelling == ["--json"] else None, "CIRCLE_NODE_TOTAL": None}
    result = gate(tmp_path, *spelling, "--report", "r.json", rules=None, **env)
    assert result.returncode == 0
    assert json.loads(result.stdout) == {
        "decision": "skipped",
        "reason": "node 1 (CIRCLE_NODE_TOTAL not set), only node 0 fires",
        "node": {"index": 1, "total": None},
        "sources": {},
        "rule": None,
        "rules": [],
        "triggers": [],
    }
    assert result.stderr == "skipped: node 1 (CIRCLE_NODE_TOTAL not set), only node 0 fires\n"
    result = gate(tmp_path, rules=None, CIRCLE_NODE_INDEX="1", CIRCLE_NODE_TOTAL=None)
    assert (result.returncode, result.stdout, result.stderr) == (
        0,
        "skipped: node 1 (CIRCLE_NODE_TOTAL not set), only node 0 fires\n",
        "",
    )


def test_node_0_without_a_total_will_not_guess_whom_to_wait_for(tmp_path: Path) -> None:
    result = gate(
        tmp_path,
        "--wait-for-nodes",
        rules=RELEASE_RULES,
        CIRCLE_NODE_TOTAL=None,
        CIRCLE_BUILD_NUM="9",
    )
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "ci-deploy-gate: error: environment: CIRCLE_NODE_INDEX=0 is set but CIRCLE_NODE_TOTAL "
        "is not: waiting for the other nodes needs their number (set CIRCLE_NODE_TOTAL to the "
        "job's parallelism)\n"
    )


def test_node_from_set_is_guarded_too(tmp_path: Path, api: FakeCircleCI) -> None:
    result = gate(
        tmp_path, "--api-url", api.url, "--set", "CIRCLE_NODE_INDEX=1", CIRCLE_NODE_TOTAL="2"
    )
    assert (result.returncode, result.stdout) == (0, "skipped: node 1 of 2, only node 0 fires\n")
    assert api.requests == []


def test_tag_build_fires_with_the_tag(tmp_path: Path, api: FakeCircleCI) -> None:
    rules = (
        "circleci: {api: v1.1}\n"
        "rules:\n  - {name: release, if: 'tag matches /v[0-9.]+/', trigger: deploy_prod}\n"
    )
    result = gate(
        tmp_path, "--api-url", api.url, rules=rules, CIRCLE_BRANCH="", CIRCLE_TAG="v1.4.2"
    )
    assert result.returncode == 0, result.stderr
    assert [(p, b) for _, p, b, _ in api.posts()] == [
        (
            "/api/v1.1/project/github/acme/shop",
            {
                "tag": "v1.4.2",
                "revision": SHA,
                "build_parameters": {"CIRCLE_JOB": "deploy_prod"},
            },
        )
    ]


def test_slash_branch_travels_as_one_segment(tmp_path: Path, api: FakeCircleCI) -> None:
    rules = (
        "circleci: {api: v1.1}\n"
        "rules:\n  - name: hotfix\n    when: {branch: 'hotfix/*'}\n    trigger: deploy_docker\n"
    )
    result = gate(tmp_path, "--api-url", api.url, rules=rules, CIRCLE_BRANCH="hotfix/login")
    assert result.returncode == 0, result.stderr
    assert [p for _, p, _, _ in api.posts()] == [
        "/api/v1.1/project/github/acme/shop/tree/hotfix%2Flogin"
    ]


def test_dry_run_sends_nothing_and_shows_the_request(tmp_path: Path, api: FakeCircleCI) -> None:
    result = gate(
        tmp_path, "--api-url", api.url, "--dry-run", CIRCLECI=None, CIRCLE_API_USER_TOKEN=None
    )
    assert result.returncode == 0, result.stderr
    assert api.requests == []
    assert result.stdout.splitlines()[0] == "dry-run: rule 'production' matched; nothing sent"
    assert result.stdout.splitlines()[-7:] == [
        f"  deploy_docker (rule production) at {SHA}:",
        f"    POST {api.url}/api/v1.1/project/github/acme/shop/tree/release",
        "    Accept: application/json",
        "    Content-Type: application/json",
        f"    User-Agent: ci-deploy-gate/{__version__}",
        "    Circle-Token: ***",
        f'    {{"build_parameters": {{"CIRCLE_JOB": "deploy_docker"}}, "revision": "{SHA}"}}',
    ]


def test_readme_quickstart_dry_run_works() -> None:
    result = run_gate(
        ["--rules", "rules.example.yaml", "--env-file", "examples/release.env", "--dry-run"],
        {},
        ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("dry-run: rule 'production' matched; nothing sent\n")


def test_no_match_skips_and_explains(tmp_path: Path, api: FakeCircleCI) -> None:
    result = gate(tmp_path, "--api-url", api.url, CIRCLE_BRANCH="main")
    assert result.returncode == 0
    assert api.requests == []
    assert result.stdout.splitlines() == [
        "skipped: no rule matched",
        "  rule production: no match",
        "    [ ] branch is release  (branch: 'main')",
        "    [-] not pull_request  (not needed)",
    ]


def test_forked_pull_request_does_not_fire(tmp_path: Path, api: FakeCircleCI) -> None:
    rules = "rules:\n  - name: any\n    if: branch is pull/12\n    trigger: deploy_docker\n"
    result = gate(
        tmp_path,
        "--api-url",
        api.url,
        "--json",
        rules=rules,
        CIRCLE_BRANCH="pull/12",
        CIRCLE_PR_NUMBER="12",
        CIRCLE_PR_USERNAME="mallory",
        CIRCLE_API_USER_TOKEN=None,
    )
    assert result.returncode == 0
    assert api.requests == []
    doc = json.loads(result.stdout)
    assert (doc["decision"], doc["rule"]) == ("skipped", "any")
    assert "forked pull request" in doc["reason"]


def test_match_all_fires_every_job(tmp_path: Path, api: FakeCircleCI) -> None:
    rules = """\
circleci: {api: v1.1}
match: all
rules:
  - {name: docker, if: branch is release, trigger: deploy_docker}
  - name: docs
    if: not pull_request
    trigger: {job: deploy_docs, parameters: {SITE: docs.acme.test}}
"""
    result = gate(tmp_path, "--api-url", api.url, "--json", rules=rules)
    assert result.returncode == 0, result.stderr
    assert [b["build_parameters"] for _, _, b, _ in api.posts()] == [
        {"CIRCLE_JOB": "deploy_docker"},
        {"CIRCLE_JOB": "deploy_docs", "SITE": "docs.acme.test"},
    ]
    doc = json.loads(result.stdout)
    assert doc["decision"] == "triggered"
    assert [t["response"]["build_num"] for t in doc["triggers"]] == [3925, 3926]


def test_json_report_of_a_trigger(tmp_path: Path, api: FakeCircleCI) -> None:
    result = gate(tmp_path, "--api-url", api.url, "--json", "--report", "r.json")
    assert result.returncode == 0, result.stderr
    doc = json.loads(result.stdout)
    assert doc == json.loads((tmp_path / "r.json").read_text())
    assert doc == {
        "decision": "triggered",
        "reason": "rule 'production' matched; fired deploy_docker",
        "node": {"index": 0, "total": 1},
        "sources": {
            "branch": "environment (CIRCLE_BRANCH)",
            "sha": "environment (CIRCLE_SHA1)",
            "user": "environment (CIRCLE_USERNAME)",
            "job": "environment (CIRCLE_JOB)",
            "project": "environment (CIRCLE_PROJECT_USERNAME)",
            "ref": "environment (CIRCLE_BRANCH)",
        },
        "rule": "production",
        "rules": [
            {
                "name": "production",
                "matched": True,
                "evaluated": True,
                "conditions": [
                    {
                        "condition": "branch is release",
                        "result": True,
                        "actual": "release",
                        "needed": True,
                    },
                    {
                        "condition": "not pull_request",
                        "result": True,
                        "actual": False,
                        "needed": True,
                    },
                ],
            }
        ],
        "triggers": [
            {
                "rule": "production",
                "rules": ["production"],
                "job": "deploy_docker",
                "revision": SHA,
                "branch": "release",
                "tag": None,
                "api": "v1.1",
                "request": {
                    "method": "POST",
                    "url": f"{api.url}/api/v1.1/project/github/acme/shop/tree/release",
                    "body": {"revision": SHA, "build_parameters": {"CIRCLE_JOB": "deploy_docker"}},
                },
                "response": {
                    "api": "v1.1",
                    "how": "fired",
                    "status": 201,
                    "build_num": 3925,
                    "build_url": "https://circleci.com/gh/acme/shop/3925",
                    "lifecycle": "queued",
                    "pipeline_number": None,
                    "pipeline_id": None,
                    "pipeline_url": None,
                    "state": "queued",
                    "deprecation": None,
                    "warnings": [],
                    "result": None,
                    "lookup": {"pages": 1, "entries": 0},
                },
            }
        ],
    }
    assert result.stderr.startswith(WARNED + "triggered: rule 'production' matched")


def test_rules_path_from_environment(tmp_path: Path, api: FakeCircleCI) -> None:
    write(tmp_path / "elsewhere.yml", RELEASE_RULES.replace("release and", "main and"))
    result = gate(
        tmp_path,
        "--api-url",
        api.url,
        "--dry-run",
        rules=None,
        DEPLOY_GATE_RULES="elsewhere.yml",
        CIRCLE_BRANCH="main",
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("dry-run: rule 'production' matched")


def test_api_url_flag_beats_environment_beats_file(tmp_path: Path, api: FakeCircleCI) -> None:
    rules = "circleci: {url: 'https://file.example', api: v1.1}\n" + RELEASE_RULES
    by_file = gate(tmp_path, "--dry-run", "--json", rules=rules)
    by_env = gate(
        tmp_path, "--dry-run", "--json", rules=rules, DEPLOY_GATE_API_URL="https://env.example"
    )
    by_flag = gate(
        tmp_path,
        "--dry-run",
        "--json",
        "--api-url",
        "https://flag.example",
        rules=rules,
        DEPLOY_GATE_API_URL="https://env.example",
    )
    hosts = [
        json.loads(r.stdout)["triggers"][0]["request"]["url"].split("/api/")[0]
        for r in (by_file, by_env, by_flag)
    ]
    assert hosts == ["https://file.example", "https://env.example", "https://flag.example"]


def test_verbose_logs_the_exchange_without_the_token(tmp_path: Path, api: FakeCircleCI) -> None:
    result = gate(tmp_path, "--api-url", api.url, "--verbose")
    assert result.returncode == 0
    url = re.escape(f"{api.url}/api/v1.1/project/github/acme/shop/tree/release")
    assert re.fullmatch(
        re.escape(WARNED) + rf"GET {url}\?limit=100 \(attempt 1/4\) -> 200 OK \(\d+\.\d\ds\)\n"
        rf"POST {url} \(attempt 1/4\) -> 201 Created \(\d+\.\d\ds\)\n",
        result.stderr,
    )


def test_sunset_header_is_reported(tmp_path: Path, api: FakeCircleCI) -> None:
    api.extra_headers["Sunset"] = "Mon, 01 Feb 2027 00:00:00 GMT"
    result = gate(tmp_path, "--api-url", api.url)
    assert result.stdout.splitlines()[-1] == (
        "    warning: CircleCI retires this endpoint on Mon, 01 Feb 2027 00:00:00 GMT; "
        "set circleci.api: v2"
    )


# --- every error: one message, the right exit code, no traceback, a report ---------------


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.mark.parametrize(
    ("args", "rules", "env", "code", "message"),
    [
        (
            ["--rules", "nope.yml"],
            None,
            {},
            2,
            "error: nope.yml: rules file not found (pass --rules PATH or set DEPLOY_GATE_RULES)",
        ),
        (
            [],
            "rules:\n  - name: p\n    if: branch is\n    trigger: d\n",
            {},
            2,
            "error: .circleci/deploy-gate.yml:3: rules[0] (p): if: expected a value after 'is' at "
            "column 10",
        ),
        (
            [],
            RELEASE_RULES,
            {"CIRCLE_API_USER_TOKEN": None},
            2,
            "error: environment: CIRCLE_API_USER_TOKEN is not set; the gate needs a CircleCI API "
            "token there to fire a job (on a forked pull request CircleCI withholds it; "
            "circleci.token_env names another variable)",
        ),
        (
            [],
            RELEASE_RULES,
            {"CIRCLE_SHA1": None},
            2,
            "error: environment: CIRCLE_SHA1 is not set: refusing an unpinned deploy of "
            "'deploy_docker'",
        ),
        (
            ["--dry-run"],
            RELEASE_RULES,
            {"CIRCLE_SHA1": None},
            2,
            "error: environment: CIRCLE_SHA1 is not set: refusing an unpinned deploy of "
            "'deploy_docker'",
        ),
        (
            [],
            RELEASE_RULES,
            {"CIRCLECI": None},
            2,
            "error: environment: CIRCLECI is not 'true': refusing a real trigger outside CircleCI "
            "(use --dry-run to see what would be sent, or set CIRCLECI=true deliberately)",
        ),
        (
            ["--api-url", "http://circleci.example"],
            RELEASE_RULES,
            {},
            2,
            "error: API URL: 'http://circleci.example' would send the API token unencrypted: "
            "use https (http only on loopback)",
        ),
        (
            ["--set", "CIRCLE_API_USER_TOKEN:an0ther-5ecret-not-in-the-environment"],
            RELEASE_RULES,
            {},
            2,
            "error: --set: expected NAME=VALUE, found no '=' (not shown: it may hold a secret)",
        ),
        (
            ["--env-file", "none.env"],
            RELEASE_RULES,
            {},
            2,
            "error: --env-file none.env: cannot read it: No such file or directory",
        ),
        (
            [],
            RELEASE_RULES,
            {"CIRCLE_NODE_INDEX": "x"},
            2,
            "error: environment: CIRCLE_NODE_INDEX='x' is not a whole number",
        ),
    ],
)
def test_configuration_errors(
    tmp_path: Path,
    api: FakeCircleCI,
    args: list[str],
    rules: str | None,
    env: dict[str, str | None],
    code: int,
    message: str,
) -> None:
    result = gate(tmp_path, *args, "--report", "report.json", rules=rules, **env)
    assert (result.returncode, result.stdout, result.stderr) == (
        code,
        "",
        f"ci-deploy-gate: {message}\n",
    )
    assert api.requests == []
    doc = json.loads((tmp_path / "report.json").read_text())
    assert (doc["decision"], "ci-deploy-gate: error: " + doc["reason"]) == (
        "error",
        f"ci-deploy-gate: {message}",
    )


def test_api_refusal_exits_1_with_circlecis_message(tmp_path: Path, api: FakeCircleCI) -> None:
    api.faults = ["401"]
    result = gate(tmp_path, "--api-url", api.url, "--json")
    assert result.returncode == 1
    assert result.stderr == WARNED + (
        f"ci-deploy-gate: failed: POST {api.url}/api/v1.1/project/github/acme/shop/tree/release: "
        "CircleCI answered 401 Unauthorized: You must log in first. (the token in "
        "CIRCLE_API_USER_TOKEN was not accepted: it needs a personal API token; API v2 takes "
        "no project token)\n"
    )
    doc = json.loads(result.stdout)
    assert doc["decision"] == "failed"
    assert doc["rule"] == "production"
    assert doc["triggers"][0]["response"] is None
    assert len(api.posts()) == 1  # a refusal is final: no retry


def test_unreachable_api_exits_1(tmp_path: Path) -> None:
    port = _closed_port()
    result = gate(tmp_path, "--api-url", f"http://127.0.0.1:{port}")
    assert result.returncode == 1
    assert result.stderr.startswith(
        WARNED + f"ci-deploy-gate: failed: GET http://127.0.0.1:{port}/api/v1.1/project/github/"
        "acme/shop/tree/release?limit=100: could not reach CircleCI in 4 attempts, nothing was "
        "sent: "
    )
    assert len(result.stderr.splitlines()) == 2


def test_unknown_flag_is_a_usage_error(tmp_path: Path) -> None:
    result = gate(tmp_path, "--dry-rn")
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == (
        "ci-deploy-gate: error: unrecognized arguments: --dry-rn"
    )


def test_unknown_flag_on_node_1_is_still_a_usage_error(tmp_path: Path) -> None:
    result = gate(tmp_path, "--dry-rn", CIRCLE_NODE_INDEX="1", CIRCLE_NODE_TOTAL="2")
    assert result.returncode == 2


def test_version(tmp_path: Path) -> None:
    result = gate(tmp_path, "--version", rules=None)
    assert (result.returncode, result.stdout) == (0, f"ci-deploy-gate {__version__}\n")


@pytest.fixture(scope="module", autouse=True)
def _token_never_printed() -> Iterator[None]:
    """After every run above: the token appears in no output and no report."""
    ALL_OUTPUT.clear()
    yield
    assert len(ALL_OUTPUT) > 40
    leaks = [text for text in ALL_OUTPUT if TOKEN in text]
    assert leaks == []


def test_token_is_redacted_even_where_a_rule_shows_it(tmp_path: Path, api: FakeCircleCI) -> None:
    rules = (
        "rules:\n  - name: p\n    if: env.CIRCLE_API_USER_TOKEN is x or branch is release\n"
        "    trigger: d\n"
    )
    result = gate(tmp_path, "--api-url", api.url, "--json", rules=rules)
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert doc["rules"][0]["conditions"][0]["actual"] == "***"


@pytest.mark.parametrize(
    ("token", "what"),
    [
        ("c1rcle-t0ken\n5ecret-0123", "a line break"),
        ("c1rcle-t0ken\x1b5ecret-0123", "a control character"),
        ("c1rcle-t0ken-5ecret-\u20ac123", "a character outside Latin-1"),
    ],
)
def test_a_token_no_header_can_carry_is_refused_before_sending(
    tmp_path: Path, api: FakeCircleCI, token: str, what: str
) -> None:
    result = gate(tmp_path, "--api-url", api.url, CIRCLE_API_USER_TOKEN=token)
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        WARNED + f"ci-deploy-gate: error: environment: CIRCLE_API_USER_TOKEN holds {what}, "
        "which an HTTP header cannot carry (the value is not shown)\n",
    )
    assert api.requests == []


CREDENTIALS_REFUSED = (
    "ci-deploy-gate: error: API URL: holds a user name or password before '@' (the URL is "
    "not shown): the gate sends only the API token; give the bare host URL, such as "
    "https://circleci.com\n"
)


@pytest.mark.parametrize("where", ["--api-url", "DEPLOY_GATE_API_URL"])
def test_credentials_in_the_api_url_are_refused_unshown(
    tmp_path: Path, api: FakeCircleCI, where: str
) -> None:
    url = api.url.replace("http://", "http://deployer:pa55word-in-url@")
    if where == "--api-url":
        result = gate(tmp_path, "--api-url", url)
    else:
        result = gate(tmp_path, DEPLOY_GATE_API_URL=url)
    assert (result.returncode, result.stdout, result.stderr) == (
        2,
        "",
        WARNED + CREDENTIALS_REFUSED,
    )
    assert api.requests == []


def test_credentials_in_circleci_url_are_refused_unshown(tmp_path: Path, api: FakeCircleCI) -> None:
    url = api.url.replace("http://", "http://deployer:pa55word-in-url@")
    result = gate(tmp_path, rules=f"circleci: {{api: v1.1, url: '{url}'}}\n" + RELEASE_RULES)
    assert result.returncode == 2
    assert "pa55word-in-url" not in result.stdout + result.stderr
    assert result.stderr.endswith(
        "circleci.url: holds a user name or password before '@' (the URL is not shown): the "
        "gate sends only the API token; give the bare host URL, such as https://circleci.com\n"
    )
    assert api.requests == []


def test_a_loopback_api_url_is_reached_directly_never_through_a_proxy(
    tmp_path: Path, api: FakeCircleCI
) -> None:
    dead = "http://127.0.0.1:9"  # the discard port: nothing listens there
    result = gate(
        tmp_path, "--api-url", api.url, HTTP_PROXY=dead, http_proxy=dead, HTTPS_PROXY=dead
    )
    assert result.returncode == 0, result.stderr
    assert len(api.posts()) == 1


# --- exactly once, retries, --wait, --wait-for-nodes ----------------------------------

V2_RULES = "circleci: {api: v2}\n" + RELEASE_RULES


def test_second_run_says_already_triggered(tmp_path: Path, api: FakeCircleCI) -> None:
    first = gate(tmp_path, "--api-url", api.url)
    second = gate(tmp_path, "--api-url", api.url, "--json")
    assert (first.returncode, second.returncode, len(api.posts())) == (0, 0, 1)
    assert second.stderr.splitlines()[-1] == (
        "    already triggered: build #3925 https://circleci.com/gh/acme/shop/3925"
    )
    doc = json.loads(second.stdout)
    assert doc["decision"] == "already-triggered"
    assert doc["reason"] == (
        "rule 'production' matched; deploy_docker already triggered (build #3925)"
    )
    assert doc["triggers"][0]["response"]["how"] == "already-triggered"


def test_force_fires_a_second_build(tmp_path: Path, api: FakeCircleCI) -> None:
    gate(tmp_path, "--api-url", api.url)
    forced = gate(tmp_path, "--api-url", api.url, "--force")
    assert forced.returncode == 0, forced.stderr
    assert (len(api.posts()), len(api.builds)) == (2, 2)
    assert "    build #3926 https://circleci.com/gh/acme/shop/3926" in forced.stdout


def test_500s_then_created_is_one_build(tmp_path: Path, api: FakeCircleCI) -> None:
    api.faults = ["503", "500"]
    result = gate(tmp_path, "--api-url", api.url)
    assert result.returncode == 0, result.stderr
    assert (len(api.posts()), len(api.builds)) == (3, 1)


def test_answer_lost_after_create_is_one_build_and_exit_0(
    tmp_path: Path, api: FakeCircleCI
) -> None:
    api.faults = ["drop-after-create"]
    result = gate(tmp_path, "--api-url", api.url)
    assert result.returncode == 0, result.stderr
    assert (len(api.posts()), len(api.builds)) == (1, 1)
    assert result.stdout.splitlines()[-1] == (
        "    build #3925 https://circleci.com/gh/acme/shop/3925 "
        "(CircleCI's answer was lost; found by looking it up)"
    )


def test_lasting_outage_exits_1_without_a_build(tmp_path: Path, api: FakeCircleCI) -> None:
    api.faults = ["502"] * 2
    rules = "circleci: {retries: 2, deadline: 10, api: v1.1}\n" + RELEASE_RULES
    result = gate(tmp_path, "--api-url", api.url, rules=rules)
    assert result.returncode == 1
    assert "CircleCI answered 502 Bad Gateway: Bad Gateway (CircleCI kept failing" in result.stderr
    assert (len(api.posts()), api.builds) == (2, [])


def test_v2_pipeline_end_to_end(tmp_path: Path, api: FakeCircleCI) -> None:
    result = gate(tmp_path, "--api-url", api.url, rules=V2_RULES)
    assert result.returncode == 0, result.stderr
    ((post),) = api.posts()
    assert (post.path, post.body) == (
        "/api/v2/project/gh/acme/shop/pipeline",
        {
            "branch": "release",
            "parameters": {"deploy_job": "deploy_docker", "deploy_revision": SHA},
        },
    )
    assert result.stdout.splitlines()[-2:] == [
        f"    pipeline #700 {api.url}/pipelines/github/acme/shop/700",
        f"    pipeline id {api.pipelines[0]['id']}",
    ]


def test_v2_moved_branch_is_a_loud_warning(tmp_path: Path, api: FakeCircleCI) -> None:
    api.head = "e" * 40
    result = gate(tmp_path, "--api-url", api.url, "--json", rules=V2_RULES)
    assert result.returncode == 0
    response = json.loads(result.stdout)["triggers"][0]["response"]
    assert response["warnings"][0].startswith("the branch release has moved on: pipeline #700")
    assert "    warning: the branch release has moved on" in result.stderr


@pytest.mark.parametrize(
    ("rules", "setup", "code", "last"),
    [
        (
            V1_RULES,
            {"build_states": [("queued", None), ("finished", "success")]},
            0,
            "    result: success",
        ),
        (
            V1_RULES,
            {"build_states": [("running", None), ("finished", "failed")]},
            1,
            "ci-deploy-gate: failed: deploy_docker build #3925 failed: "
            "https://circleci.com/gh/acme/shop/3925",
        ),
        (
            V2_RULES,
            {"workflow_states": [["running"], ["success"]]},
            0,
            "    result: success",
        ),
        (
            V2_RULES,
            {"workflow_states": [["running"], ["failed"]]},
            1,
            "ci-deploy-gate: failed: deploy_docker pipeline #700 deploy_docker failed: "
            "{url}/pipelines/github/acme/shop/700",
        ),
    ],
)
def test_wait_follows_the_deploy_to_its_end(
    tmp_path: Path, api: FakeCircleCI, rules: str, setup: dict[str, Any], code: int, last: str
) -> None:
    for name, value in setup.items():
        setattr(api, name, value)
    result = gate(tmp_path, "--api-url", api.url, "--wait", rules=rules)
    assert result.returncode == code, result.stderr
    output = result.stdout if code == 0 else result.stderr
    assert output.splitlines()[-1] == last.format(url=api.url)
    assert len(api.posts()) == 1


def test_wait_timeout_exits_1(tmp_path: Path, api: FakeCircleCI) -> None:
    api.build_states = [("running", None)]
    result = gate(tmp_path, "--api-url", api.url, "--wait", "--wait-timeout", "1", "--json")
    assert result.returncode == 1
    doc = json.loads(result.stdout)
    assert doc["decision"] == "failed"
    assert doc["triggers"][0]["response"]["result"] == "timed out after 1s"
    assert "deploy_docker build #3925: running" in result.stderr  # progress, off stdout


def test_wait_for_nodes_refuses_when_a_sibling_failed(tmp_path: Path, api: FakeCircleCI) -> None:
    api.parallel_runs = [["running", "success", "failed"]]
    result = gate(
        tmp_path,
        "--api-url",
        api.url,
        "--wait-for-nodes",
        CIRCLE_NODE_TOTAL="3",
        CIRCLE_BUILD_NUM="77",
    )
    assert result.returncode == 1
    assert (
        result.stderr == WARNED + "ci-deploy-gate: failed: node 2 failed (of 3 nodes): not firing\n"
    )
    assert api.posts() == []
    assert api.requests[0].path == "/api/v2/project/gh/acme/shop/job/77"


def test_wait_for_nodes_from_the_rules_file(tmp_path: Path, api: FakeCircleCI) -> None:
    api.parallel_runs = [["running", "running"], ["running", "success"]]
    rules = "wait_for_nodes: true\n" + RELEASE_RULES
    result = gate(
        tmp_path, "--api-url", api.url, rules=rules, CIRCLE_NODE_TOTAL="2", CIRCLE_BUILD_NUM="9"
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:2] == [
        "nodes: waiting for node 1 running",
        "nodes: all 1 other nodes passed",
    ]
    assert len(api.posts()) == 1


@pytest.mark.parametrize(
    ("args", "env", "message"),
    [
        (
            ["--wait-for-nodes"],
            {"CIRCLE_NODE_TOTAL": "2"},
            "error: environment: CIRCLE_BUILD_NUM is not set: waiting for the other nodes needs "
            "this job's number",
        ),
        (
            ["--wait", "--wait-timeout", "soon"],
            {},
            "error: argument --wait-timeout: expected seconds from 1 to 21600, found 'soon'",
        ),
    ],
)
def test_wait_usage_errors(
    tmp_path: Path, api: FakeCircleCI, args: list[str], env: dict[str, str], message: str
) -> None:
    result = gate(tmp_path, "--api-url", api.url, *args, **env)
    assert result.returncode == 2
    assert result.stderr.splitlines()[-1] == f"ci-deploy-gate: {message}"
    assert api.requests == []


# --- API v2 by default, and the configs that predate it -------------------------------

SEED_V2_CONFIG = "version: 2\njobs:\n  build:\n    docker: [{image: cimg/base:current}]\n"


def test_v1_rules_warn_of_the_removal_on_every_run(tmp_path: Path) -> None:
    result = gate(tmp_path, CIRCLE_BRANCH="feature/x")
    assert (result.returncode, result.stderr) == (
        0,
        "ci-deploy-gate: warning: circleci.api: v1.1: CircleCI removes the v1.1 trigger on "
        "1 February 2027 (410 Gone after); run `python -m ci_deploy_gate migrate` to move "
        "this config to pipeline triggers (API v2)\n",
    )


def test_no_api_and_a_version_2_config_stop_a_real_run(tmp_path: Path, api: FakeCircleCI) -> None:
    write(tmp_path / ".circleci" / "config.yml", SEED_V2_CONFIG)
    result = gate(tmp_path, "--api-url", api.url, rules=RELEASE_RULES)
    assert (result.returncode, api.requests) == (2, [])
    assert result.stderr == (
        "ci-deploy-gate: error: .circleci/config.yml: this is a `version: 2` config and "
        ".circleci/deploy-gate.yml names no circleci.api, so the gate would fire API v2 "
        "pipelines, which a `version: 2` config cannot read (it has no pipeline parameters): "
        "set circleci.api: v1.1 in .circleci/deploy-gate.yml to keep the single-job trigger "
        "until CircleCI removes it on 1 February 2027, or run `python -m ci_deploy_gate "
        "migrate` to move the config to 2.1\n"
    )


def test_no_api_and_a_version_2_config_stop_a_run_that_matches_nothing(tmp_path: Path) -> None:
    write(tmp_path / ".circleci" / "config.yml", SEED_V2_CONFIG)
    result = gate(tmp_path, rules=RELEASE_RULES, CIRCLE_BRANCH="feature/x")
    assert result.returncode == 2
    assert result.stderr.startswith("ci-deploy-gate: error: .circleci/config.yml: this is a")


def test_no_api_and_a_version_2_config_warn_in_a_dry_run(tmp_path: Path) -> None:
    write(tmp_path / ".circleci" / "config.yml", SEED_V2_CONFIG)
    result = gate(tmp_path, "--dry-run", "--json", rules=RELEASE_RULES)
    assert result.returncode == 0
    assert result.stderr.startswith(
        "ci-deploy-gate: warning: .circleci/config.yml: this is a `version: 2` config"
    )
    assert json.loads(result.stdout)["triggers"][0]["api"] == "v2"


@pytest.mark.parametrize("version", ["2.1", "2"])
def test_a_named_api_or_a_2_1_config_fires_as_named(
    tmp_path: Path, api: FakeCircleCI, version: str
) -> None:
    write(tmp_path / ".circleci" / "config.yml", SEED_V2_CONFIG.replace("2", version, 1))
    rules = RELEASE_RULES if version == "2.1" else V1_RULES
    result = gate(tmp_path, "--api-url", api.url, rules=rules)
    assert result.returncode == 0, result.stderr
    assert [seen.path.split("/")[2] for seen in api.posts()] == [
        "v2" if version == "2.1" else "v1.1"
    ]


def test_a_rules_file_without_api_dry_runs_a_v2_request(tmp_path: Path) -> None:
    result = gate(tmp_path, "--dry-run", rules=RELEASE_RULES)
    assert result.returncode == 0, result.stderr
    assert "    POST https://circleci.com/api/v2/project/gh/acme/shop/pipeline" in (
        result.stdout.splitlines()
    )
