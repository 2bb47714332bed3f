"""`check` on real-world config shapes: merge keys, broken files under --json, setup
configs and their continuations, several --config, the gate in `deploy:` steps and
commands, and the token outside CircleCI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_deploy_gate.cli import main
from tests.conftest import DATA, TOKEN, write

CHECK_DATA = DATA / "check"
RULES = "rules:\n  - {name: production, if: branch is release, trigger: deploy_docker}\n"
TOKEN_ENV = {"CIRCLE_API_USER_TOKEN": TOKEN}


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def fixture(name: str) -> str:
    return (CHECK_DATA / name).read_text(encoding="utf-8")


def run_check(
    tmp_path: Path,
    files: dict[str, str],
    *args: str,
    env: dict[str, str] | None = None,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, list[str]]:
    """`check` in `tmp_path` with `files` (path: text) written; (exit code, its lines)."""
    for path, text in files.items():
        write(tmp_path / path, text)
    code = main(["check", *args], TOKEN_ENV if env is None else env)
    out, err = capsys.readouterr()
    return code, (out + err).splitlines()


def gate_files(config: str, rules: str = RULES) -> dict[str, str]:
    return {".circleci/deploy-gate.yml": rules, ".circleci/config.yml": config}


# --- merge keys ---------------------------------------------------------------------------


def test_a_merge_key_with_its_own_environment_is_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run_check(tmp_path, gate_files(fixture("continue.yml")), capsys=capsys)
    assert (code, lines) == (0, ["check: clean"])


def test_an_own_key_wins_over_a_merged_one_and_the_first_merged_map_over_later_ones() -> None:
    from ci_deploy_gate.yamllines import line_of, load_yaml

    text = (
        "a: &a {docker: a, environment: {A: 1}}\n"
        "b: &b {docker: b, shell: bash}\n"
        "job:\n"
        "  <<: [*a, *b]\n"
        "  environment: {B: 2}\n"
    )
    job = load_yaml(text, "config.yml")["job"]  # type: ignore[index]
    assert job == {"docker": "a", "environment": {"B": 2}, "shell": "bash"}
    assert [line_of(job, key) for key in job] == [1, 5, 2]


def test_a_key_written_twice_in_one_mapping_is_an_error_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = fixture("continue.yml").replace(
        "      DEPLOY_ENV: production\n",
        "      DEPLOY_ENV: production\n    environment:\n      DEPLOY_ENV: staging\n",
    )
    code, lines = run_check(tmp_path, gate_files(config), capsys=capsys)
    assert (code, lines) == (
        2,
        [
            ".circleci/config.yml:26: error: not valid YAML: duplicate key 'environment' "
            "(column 5)",
            "check: 1 error",
        ],
    )


def test_a_merge_key_in_the_rules_file_works(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from ci_deploy_gate.rules import check_rules

    rules = (
        "rules:\n"
        "  - &production {name: production, if: branch is release, trigger: deploy_docker}\n"
        "  - <<: *production\n"
        "    name: staging\n"
        "    if: branch is main\n"
    )
    config = fixture("continue.yml")
    assert run_check(tmp_path, gate_files(config, rules), capsys=capsys) == (0, ["check: clean"])
    rules_file, problems = check_rules(rules, "deploy-gate.yml")
    assert problems == []
    assert rules_file is not None
    staging = rules_file.rules[1]
    assert (staging.name, staging.trigger.job if staging.trigger else None) == (
        "staging",
        "deploy_docker",
    )


def test_a_key_written_twice_in_a_rule_is_an_error_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "rules:\n  - name: a\n    if: branch is release\n    name: b\n    trigger: x\n"
    config = fixture("continue.yml")
    assert run_check(tmp_path, gate_files(config, rules), capsys=capsys) == (
        2,
        [
            ".circleci/deploy-gate.yml:4: error: not valid YAML: duplicate key 'name' (column 5)",
            "check: 1 error",
        ],
    )


# --- broken files under --json ---------------------------------------------------------------


def test_a_broken_config_with_json_is_one_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = gate_files("version: 2.1\njobs:\n  build: [\n")
    code, lines = run_check(tmp_path, files, "--json", capsys=capsys)
    assert code == 2
    assert json.loads("\n".join(lines)) == {
        "ok": False,
        "findings": [
            {
                "level": "error",
                "file": ".circleci/config.yml",
                "line": 4,
                "key": "",
                "message": "not valid YAML: did not find expected node content (column 1)",
            }
        ],
    }


def test_a_rules_file_that_is_not_yaml_with_json_is_one_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = gate_files(fixture("continue.yml"), "rules:\n  - name: a\n   if: b\n")
    code, lines = run_check(tmp_path, files, "--json", capsys=capsys)
    assert code == 2
    assert json.loads("\n".join(lines))["findings"] == [
        {
            "level": "error",
            "file": ".circleci/deploy-gate.yml",
            "line": 3,
            "key": "",
            "message": "not valid YAML: did not find expected '-' indicator (column 4)",
        }
    ]


def test_a_missing_rules_file_with_json_is_one_document(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = run_check(tmp_path, {}, "--json", capsys=capsys)
    assert code == 2
    assert json.loads("\n".join(lines)) == {
        "ok": False,
        "findings": [
            {
                "level": "error",
                "file": ".circleci/deploy-gate.yml",
                "line": 1,
                "key": "",
                "message": "rules file not found (pass --rules PATH or set DEPLOY_GATE_RULES)",
            }
        ],
    }


# --- setup configs, continuations, several --config ----------------------------------------------

SETUP_FILES = {
    ".circleci/deploy-gate.yml": RULES,
    ".circleci/config.yml": fixture("setup.yml"),
    ".circleci/continue.yml": fixture("continue.yml"),
}


def test_the_jobs_of_a_setup_configs_continuation_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run_check(tmp_path, SETUP_FILES, capsys=capsys) == (0, ["check: clean"])


def test_a_job_in_neither_file_is_an_error_naming_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {**SETUP_FILES, ".circleci/deploy-gate.yml": RULES.replace("_docker", "_dockr")}
    assert run_check(tmp_path, files, capsys=capsys) == (
        2,
        [
            ".circleci/deploy-gate.yml:2: error: rules (production): trigger: 'deploy_dockr' "
            "is not a job under jobs: or a workflow under workflows: in .circleci/config.yml "
            "or .circleci/continue.yml (did you mean 'deploy_docker'?)",
            "check: 1 error",
        ],
    )


def test_a_finding_in_the_continuation_names_its_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pin = '      - run: git checkout --detach "<< pipeline.parameters.deploy_revision >>"\n'
    files = {**SETUP_FILES, ".circleci/continue.yml": fixture("continue.yml").replace(pin, "")}
    assert run_check(tmp_path, files, capsys=capsys) == (
        2,
        [
            ".circleci/continue.yml:22: error: jobs.deploy_docker: checks out the source but "
            "never reads << pipeline.parameters.deploy_revision >>: in the pipeline the gate "
            "fires for deploy_docker it would build or deploy the branch head, not the tested "
            "commit; give it `environment: {DEPLOY_REVISION: << "
            "pipeline.parameters.deploy_revision >>}` and, after its checkout, a step that "
            "checks out $DEPLOY_REVISION (the README's pinned checkout)",
            "check: 1 error",
        ],
    )


def test_the_path_filtering_orbs_default_continuation_is_followed(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        ".circleci/deploy-gate.yml": RULES,
        ".circleci/config.yml": fixture("path-filtering.yml"),
        ".circleci/continue_config.yml": fixture("continue.yml"),
    }
    assert run_check(tmp_path, files, capsys=capsys) == (0, ["check: clean"])


def test_a_continuation_not_in_the_repository_is_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {".circleci/deploy-gate.yml": RULES, ".circleci/config.yml": fixture("setup.yml")}
    code, lines = run_check(tmp_path, files, capsys=capsys)
    assert (code, lines) == (
        2,
        [
            ".circleci/config.yml:2: note: setup: continues with .circleci/continue.yml, which "
            "is not in the repository: its jobs and workflows are not checked; if a step makes "
            "it, pass the made file with a second --config",
            ".circleci/deploy-gate.yml:2: error: rules (production): trigger: 'deploy_docker' "
            "is not a job under jobs: or a workflow under workflows: in .circleci/config.yml "
            "(known: setup)",
            "check: 1 error, 1 note",
        ],
    )


def test_a_continuation_is_read_from_the_repository_root(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {f"repo/{path}": text for path, text in SETUP_FILES.items()}
    args = ("--rules", "repo/.circleci/deploy-gate.yml", "--config", "repo/.circleci/config.yml")
    assert run_check(tmp_path, files, *args, capsys=capsys) == (0, ["check: clean"])


def test_two_config_flags_are_read_as_one(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = {
        ".circleci/deploy-gate.yml": RULES,
        "ci/setup.yml": fixture("setup.yml"),
        "ci/generated.yml": fixture("continue.yml"),
    }
    args = ("--config", "ci/setup.yml", "--config", "ci/generated.yml")
    assert run_check(tmp_path, files, *args, capsys=capsys) == (0, ["check: clean"])
    rules = RULES.replace("_docker", "_dockr")
    files = {".circleci/deploy-gate.yml": rules}
    assert run_check(tmp_path, files, *args, capsys=capsys) == (
        2,
        [
            ".circleci/deploy-gate.yml:2: error: rules (production): trigger: 'deploy_dockr' "
            "is not a job under jobs: or a workflow under workflows: in ci/setup.yml or "
            "ci/generated.yml (did you mean 'deploy_docker'?)",
            "check: 1 error",
        ],
    )


def test_a_second_config_flag_naming_no_file_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ("--config", ".circleci/config.yml", "--config", "ci/generated.yml")
    code, lines = run_check(tmp_path, gate_files(fixture("continue.yml")), *args, capsys=capsys)
    assert (code, lines) == (
        2,
        ["ci/generated.yml:1: error: --config: no such file", "check: 1 error"],
    )


# --- the gate under parallelism ------------------------------------------------------------


def test_a_deploy_step_running_the_gate_under_parallelism_gets_the_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = fixture("continue.yml").replace(
        "    steps:\n      - checkout\n      - run: make test\n      - run:\n",
        "    parallelism: 3\n    steps:\n      - checkout\n      - run: make test\n"
        "      - deploy:\n",
    )
    assert run_check(tmp_path, gate_files(config), capsys=capsys) == (
        0,
        [
            ".circleci/config.yml:12: note: jobs.build: runs the gate (in a deploy: step) with "
            "parallelism: 3: only node 0 fires; add --wait-for-nodes (or wait_for_nodes: true) "
            "to fire only after the other nodes passed",
            "check: 1 note",
        ],
    )


def test_a_gate_step_inside_a_command_used_from_a_parallel_job_gets_the_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = fixture("continue.yml").replace(
        "      - run:\n          name: Deploy gate\n          command: python -m ci_deploy_gate "
        "--report /tmp/deploy-gate/report.json\n",
        "      - deploy_gate\n",
    )
    config = config.replace(
        "    steps:\n      - checkout\n      - run: make test\n",
        "    parallelism: 4\n    steps:\n      - checkout\n      - run: make test\n",
    )
    config = config.replace(
        "jobs:\n  build:",
        "commands:\n  deploy_gate:\n    steps:\n      - when:\n          condition: true\n"
        "          steps:\n            - run: ci-deploy-gate --report /tmp/report.json\n"
        "jobs:\n  build:",
    )
    assert run_check(tmp_path, gate_files(config), capsys=capsys) == (
        0,
        [
            ".circleci/config.yml:19: note: jobs.build: runs the gate (through the command "
            "'deploy_gate') with parallelism: 4: only node 0 fires; add --wait-for-nodes (or "
            "wait_for_nodes: true) to fire only after the other nodes passed",
            "check: 1 note",
        ],
    )


# --- the token ---------------------------------------------------------------------------------


def test_strict_outside_circleci_without_the_token_passes(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = gate_files(fixture("continue.yml"))
    assert run_check(tmp_path, files, "--strict", env={}, capsys=capsys) == (
        0,
        [
            ".circleci/deploy-gate.yml:1: note: circleci.token_env: CIRCLE_API_USER_TOKEN is "
            "not set here (not in CircleCI, CIRCLECI is not true): the job that runs the gate "
            "needs a CircleCI personal API token in it (a project environment variable on "
            "CircleCI)",
            "check: 1 note",
        ],
    )


def test_strict_in_circleci_without_the_token_fails(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    files = gate_files(fixture("continue.yml"))
    env = {"CIRCLECI": "true"}
    assert run_check(tmp_path, files, "--strict", env=env, capsys=capsys) == (
        2,
        [
            ".circleci/deploy-gate.yml:1: warning: circleci.token_env: CIRCLE_API_USER_TOKEN is "
            "not set here: a real trigger needs a CircleCI personal API token in it (a project "
            "environment variable on CircleCI)",
            "check: 1 warning",
        ],
    )


def test_a_gate_step_that_already_waits_for_the_nodes_is_not_told_to(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = fixture("continue.yml").replace(
        "    steps:\n      - checkout\n      - run: make test\n      - run:\n",
        "    parallelism: 3\n    steps:\n      - checkout\n      - run: make test\n      - run:\n",
    )
    config = config.replace("ci_deploy_gate --report", "ci_deploy_gate --wait-for-nodes --report")
    code, lines = run_check(tmp_path, gate_files(config), capsys=capsys)
    assert "--wait-for-nodes" in config
    assert (code, lines) == (
        0,
        [
            ".circleci/config.yml:12: note: jobs.build: runs the gate with parallelism: 3: "
            "only node 0 fires",
            "check: 1 note",
        ],
    )
