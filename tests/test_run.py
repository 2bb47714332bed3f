"""`python -m ci_deploy_gate run -- COMMAND` as a CircleCI step runs it: a subprocess that
runs a real shell script in a temporary folder, which logs each run to a file."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import RELEASE_RULES, ROOT, SHA, TOKEN, circle_env, run_gate, write
from tests.fake_circleci import FakeCircleCI

DEPLOY = """\
#!/bin/sh
job=${DEPLOY_GATE_JOB-unset}
echo "deploy $DEPLOY_GATE_RULE job=$job sha=$DEPLOY_GATE_SHA extra=${EXTRA-unset} args=$*"
echo "deploy says this on stderr" >&2
echo "$DEPLOY_GATE_RULE" >> ran.log
if [ "$DEPLOY_GATE_RULE" = "${FAIL_RULE-}" ]; then exit 3; fi
"""
# match: all, two rules for the same job and one without a trigger; `staging` matches no push
ALL_RULES = """\
match: all
rules:
  - {name: production, if: branch is release, trigger: deploy_docker}
  - {name: staging, if: branch is main, trigger: deploy_staging}
  - {name: notify, if: branch is release}
  - {name: again, if: not pull_request, trigger: deploy_docker}
"""
RAN = "rule 'production' matched; ran ./deploy.sh"  # the reason
SEEN_PRODUCTION = [
    "  rule production: matched",
    "    [x] branch is release  (branch: 'release')",
    "    [x] not pull_request  (pull_request: false)",
]


def run(
    cwd: Path, *args: str, rules: str | None = RELEASE_RULES, **env: str | None
) -> subprocess.CompletedProcess[str]:
    """`run` in `cwd`, with ./deploy.sh there and the rules at the default path."""
    if rules is not None:
        write(cwd / ".circleci" / "deploy-gate.yml", rules)
    script = write(cwd / "deploy.sh", DEPLOY)
    script.chmod(0o755)
    result = run_gate(["run", *args], circle_env(**env), cwd)
    assert "Traceback" not in result.stderr, result.stderr
    assert TOKEN not in result.stdout + result.stderr
    return result


def ran(cwd: Path) -> list[str]:
    """The rules the script ran for, in order."""
    log = cwd / "ran.log"
    return log.read_text().splitlines() if log.exists() else []


def timed(text: str) -> str:
    return re.sub(r"after \d+(\.\d+)?s", "after Ns", text)


def report(cwd: Path) -> dict[str, Any]:
    doc: dict[str, Any] = json.loads((cwd / "report.json").read_text())
    for step in doc.get("commands", []):
        assert isinstance(step.pop("seconds"), (int, float))
    return doc


def test_a_match_runs_the_command_once_with_the_rule_in_its_environment(tmp_path: Path) -> None:
    result = run(tmp_path, "--report", "report.json", "--", "./deploy.sh", "--prod")
    assert result.returncode == 0, result.stderr
    assert timed(result.stdout).splitlines() == [
        f"deploy production job=deploy_docker sha={SHA} extra=unset args=--prod",
        f"ran: {RAN} --prod",
        *SEEN_PRODUCTION,
        "  ./deploy.sh --prod (rule production): exited 0 after Ns",
    ]
    assert result.stderr == (
        "ci-deploy-gate run: rule 'production': running ./deploy.sh --prod\n"
        "deploy says this on stderr\n"
    )
    assert ran(tmp_path) == ["production"]
    doc = report(tmp_path)
    assert (doc["decision"], doc["reason"], doc["triggers"]) == ("ran", f"{RAN} --prod", [])
    assert doc["commands"] == [
        {"rule": "production", "argv": ["./deploy.sh", "--prod"], "exit_code": 0}
    ]


def test_the_command_gets_the_environment_with_env_file_and_set(tmp_path: Path) -> None:
    write(tmp_path / "more.env", "EXTRA=from-file\n")
    result = run(tmp_path, "--env-file", "more.env", "--", "./deploy.sh")
    assert result.stdout.splitlines()[0] == (
        f"deploy production job=deploy_docker sha={SHA} extra=from-file args="
    )
    result = run(tmp_path, "--env-file", "more.env", "--set", "EXTRA=set", "--", "./deploy.sh")
    assert "extra=set" in result.stdout.splitlines()[0]


def test_no_match_is_skipped_and_the_command_not_run(tmp_path: Path) -> None:
    result = run(tmp_path, "--report", "report.json", "--", "./deploy.sh", CIRCLE_BRANCH="main")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "skipped: no rule matched",
        "  rule production: no match",
        "    [ ] branch is release  (branch: 'main')",
        "    [-] not pull_request  (not needed)",
    ]
    assert ran(tmp_path) == []
    doc = report(tmp_path)
    assert (doc["decision"], doc["commands"]) == ("skipped", [])


def test_a_forked_pull_request_is_skipped(tmp_path: Path) -> None:
    rules = "rules: [{name: any, if: branch is release}]\n"
    result = run(
        tmp_path,
        "--",
        "./deploy.sh",
        rules=rules,
        CIRCLE_PULL_REQUEST="https://github.com/acme/shop/pull/7",
        CIRCLE_PR_USERNAME="mallory",
    )
    assert result.returncode == 0
    assert result.stdout.startswith(
        "skipped: rule 'any' matched, but this is a forked pull request"
    )
    assert ran(tmp_path) == []


def test_a_node_other_than_0_skips_before_reading_the_rules(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "--rules",
        "nowhere.yml",
        "--json",
        "--",
        "./deploy.sh",
        rules=None,
        CIRCLE_NODE_INDEX="1",
        CIRCLE_NODE_TOTAL="2",
    )
    assert result.returncode == 0
    assert json.loads(result.stdout) == {
        "decision": "skipped",
        "reason": "node 1 of 2, only node 0 fires",
        "node": {"index": 1, "total": 2},
        "sources": {},
        "rule": None,
        "rules": [],
        "triggers": [],
        "commands": [],
    }
    assert result.stderr == "skipped: node 1 of 2, only node 0 fires\n"
    assert ran(tmp_path) == []


def test_a_failing_command_ends_the_run_with_its_code(tmp_path: Path) -> None:
    result = run(
        tmp_path,
        "--report",
        "report.json",
        "--",
        "./deploy.sh",
        rules=ALL_RULES,
        FAIL_RULE="notify",
    )
    assert result.returncode == 3
    assert ran(tmp_path) == ["production", "notify"]  # `again` was not run
    assert result.stderr == (
        "ci-deploy-gate run: rule 'production': running ./deploy.sh\n"
        "deploy says this on stderr\n"
        "ci-deploy-gate run: rule 'notify': running ./deploy.sh\n"
        "deploy says this on stderr\n"
        "ci-deploy-gate run: command-failed: rule 'notify': ./deploy.sh: exited 3\n"
    )
    doc = report(tmp_path)
    assert (doc["decision"], doc["reason"]) == (
        "command-failed",
        "rule 'notify': ./deploy.sh: exited 3",
    )
    assert doc["commands"] == [
        {"rule": "production", "argv": ["./deploy.sh"], "exit_code": 0},
        {"rule": "notify", "argv": ["./deploy.sh"], "exit_code": 3},
    ]


def test_match_all_runs_once_per_matched_rule_in_file_order(tmp_path: Path) -> None:
    result = run(tmp_path, "--", "./deploy.sh", rules=ALL_RULES)
    assert result.returncode == 0, result.stderr
    assert ran(tmp_path) == ["production", "notify", "again"]  # deploy_docker twice: each rule
    assert timed(result.stdout).splitlines() == [
        f"deploy production job=deploy_docker sha={SHA} extra=unset args=",
        f"deploy notify job=unset sha={SHA} extra=unset args=",
        f"deploy again job=deploy_docker sha={SHA} extra=unset args=",
        "ran: rules 'production', 'notify', 'again' matched; ran ./deploy.sh 3 times",
        "  rule production: matched",
        "    [x] branch is release  (branch: 'release')",
        "  rule staging: no match",
        "    [ ] branch is main  (branch: 'release')",
        "  rule notify: matched",
        "    [x] branch is release  (branch: 'release')",
        "  rule again: matched",
        "    [x] not pull_request  (pull_request: false)",
        "  ./deploy.sh (rule production): exited 0 after Ns",
        "  ./deploy.sh (rule notify): exited 0 after Ns",
        "  ./deploy.sh (rule again): exited 0 after Ns",
    ]


def test_match_first_runs_the_first_matched_rule_only(tmp_path: Path) -> None:
    rules = ALL_RULES.replace("match: all", "match: first")
    result = run(tmp_path, "--", "./deploy.sh", rules=rules)
    assert result.returncode == 0, result.stderr
    assert ran(tmp_path) == ["production"]
    assert timed(result.stdout).splitlines()[1] == "ran: rule 'production' matched; ran ./deploy.sh"


def test_rules_without_trigger_run_but_the_gate_still_needs_one(tmp_path: Path) -> None:
    rules = "rules:\n  - name: production\n    if: branch is release\n"
    result = run(tmp_path, "--", "./deploy.sh", rules=rules)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == (
        f"deploy production job=unset sha={SHA} extra=unset args="
    )
    gate = run_gate(["--dry-run"], circle_env(), tmp_path)
    assert (gate.returncode, gate.stderr) == (
        2,
        "ci-deploy-gate: error: .circleci/deploy-gate.yml:2: rules[0] (production): "
        "missing required key 'trigger'\n",
    )


def test_dry_run_prints_the_command_and_its_variables_and_runs_nothing(tmp_path: Path) -> None:
    result = run(tmp_path, "--dry-run", "--", "./deploy.sh", "--to", "prod env")
    assert (result.returncode, result.stderr) == (0, "")
    assert result.stdout.splitlines() == [
        "dry-run: rule 'production' matched; nothing run",
        *SEEN_PRODUCTION,
        "  ./deploy.sh --to 'prod env' (rule production), with:",
        "    DEPLOY_GATE_RULE=production",
        "    DEPLOY_GATE_JOB=deploy_docker",
        f"    DEPLOY_GATE_SHA={SHA}",
    ]
    assert ran(tmp_path) == []


def test_dry_run_report_lists_the_commands_not_run(tmp_path: Path) -> None:
    result = run(tmp_path, "--dry-run", "--json", "--", "./deploy.sh")
    doc = json.loads(result.stdout)
    assert (doc["decision"], doc["commands"]) == (
        "dry-run",
        [{"rule": "production", "argv": ["./deploy.sh"], "exit_code": None, "seconds": None}],
    )


def test_json_keeps_stdout_one_document_and_the_command_output_on_stderr(tmp_path: Path) -> None:
    result = run(tmp_path, "--json", "--", "./deploy.sh")
    assert result.returncode == 0
    doc = json.loads(result.stdout)
    assert (doc["decision"], doc["commands"][0]["exit_code"]) == ("ran", 0)
    assert timed(result.stderr).splitlines() == [
        "ci-deploy-gate run: rule 'production': running ./deploy.sh",
        f"deploy production job=deploy_docker sha={SHA} extra=unset args=",
        "deploy says this on stderr",
        "ran: rule 'production' matched; ran ./deploy.sh",
        *SEEN_PRODUCTION,
        "  ./deploy.sh (rule production): exited 0 after Ns",
    ]


@pytest.mark.parametrize(
    "words",
    [[], ["--dry-run"], ["./deploy.sh"], ["--rules", "x.yml", "./deploy.sh"]],
)
def test_no_dashes_is_a_usage_error(tmp_path: Path, words: list[str]) -> None:
    result = run(tmp_path, *words)
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "ci-deploy-gate run: error: the command to run goes after --: "
        "ci-deploy-gate run [OPTIONS] -- COMMAND [ARG...]\n"
    )


def test_nothing_after_the_dashes_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path, "--dry-run", "--")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        "ci-deploy-gate run: error: no command after --: "
        "ci-deploy-gate run [OPTIONS] -- COMMAND [ARG...]\n"
    )


@pytest.mark.parametrize("flag", ["--force", "--wait"])
def test_options_of_a_fired_deploy_are_refused(tmp_path: Path, flag: str) -> None:
    result = run(tmp_path, flag, "--", "./deploy.sh")
    assert (result.returncode, result.stdout) == (2, "")
    assert result.stderr == (
        f"ci-deploy-gate run: error: {flag} applies to a deploy the gate fires, not to run\n"
    )
    assert ran(tmp_path) == []


def test_help_names_the_command_and_where_its_output_goes(tmp_path: Path) -> None:
    result = run(tmp_path, "--help")
    assert result.returncode == 0
    assert result.stdout.startswith("usage: ci-deploy-gate run [OPTIONS] -- COMMAND [ARG...]\n")
    assert "with --json its stdout goes to stderr" in " ".join(result.stdout.split())


@pytest.mark.parametrize(
    ("command", "code", "said"),
    [
        ("./missing.sh", 127, "./missing.sh: cannot run it: No such file or directory"),
        ("no-such-command-here", 127, "no-such-command-here: command not found (not on PATH)"),
        ("./plain.txt", 126, "./plain.txt: cannot run it: Permission denied"),
    ],
)
def test_a_command_that_cannot_be_started_exits_as_a_shell_would(
    tmp_path: Path, command: str, code: int, said: str
) -> None:
    write(tmp_path / "plain.txt", "not a program\n")
    result = run(tmp_path, "--report", "report.json", "--", command)
    assert (result.returncode, result.stdout) == (code, "")
    assert result.stderr == (
        f"ci-deploy-gate run: rule 'production': running {command}\n"
        f"ci-deploy-gate run: command-failed: rule 'production': {said}\n"
    )
    doc = report(tmp_path)
    assert (doc["decision"], doc["commands"]) == (
        "command-failed",
        [{"rule": "production", "argv": [command], "exit_code": code}],
    )


def test_outside_circleci_only_a_dry_run_runs(tmp_path: Path) -> None:
    result = run(tmp_path, "--json", "--", "./deploy.sh", CIRCLECI=None)
    assert result.returncode == 2
    assert result.stderr == (
        "ci-deploy-gate run: error: environment: CIRCLECI is not 'true': refusing to run the "
        "command outside CircleCI (use --dry-run to see what would run, or set CIRCLECI=true "
        "deliberately)\n"
    )
    assert (json.loads(result.stdout)["decision"], ran(tmp_path)) == ("error", [])


def test_wait_for_nodes_runs_nothing_when_another_node_failed(
    tmp_path: Path, fake: FakeCircleCI
) -> None:
    fake.parallel_runs = [["running", "failed"]]
    args = ("--api-url", fake.url, "--wait-for-nodes", "--json", "--", "./deploy.sh")
    result = run(tmp_path, *args, CIRCLE_NODE_TOTAL="2", CIRCLE_BUILD_NUM="77")
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        "ci-deploy-gate run: failed: node 1 failed (of 2 nodes): not firing"
    )
    assert json.loads(result.stdout)["commands"] == []
    assert ran(tmp_path) == []
    assert fake.requests[0].headers["Circle-Token"] == TOKEN
    assert fake.requests[0].path == "/api/v2/project/gh/acme/shop/job/77"


def test_wait_for_nodes_runs_the_command_once_they_passed(
    tmp_path: Path, fake: FakeCircleCI
) -> None:
    fake.parallel_runs = [["running", "running"], ["running", "success"]]
    args = ("--api-url", fake.url, "--wait-for-nodes", "--", "./deploy.sh")
    result = run(tmp_path, *args, CIRCLE_NODE_TOTAL="2", CIRCLE_BUILD_NUM="77")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[:3] == [
        "nodes: waiting for node 1 running",
        "nodes: all 1 other nodes passed",
        f"deploy production job=deploy_docker sha={SHA} extra=unset args=",
    ]
    assert ran(tmp_path) == ["production"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_a_signal_goes_to_the_command_and_its_status_is_the_gates(
    tmp_path: Path, signum: signal.Signals
) -> None:
    write(tmp_path / ".circleci" / "deploy-gate.yml", RELEASE_RULES)
    script = write(
        tmp_path / "slow.sh",
        "#!/bin/sh\n"
        "trap 'echo \"cleaned up\"; exit 7' TERM INT\n"
        "touch started\n"
        "while :; do sleep 0.05; done\n",
    )
    script.chmod(0o755)
    env = {"PATH": os.environ["PATH"], "PYTHONPATH": str(ROOT), **circle_env()}
    gate = subprocess.Popen(
        [sys.executable, "-m", "ci_deploy_gate", "run", "--", "./slow.sh"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # no terminal: the signal reaches the gate alone
    )
    deadline = time.monotonic() + 30
    while not (tmp_path / "started").exists() and time.monotonic() < deadline:
        time.sleep(0.05)
    gate.send_signal(signum)
    out, err = gate.communicate(timeout=30)
    assert gate.returncode == 7
    assert out == "cleaned up\n"
    assert err.splitlines()[-1] == (
        "ci-deploy-gate run: command-failed: rule 'production': ./slow.sh: exited 7"
    )
