"""`check`, `schema` and `init`, run in-process on real-world shaped configs."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from ci_deploy_gate.cli import main
from tests.conftest import ROOT, TOKEN, run_gate, write

# The seed configs: version 2, a build job and the deploy jobs the rules fire.
SEED_CONFIG = """\
version: 2
jobs:
  build:
    docker: [{image: cimg/python:3.12}]
    parallelism: 4
    steps:
      - checkout
      - run: make test
      - run:
          name: Deploy gate
          command: python -m ci_deploy_gate --report /tmp/deploy-gate/report.json
  deploy_docker:
    docker: [{image: cimg/base:current}]
    steps: [checkout, {run: ./deploy.sh docker}]
  deploy_staging:
    docker: [{image: cimg/base:current}]
    steps: [checkout, {run: ./deploy.sh staging}]
  deploy_production:
    docker: [{image: cimg/base:current}]
    steps: [checkout, {run: ./deploy.sh production}]
workflows:
  version: 2
  build:
    jobs:
      - build:
          filters:
            branches: {ignore: /gh-pages/}
            tags: {only: /^v.*/}
"""

# A 2.1 config with orbs, anchors and aliases, run through API v2 pipelines.
ORBS_CONFIG = """\
version: 2.1
orbs:
  python: circleci/python@2.1.1
  aws-ecs: circleci/aws-ecs@4.0.0
parameters:
  deploy_job: {type: string, default: ""}
  deploy_revision: {type: string, default: ""}
  replicas: {type: integer, default: 2}
  region: {type: enum, enum: [eu, us], default: eu}
defaults: &defaults
  docker: [{image: cimg/base:current}]
  resource_class: small
jobs:
  build:
    <<: *defaults
    parallelism: 1
    steps:
      - checkout
      - run: {name: gate, command: ci-deploy-gate --wait-for-nodes}
  deploy_docker:
    <<: *defaults
    steps: [checkout, {run: 'git checkout --detach "<< pipeline.parameters.deploy_revision >>"'}]
workflows:
  build:
    when: {equal: ["", << pipeline.parameters.deploy_job >>]}
    jobs: [python/test, build]
  deploy_docker:
    when: {equal: [deploy_docker, << pipeline.parameters.deploy_job >>]}
    jobs:
      - deploy_docker: {context: production, serial-group: << pipeline.project.slug >>/deploy}
      - aws-ecs/deploy-service-update: {requires: [deploy_docker]}
"""

# The seed config moved to 2.1 for API v2 pipelines, as `migrate` would: each deploy job has
# a workflow chosen by deploy_job and checks out deploy_revision (through a command, a job
# parameter); the build is kept out of the fired pipelines by an `unless`.
SEED_CONFIG_21 = """\
version: 2.1
parameters:
  deploy_job: {type: string, default: ""}
  deploy_revision: {type: string, default: ""}
  DEPLOY_ENV: {type: string, default: production}
commands:
  checkout_tested:
    description: the commit the gate tested, not the branch head
    steps:
      - checkout
      - run: git checkout --detach "<< pipeline.parameters.deploy_revision >>"
jobs:
  build:
    docker: [{image: cimg/python:3.12}]
    parallelism: 4
    steps:
      - checkout
      - run: make test
      - run:
          name: Deploy gate
          command: python -m ci_deploy_gate --report /tmp/deploy-gate/report.json
  deploy_docker:
    docker: [{image: cimg/base:current}]
    steps: [checkout_tested, {run: ./deploy.sh docker}]
  deploy_staging:
    docker: [{image: cimg/base:current}]
    steps: [checkout_tested, {run: ./deploy.sh << pipeline.parameters.DEPLOY_ENV >>}]
  deploy_production:
    docker: [{image: cimg/base:current}]
    parameters:
      revision: {type: string}
    steps:
      - checkout
      - run: git checkout --detach "<< parameters.revision >>"
      - run: ./deploy.sh production
workflows:
  build:
    unless: << pipeline.parameters.deploy_job >>
    jobs:
      - build:
          filters:
            branches: {ignore: /gh-pages/}
            tags: {only: /^v.*/}
  deploy_docker:
    when: {equal: [deploy_docker, << pipeline.parameters.deploy_job >>]}
    jobs:
      - deploy_docker: {serial-group: << pipeline.project.slug >>/deploy}
  deploy_staging:
    when:
      equal: [deploy_staging, << pipeline.parameters.deploy_job >>]
    jobs:
      - deploy_staging: {serial-group: << pipeline.project.slug >>/staging}
  deploy_production:
    when:
      and:
        - equal: [deploy_production, << pipeline.parameters.deploy_job >>]
        - not: {equal: ["", << pipeline.parameters.deploy_revision >>]}
    jobs:
      - deploy_production:
          revision: << pipeline.parameters.deploy_revision >>
          serial-group: << pipeline.project.slug >>/deploy
"""

V2_RULES = """\
circleci:
  api: v2
rules:
  - name: production
    if: branch is release
    trigger:
      job: deploy_docker
      parameters: {replicas: 3, region: eu}
"""

CONTEXT_CONFIG = (
    SEED_CONFIG
    + """\
  deploy:
    jobs:
      - build
      - deploy_docker:
          context: [production, aws]
          requires: [build]
          filters: {branches: {only: release}}
"""
)


PARALLEL_NOTE = (
    ".circleci/config.yml:3: note: jobs.build: runs the gate with parallelism: 4: only "
    "node 0 fires; add --wait-for-nodes (or wait_for_nodes: true) to fire only after the "
    "other nodes passed"
)
PARALLEL_NOTE_21 = PARALLEL_NOTE.replace(":3:", ":13:")
V1_WARNING = (
    ".circleci/deploy-gate.yml:1: warning: circleci.api: API v1.1 fires jobs through endpoints "
    "CircleCI removes on 1 February 2027 (it answers 410 Gone after): run `python -m "
    "ci_deploy_gate migrate` to move to API v2 pipelines"
)
V1_RULES = (
    "circleci: {api: v1.1}\nrules:\n  - {name: p, if: branch is release, trigger: deploy_docker}\n"
)


def check(
    tmp_path: Path,
    rules: str | None,
    config: str | None,
    *args: str,
    token: bool = True,
    env: dict[str, str] | None = None,
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, list[str]]:
    """`check` in `tmp_path`; (exit code, the lines it printed)."""
    if rules is not None:
        write(tmp_path / ".circleci" / "deploy-gate.yml", rules)
    if config is not None:
        write(tmp_path / ".circleci" / "config.yml", config)
    env = {**({"CIRCLE_API_USER_TOKEN": TOKEN} if token else {}), **(env or {})}
    code = main(["check", *args], env)
    out, err = capsys.readouterr()
    return code, (out + err).splitlines()


@pytest.fixture(autouse=True)
def _in_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)


def example_rules() -> str:
    return (ROOT / "rules.example.yaml").read_text(encoding="utf-8")


def test_seed_config_on_2_1_and_example_rules_are_clean_but_for_the_parallel_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = check(tmp_path, example_rules(), SEED_CONFIG_21, capsys=capsys)
    assert (code, lines) == (0, [PARALLEL_NOTE_21, "check: 1 note"])


def test_seed_config_and_example_rules_on_v1_1_warn_of_its_removal(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = example_rules().replace("\n  api: v2 ", "\n  api: v1.1 ")
    assert rules != example_rules()
    code, lines = check(tmp_path, rules, SEED_CONFIG, capsys=capsys)
    assert code == 0
    assert lines == [
        V1_WARNING.replace("deploy-gate.yml:1:", "deploy-gate.yml:15:"),
        PARALLEL_NOTE,
        "check: 1 warning, 1 note",
    ]
    assert check(tmp_path, None, None, "--strict", capsys=capsys)[0] == 2


def test_orbs_anchors_and_aliases_with_api_v2_are_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = check(tmp_path, V2_RULES, ORBS_CONFIG, capsys=capsys)
    assert (code, lines) == (0, ["check: clean"])


def test_a_trigger_that_names_no_job_suggests_the_closest(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = V1_RULES.replace("trigger: deploy_docker", "trigger: deploy_dockr")
    code, lines = check(tmp_path, rules, SEED_CONFIG, capsys=capsys)
    assert code == 2
    assert lines == [
        V1_WARNING,
        ".circleci/deploy-gate.yml:3: error: rules (p): trigger: 'deploy_dockr' is not a job "
        "under jobs: in .circleci/config.yml (did you mean 'deploy_docker'?)",
        PARALLEL_NOTE,
        "check: 1 error, 1 warning, 1 note",
    ]


def test_a_v2_trigger_that_names_nothing_lists_jobs_and_workflows_once(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "rules:\n  - {name: p, if: branch is release, trigger: deploy_dockr}\n"
    code, lines = check(tmp_path, rules, SEED_CONFIG_21, capsys=capsys)
    assert (code, lines) == (
        2,
        [
            ".circleci/deploy-gate.yml:2: error: rules (p): trigger: 'deploy_dockr' is not a "
            "job under jobs: or a workflow under workflows: in .circleci/config.yml (did you "
            "mean 'deploy_docker'?)",
            PARALLEL_NOTE_21,
            "check: 1 error, 1 note",
        ],
    )


def test_v2_trigger_may_name_a_workflow(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = ORBS_CONFIG.replace("  deploy_docker:\n    when", "  ship:\n    when")
    rules = V2_RULES.replace("job: deploy_docker", "job: ship")
    config = config.replace("deploy_docker, << pipeline", "ship, << pipeline")
    assert check(tmp_path, rules, config, capsys=capsys)[0] == 0


def test_version_2_1_with_api_v1_1_is_an_error_that_says_how_to_move(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = check(tmp_path, V1_RULES, ORBS_CONFIG, capsys=capsys)
    assert code == 2
    assert lines[0] == V1_WARNING
    assert lines[1] == (
        ".circleci/config.yml:1: error: version: this is a 2.1 config, and the rules use API "
        "v1.1, which triggers one job and does not work with 2.1 configs (CircleCI answers "
        "'internal server error'): set circleci.api: v2 in .circleci/deploy-gate.yml so the "
        "gate runs a pipeline with pipeline parameters, and declare them under parameters: "
        "(README: API v2 pipelines)"
    )


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (
            ('  deploy_revision: {type: string, default: ""}\n', ""),
            ".circleci/deploy-gate.yml:1: error: circleci: the gate sends the pipeline "
            "parameter 'deploy_revision', which .circleci/config.yml does not declare (add it "
            "under parameters:, type string)",
        ),
        (
            ("replicas: {type: integer", "replicas: {type: string"),
            ".circleci/config.yml:8: error: parameters.replicas: is declared type string, but "
            "the gate sends 3 (rules (production): trigger)",
        ),
        (
            ("enum: [eu, us]", "enum: [us, asia]"),
            ".circleci/config.yml:9: error: parameters.region: is an enum of ['us', 'asia'], "
            "but the gate sends 'eu' (rules (production): trigger)",
        ),
        (
            ('  deploy_job: {type: string, default: ""}\n', ""),
            ".circleci/deploy-gate.yml:6: error: rules (production): trigger: the gate sends "
            "the pipeline parameter 'deploy_job', which .circleci/config.yml does not declare "
            "(add it under parameters:, type string)",
        ),
    ],
)
def test_v2_pipeline_parameters_must_be_declared_with_a_fitting_type(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: tuple[str, str],
    expected: str,
) -> None:
    config = ORBS_CONFIG.replace(*change)
    assert config != ORBS_CONFIG
    code, lines = check(tmp_path, V2_RULES, config, capsys=capsys)
    assert code == 2
    assert lines[0] == expected


def test_a_v1_job_with_a_context_is_warned_and_fails_only_when_strict(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "wait_for_nodes: true\n" + V1_RULES
    code, lines = check(tmp_path, rules, CONTEXT_CONFIG, capsys=capsys)
    warning = (
        ".circleci/config.yml:32: warning: workflows.deploy.jobs.deploy_docker.context: "
        "deploy_docker uses context ['production', 'aws'], but a job fired through API v1.1 "
        "gets no context variables: put what it needs in project environment variables, or "
        "use circleci.api: v2"
    )
    assert code == 0
    assert lines == [
        V1_WARNING.replace("deploy-gate.yml:1:", "deploy-gate.yml:2:"),
        ".circleci/config.yml:3: note: jobs.build: runs the gate with parallelism: 4: only "
        "node 0 fires",
        warning,
        "check: 2 warnings, 1 note",
    ]
    assert check(tmp_path, None, None, "--strict", capsys=capsys)[0] == 2


def test_an_unset_token_in_circleci_is_a_warning(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "rules:\n  - {name: p, if: branch is release, trigger: deploy_docker}\n"
    env = {"CIRCLECI": "true"}
    code, lines = check(tmp_path, rules, SEED_CONFIG_21, token=False, env=env, capsys=capsys)
    assert code == 0
    assert lines == [
        ".circleci/deploy-gate.yml:1: warning: circleci.token_env: CIRCLE_API_USER_TOKEN is "
        "not set here: a real trigger needs a CircleCI personal API token in it (a project "
        "environment variable on CircleCI)",
        PARALLEL_NOTE_21,
        "check: 1 warning, 1 note",
    ]


def test_every_rules_problem_is_listed_with_its_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = """\
match: some
rules:
  - name: p
    if: branch is
    trigger: deploy_docker
  - name: q
    when: {brnch: main}
    trigerr: x
"""
    code, lines = check(tmp_path, rules, SEED_CONFIG, capsys=capsys)
    assert code == 2
    assert lines == [
        ".circleci/deploy-gate.yml:1: error: match: expected first or all, found 'some'",
        ".circleci/deploy-gate.yml:4: error: rules[0] (p): if: expected a value after 'is' "
        "at column 10",
        ".circleci/deploy-gate.yml:6: error: rules[1] (q): missing required key 'trigger'",
        ".circleci/deploy-gate.yml:7: error: rules[1] (q): when: unknown fact 'brnch' "
        "(did you mean 'branch'?)",
        ".circleci/deploy-gate.yml:8: error: rules[1] (q): unknown key 'trigerr' "
        "(did you mean 'trigger'?)",
        "check: 5 errors",
    ]


def test_json_findings(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = V1_RULES.replace("trigger: deploy_docker", "trigger: nope")
    code, lines = check(tmp_path, rules, SEED_CONFIG, "--json", capsys=capsys)
    assert code == 2
    doc = json.loads("\n".join(lines))
    assert doc["ok"] is False
    assert doc["findings"][0]["message"] == V1_WARNING.split("circleci.api: ", 1)[1]
    assert doc["findings"][1] == {
        "level": "error",
        "file": ".circleci/deploy-gate.yml",
        "line": 3,
        "key": "rules (p): trigger",
        "message": "'nope' is not a job under jobs: in .circleci/config.yml (known: build, "
        "deploy_docker, deploy_staging, deploy_production)",
    }


@pytest.mark.parametrize(
    ("config", "args", "message"),
    [
        (
            "version: 2\njobs: {}\nversion: 2.1\n",
            (),
            ".circleci/config.yml:3: error: not valid YAML: duplicate key 'version' (column 1)",
        ),
        (
            None,
            ("--config", "ci.yml"),
            "ci.yml:1: error: --config: no such file",
        ),
        (
            "- a list\n",
            (),
            ".circleci/config.yml:1: error: not a CircleCI config (expected a mapping at the top)",
        ),
    ],
)
def test_a_broken_config_is_one_error_finding(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    config: str | None,
    args: tuple[str, ...],
    message: str,
) -> None:
    rules = "rules:\n  - {name: p, if: branch is release, trigger: deploy_docker}\n"
    code, lines = check(tmp_path, rules, config, *args, capsys=capsys)
    assert (code, lines) == (2, [message, "check: 1 error"])


def test_check_as_a_process_has_no_traceback(tmp_path: Path) -> None:
    write(tmp_path / ".circleci" / "deploy-gate.yml", "rules: [\n")
    result = run_gate(["check"], {}, tmp_path)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


# --- schema -----------------------------------------------------------------------------


def schema() -> dict[str, Any]:
    from ci_deploy_gate.commands.schema import schema_text

    return dict(json.loads(schema_text()))


def as_json(value: object) -> object:
    """YAML as an editor's language server hands it to the schema: dates as text."""
    if isinstance(value, dict):
        return {key: as_json(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_json(item) for item in value]
    return value.isoformat(sep=" ")[:16] if isinstance(value, date) else value


def validate(text: str) -> list[str]:
    import jsonschema
    import yaml

    validator = jsonschema.Draft202012Validator(schema())
    return [error.message for error in validator.iter_errors(as_json(yaml.safe_load(text)))]


def test_schema_command_prints_the_shipped_schema(capsys: pytest.CaptureFixture[str]) -> None:
    import jsonschema

    assert main(["schema"], {}) == 0
    printed = json.loads(capsys.readouterr().out)
    jsonschema.Draft202012Validator.check_schema(printed)
    assert printed == schema()


def test_schema_accepts_the_example_with_its_commented_blocks() -> None:
    text = example_rules()
    assert validate(text) == []
    for name in ("git", "time", "target"):
        block = text.split(f"# BEGIN {name} example\n")[1].split(f"# END {name} example")[0]
        if name in ("git", "target"):
            lines = [line.replace("  # ", "  ", 1) for line in block.splitlines()]
            assert validate("rules:\n" + "\n".join(lines) + "\n") == []
        else:
            lines = [line[2:] for line in block.splitlines()]
            assert validate("\n".join(lines) + "\nrules: [{name: a, if: x, trigger: d}]\n") == []


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("rules: [{name: a, if: x, trigerr: d}]\n", "'trigger' is a required property"),
        ("circleci: {api: v3}\nrules: [{name: a, if: x, trigger: d}]\n", "'v3' is not one of"),
        ("rules: [{name: a, if: x, when: {branch: m}, trigger: d}]\n", "is valid under each of"),
        (
            "windows: {w: {timezone: UTC, days: mon, hours: '9-5'}}\n"
            "rules: [{name: a, if: x, trigger: d}]\n",
            "does not match",
        ),
    ],
)
def test_schema_rejects_what_the_gate_rejects(text: str, message: str) -> None:
    assert any(message in found for found in validate(text)), validate(text)


# --- init -------------------------------------------------------------------------------


def test_init_writes_a_starter_that_passes_check(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--job", "deploy_docker"], {}) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "wrote .circleci/deploy-gate.yml\n\n"
        "No .circleci/config.yml here: the gate's pipelines need a 2.1 config like\n\n"
        "    version: 2.1\n"
    )
    assert out.endswith(
        "          - deploy_docker:\n"
        "              serial-group: << pipeline.project.slug >>/deploy_docker\n\n"
        "Add a step to the job that builds and tests, after the tests, in .circleci/config.yml:\n"
        "\n"
        "      - run:\n"
        "          name: Deploy gate\n"
        "          command: |\n"
        "            pip install --user ci-deploy-gate\n"
        "            python -m ci_deploy_gate --report /tmp/deploy-gate/report.json\n"
        "      - store_artifacts:\n"
        "          path: /tmp/deploy-gate\n\n"
        "and a CircleCI personal API token in the project environment variable\n"
        "CIRCLE_API_USER_TOKEN (API v2 takes no project token). Then check it against the "
        "config,\nand try it on this checkout:\n\n"
        "    python -m ci_deploy_gate check\n"
        "    python -m ci_deploy_gate --dry-run\n"
    )
    starter = (tmp_path / ".circleci" / "deploy-gate.yml").read_text()
    assert validate(starter) == []
    code, lines = check(tmp_path, None, SEED_CONFIG_21, capsys=capsys)
    assert (code, lines) == (0, [PARALLEL_NOTE_21, "check: 1 note"])


def test_init_never_overwrites(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(tmp_path / ".circleci" / "deploy-gate.yml", "mine\n")
    assert main(["init"], {}) == 2
    assert capsys.readouterr().err == (
        "ci-deploy-gate init: error: .circleci/deploy-gate.yml exists: not overwritten "
        "(edit it, or pass --rules PATH for another file)\n"
    )
    assert path.read_text() == "mine\n"


def test_init_says_why_it_cannot_write(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    write(tmp_path / "taken", "a file, not a folder\n")
    assert main(["init", "--rules", "taken/gate.yml"], {}) == 2
    assert capsys.readouterr() == ("", "ci-deploy-gate init: error: taken/gate.yml: File exists\n")


# --- the API against the config version ---------------------------------------------------


def test_a_version_2_config_with_no_api_named_says_both_ways_out(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "rules:\n  - {name: p, if: branch is release, trigger: deploy_docker}\n"
    code, lines = check(tmp_path, rules, SEED_CONFIG, capsys=capsys)
    assert (code, lines) == (
        2,
        [
            ".circleci/config.yml:1: error: version: this is a `version: 2` config and "
            ".circleci/deploy-gate.yml names no circleci.api, so the gate would fire API v2 "
            "pipelines, which a `version: 2` config cannot read (it has no pipeline "
            "parameters): set circleci.api: v1.1 in .circleci/deploy-gate.yml to keep the "
            "single-job trigger until CircleCI removes it on 1 February 2027, or run "
            "`python -m ci_deploy_gate migrate` to move the config to 2.1",
            PARALLEL_NOTE,
            "check: 1 error, 1 note",
        ],
    )


def test_a_version_2_0_config_with_api_v2_named_is_one_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "circleci: {api: v2}\n" + V1_RULES.split("\n", 1)[1]
    code, lines = check(
        tmp_path, rules, SEED_CONFIG.replace("version: 2\n", "version: 2.0\n", 1), capsys=capsys
    )
    assert (code, lines) == (
        2,
        [
            ".circleci/config.yml:1: error: version: this is a `version: 2` config, and the "
            "rules use API v2, whose pipelines need a 2.1 config (pipeline parameters, "
            "workflows chosen by `when:`): run `python -m ci_deploy_gate migrate` to move the "
            "config to 2.1, or set circleci.api: v1.1 in .circleci/deploy-gate.yml to keep the "
            "single-job trigger until CircleCI removes it on 1 February 2027",
            PARALLEL_NOTE,
            "check: 1 error, 1 note",
        ],
    )


def test_api_v1_1_warns_of_its_removal_even_without_a_config(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "circleci:\n  token_env: T\n  api: v1.1\n" + V1_RULES.split("\n", 1)[1]
    code, lines = check(tmp_path, rules, None, token=False, capsys=capsys)
    assert code == 0
    assert lines[1] == V1_WARNING.replace("deploy-gate.yml:1:", "deploy-gate.yml:3:")
    assert check(tmp_path, None, None, "--strict", capsys=capsys)[0] == 2


# --- the 2.1 side of a v2 trigger -----------------------------------------------------------

EXAMPLE_CLEAN = (0, [PARALLEL_NOTE_21, "check: 1 note"])


def check_21(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], *changes: tuple[str, str]
) -> tuple[int, list[str]]:
    """The example rules against the 2.1 seed with `changes` made (each must change it)."""
    config = SEED_CONFIG_21
    for old, new in changes:
        assert old in config, old
        config = config.replace(old, new)
    return check(tmp_path, example_rules(), config, capsys=capsys)


def test_a_deploy_workflow_that_ignores_the_job_parameter_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = check_21(
        tmp_path,
        capsys,
        ("    when: {equal: [deploy_docker, << pipeline.parameters.deploy_job >>]}\n", ""),
    )
    assert (code, lines) == (
        2,
        [
            ".circleci/config.yml:44: error: workflows.deploy_docker: no workflow runs only "
            "when deploy_job is 'deploy_docker': the pipeline the gate fires for deploy_docker "
            "would run every workflow, or none; give the workflow that runs deploy_docker "
            "`when: {equal: [deploy_docker, << pipeline.parameters.deploy_job >>]}`",
            ".circleci/config.yml:44: error: workflows.deploy_docker: runs on push and also in "
            "the pipeline the gate fires for deploy_production (deploy_job set), which would "
            'rerun the whole build: keep it out with `when: {equal: ["", '
            "<< pipeline.parameters.deploy_job >>]}`",
            PARALLEL_NOTE_21,
            "check: 2 errors, 1 note",
        ],
    )


def test_a_when_that_names_another_job_does_not_choose_the_deploy(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = check_21(
        tmp_path, capsys, ("equal: [deploy_staging, <<", "equal: [deploy_stage, <<")
    )
    assert code == 2
    assert lines[0] == (
        ".circleci/config.yml:48: error: workflows.deploy_staging: no workflow runs only when "
        "deploy_job is 'deploy_staging': the pipeline the gate fires for deploy_staging would "
        "run every workflow, or none; give the workflow that runs deploy_staging `when: "
        "{equal: [deploy_staging, << pipeline.parameters.deploy_job >>]}`"
    )


UNPINNED = (
    ".circleci/config.yml:{line}: error: jobs.{job}: checks out the source but never reads "
    "<< pipeline.parameters.deploy_revision >>: in the pipeline the gate fires for {trigger} "
    "it would build or deploy the branch head, not the tested commit; give it `environment: "
    "{{DEPLOY_REVISION: << pipeline.parameters.deploy_revision >>}}` and, after its checkout, "
    "a step that checks out $DEPLOY_REVISION (the README's pinned checkout)"
)


@pytest.mark.parametrize(
    ("change", "job", "line"),
    [
        # the command with checkout inside loses its pin: both jobs using it deploy the head
        (
            (
                '      - run: git checkout --detach "<< pipeline.parameters.deploy_revision >>"\n',
                "",
            ),
            "deploy_docker",
            21,
        ),
        # the workflow hands the job parameter something else
        (
            (
                "          revision: << pipeline.parameters.deploy_revision >>\n",
                "          revision: main\n",
            ),
            "deploy_production",
            28,
        ),
        # the job takes the revision as a parameter but checks out without it
        (
            ('      - run: git checkout --detach "<< parameters.revision >>"\n', ""),
            "deploy_production",
            28,
        ),
    ],
)
def test_a_fired_job_that_checks_out_without_the_revision_is_an_error(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    change: tuple[str, str],
    job: str,
    line: int,
) -> None:
    code, lines = check_21(tmp_path, capsys, change)
    assert code == 2
    assert lines[0] == UNPINNED.format(line=line, job=job, trigger=job)


def test_a_command_without_the_pin_fails_every_job_using_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = check_21(
        tmp_path,
        capsys,
        ('      - run: git checkout --detach "<< pipeline.parameters.deploy_revision >>"\n', ""),
    )
    assert (code, lines) == (
        2,
        [
            UNPINNED.format(line=21, job="deploy_docker", trigger="deploy_docker"),
            UNPINNED.format(line=24, job="deploy_staging", trigger="deploy_staging"),
            PARALLEL_NOTE.replace(":3:", ":12:"),
            "check: 2 errors, 1 note",
        ],
    )


@pytest.mark.parametrize(
    "change",
    [
        # through the job's environment: its script checks out $DEPLOY_SHA
        (
            "    steps: [checkout_tested, {run: ./deploy.sh docker}]\n",
            "    environment: {DEPLOY_SHA: << pipeline.parameters.deploy_revision >>}\n"
            "    steps: [checkout, {run: ./deploy.sh docker}]\n",
        ),
        # through a step's environment
        (
            "    steps: [checkout_tested, {run: ./deploy.sh docker}]\n",
            "    steps:\n      - checkout\n      - run:\n          command: ./deploy.sh docker\n"
            "          environment: {SHA: << pipeline.parameters.deploy_revision >>}\n",
        ),
        # no checkout at all: it deploys an image tagged with the revision
        (
            "    steps: [checkout_tested, {run: ./deploy.sh docker}]\n",
            "    steps:\n"
            "      - run: docker push acme/shop:<< pipeline.parameters.deploy_revision >>\n",
        ),
        # no checkout and no revision: nothing to pin
        (
            "    steps: [checkout_tested, {run: ./deploy.sh docker}]\n",
            "    steps: [{run: ./promote.sh}]\n",
        ),
    ],
)
def test_a_fired_job_reads_the_revision_any_way_or_needs_none(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], change: tuple[str, str]
) -> None:
    assert check_21(tmp_path, capsys, change) == EXAMPLE_CLEAN


UNGUARDED = (
    ".circleci/config.yml:37: error: workflows.build: runs on push and also in the pipeline "
    "the gate fires for deploy_docker (deploy_job set), which would rerun the whole build: "
    'keep it out with `when: {equal: ["", << pipeline.parameters.deploy_job >>]}`'
)


@pytest.mark.parametrize(
    ("guard", "extra"),
    [
        ("", ""),
        (
            "    when: {equal: [release, << pipeline.git.branch >>]}\n",
            " (with its present `when` under an `and:`)",
        ),
        # only staging is kept out
        (
            "    when: {not: {equal: [deploy_staging, << pipeline.parameters.deploy_job >>]}}\n",
            " (with its present `when` under an `and:`)",
        ),
    ],
)
def test_a_push_workflow_not_kept_from_the_fired_pipeline_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], guard: str, extra: str
) -> None:
    code, lines = check_21(
        tmp_path, capsys, ("    unless: << pipeline.parameters.deploy_job >>\n", guard)
    )
    assert (code, lines) == (2, [UNGUARDED + extra, PARALLEL_NOTE_21, "check: 1 error, 1 note"])


@pytest.mark.parametrize(
    "guard",
    [
        '    when: {equal: ["", << pipeline.parameters.deploy_job >>]}\n',
        "    when:\n      not: << pipeline.parameters.deploy_job >>\n",
        "    unless: {not: {equal: ['', << pipeline.parameters.deploy_job >>]}}\n",
        "    when:\n      and:\n        - equal: ['', << pipeline.parameters.deploy_job >>]\n"
        "        - not: {equal: [gh-pages, << pipeline.git.branch >>]}\n",
        "    when:\n      not:\n        matches:\n          pattern: '^deploy_.+$'\n"
        "          value: << pipeline.parameters.deploy_job >>\n",
        "    when: {not: {equal: [api, << pipeline.trigger_source >>]}}\n",
    ],
)
def test_push_workflows_kept_out_every_way_are_clean(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], guard: str
) -> None:
    change = ("    unless: << pipeline.parameters.deploy_job >>\n", guard)
    assert check_21(tmp_path, capsys, change) == EXAMPLE_CLEAN


def test_a_deploy_without_serial_group_gets_a_note(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, lines = check_21(
        tmp_path,
        capsys,
        (
            "      - deploy_docker: {serial-group: << pipeline.project.slug >>/deploy}\n",
            "      - deploy_docker\n",
        ),
    )
    assert (code, lines) == (
        0,
        [
            PARALLEL_NOTE_21,
            ".circleci/config.yml:47: note: workflows.deploy_docker.jobs.deploy_docker: has no "
            "serial-group: two pipelines fired close together would deploy at once; add "
            "`serial-group: << pipeline.project.slug >>/deploy_docker` here (CircleCI's lock "
            "across pipelines, Cloud and Server 4.9+: the newer pipeline's job goes first and "
            "an older one waiting is skipped)",
            "check: 2 notes",
        ],
    )


# A workflow the gate fires by name, with two deploy jobs after a migration job.
SHIP_CONFIG = """\
version: 2.1
orbs:
  aws-ecs: circleci/aws-ecs@4.0.0
parameters:
  deploy_job: {type: string, default: ""}
  deploy_revision: {type: string, default: ""}
executors:
  base: &base
    docker: [{image: cimg/base:current}]
commands:
  pinned:
    parameters:
      sha: {type: string}
    steps:
      - checkout
      - run: git checkout --detach << parameters.sha >>
jobs:
  test:
    <<: *base
    steps: [checkout, {run: make test}, {run: ci-deploy-gate}]
  migrate:
    <<: *base
    steps: [{pinned: {sha: << pipeline.parameters.deploy_revision >>}}, {run: make migrate}]
  deploy_eu:
    <<: *base
    steps: [{pinned: {sha: << pipeline.parameters.deploy_revision >>}}, {run: make deploy-eu}]
  deploy_us:
    <<: *base
    steps: [checkout, {run: make deploy-us}]
workflows:
  test:
    when:
      not:
        equal: [ship, << pipeline.parameters.deploy_job >>]
    jobs: [test]
  ship:
    when: {equal: [ship, << pipeline.parameters.deploy_job >>]}
    jobs:
      - migrate
      - deploy_eu: {requires: [migrate]}
      - deploy_us: {requires: [migrate]}
      - aws-ecs/deploy-service-update: {requires: [deploy_eu]}
"""


def test_two_deploy_jobs_of_a_fired_workflow_each_pin_and_serialize(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = "rules:\n  - {name: ship, if: branch is main, trigger: ship}\n"
    code, lines = check(tmp_path, rules, SHIP_CONFIG, capsys=capsys)
    assert (code, lines) == (
        2,
        [
            ".circleci/config.yml:27: error: jobs.deploy_us: checks out the source but never "
            "reads << pipeline.parameters.deploy_revision >>: in the pipeline the gate fires "
            "for ship it would build or deploy the branch head, not the tested commit; give it "
            "`environment: {DEPLOY_REVISION: << pipeline.parameters.deploy_revision >>}` and, "
            "after its checkout, a step that checks out $DEPLOY_REVISION (the README's pinned "
            "checkout)",
            ".circleci/config.yml:41: note: workflows.ship.jobs.deploy_us: has no serial-group: "
            "two pipelines fired close together would deploy at once; add `serial-group: "
            "<< pipeline.project.slug >>/deploy_us` here (CircleCI's lock across pipelines, "
            "Cloud and Server 4.9+: the newer pipeline's job goes first and an older one "
            "waiting is skipped)",
            ".circleci/config.yml:42: note: workflows.ship.jobs.aws-ecs/deploy-service-update: "
            "has no serial-group: two pipelines fired close together would deploy at once; add "
            "`serial-group: << pipeline.project.slug >>/aws-ecs/deploy-service-update` here "
            "(CircleCI's lock across pipelines, Cloud and Server 4.9+: the newer pipeline's job "
            "goes first and an older one waiting is skipped)",
            "check: 1 error, 2 notes",
        ],
    )


def test_a_v1_job_that_attaches_a_workspace_is_warned(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = SEED_CONFIG.replace(
        "    steps: [checkout, {run: ./deploy.sh docker}]\n",
        "    steps:\n      - attach_workspace: {at: /tmp/build}\n      - run: ./deploy.sh docker\n",
    )
    code, lines = check(tmp_path, V1_RULES, config, capsys=capsys)
    assert (code, lines) == (
        0,
        [
            V1_WARNING,
            PARALLEL_NOTE,
            ".circleci/config.yml:15: warning: jobs.deploy_docker.steps: deploy_docker "
            "attaches a workspace, but a job fired alone through API v1.1 has none (no job ran "
            "before it): make what it needs inside the job, or move to API v2 pipelines with "
            "`python -m ci_deploy_gate migrate`",
            "check: 2 warnings, 1 note",
        ],
    )


def init_output(tmp_path: Path, config: str, capsys: pytest.CaptureFixture[str]) -> str:
    write(tmp_path / ".circleci" / "config.yml", config)
    assert main(["init", "--job", "deploy_docker"], {}) == 0
    return capsys.readouterr().out


def test_init_on_a_ready_2_1_config_says_it_has_what_the_pipelines_need(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = init_output(tmp_path, SEED_CONFIG_21, capsys)
    assert out.startswith(
        "wrote .circleci/deploy-gate.yml\n\n"
        ".circleci/config.yml has what the gate's pipelines need for deploy_docker: the "
        "parameters, a workflow chosen by the job parameter, the pinned checkout, the push "
        "workflows kept out, and a serial group.\n\nAdd a step to the job"
    )
    assert "  api: v2 " in (tmp_path / ".circleci" / "deploy-gate.yml").read_text()


def test_init_prints_what_a_2_1_config_still_needs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = init_output(
        tmp_path, ORBS_CONFIG.replace("  deploy_revision: {type", "  rev: {type"), capsys
    )
    assert out.split("\nAdd a step to the job")[0] == (
        "wrote .circleci/deploy-gate.yml\n\n"
        ".circleci/config.yml still needs, for the pipelines the gate fires:\n\n"
        ".circleci/config.yml:5: parameters: declare what the gate sends\n\n"
        "    parameters:\n"
        '      deploy_revision: {type: string, default: ""}\n'
    )


def test_init_on_a_2_1_config_without_the_pieces_prints_each(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = SEED_CONFIG.replace("version: 2\n", "version: 2.1\n", 1).replace(
        "  build:\n    jobs:\n", "  build:\n    jobs:\n      - deploy_docker\n"
    )
    out = init_output(tmp_path, config, capsys)
    assert out.split("\nAdd a step to the job")[0] == (
        "wrote .circleci/deploy-gate.yml\n\n"
        ".circleci/config.yml still needs, for the pipelines the gate fires:\n\n"
        ".circleci/config.yml:1: parameters: declare what the gate sends\n\n"
        "    parameters:\n"
        '      deploy_job: {type: string, default: ""}\n'
        '      deploy_revision: {type: string, default: ""}\n\n'
        ".circleci/config.yml:23: error: workflows.build: no workflow runs only when "
        "deploy_job is 'deploy_docker': the pipeline the gate fires for deploy_docker would "
        "run every workflow, or none; give the workflow that runs deploy_docker `when: "
        "{equal: [deploy_docker, << pipeline.parameters.deploy_job >>]}`\n\n"
        "    workflows:\n"
        "      build:\n"
        "        when:\n"
        "          equal: [deploy_docker, << pipeline.parameters.deploy_job >>]\n\n"
        ".circleci/config.yml:12: error: jobs.deploy_docker: checks out the source but never "
        "reads << pipeline.parameters.deploy_revision >>: in the pipeline the gate fires for "
        "deploy_docker it would build or deploy the branch head, not the tested commit; give "
        "it `environment: {DEPLOY_REVISION: << pipeline.parameters.deploy_revision >>}` and, "
        "after its checkout, a step that checks out $DEPLOY_REVISION (the README's pinned "
        "checkout)\n\n"
        "    jobs:\n"
        "      deploy_docker:\n"
        "        environment:\n"
        "          DEPLOY_REVISION: << pipeline.parameters.deploy_revision >>\n"
        "        steps:\n"
        "          - checkout\n"
        '          - run: \'case "$DEPLOY_REVISION" in "" | *[!0-9a-f]*) echo "DEPLOY_REVISION '
        'is not a commit SHA" >&2; exit 1 ;; esac; git checkout --detach "$DEPLOY_REVISION"\'\n'
    )


def test_init_on_a_version_2_config_with_v1_1_triggers_writes_nothing_and_says_migrate(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = SEED_CONFIG.replace(
        "          command: python -m ci_deploy_gate --report /tmp/deploy-gate/report.json\n",
        "          command: |\n"
        "            curl -u ${CIRCLE_TOKEN}: -d build_parameters[CIRCLE_JOB]=deploy_docker \\\n"
        "              https://circleci.com/api/v1.1/project/github/acme/shop/tree/$CIRCLE_BRANCH\n",
    )
    write(tmp_path / ".circleci" / "config.yml", config)
    assert main(["init"], {}) == 2
    assert capsys.readouterr() == (
        "",
        "ci-deploy-gate init: error: .circleci/config.yml:9: jobs.build fires a job through "
        "API v1.1, which CircleCI removes on 1 February 2027: nothing written; run `python -m "
        "ci_deploy_gate migrate` to move the config to 2.1 pipelines, then `init` again\n",
    )
    assert not (tmp_path / ".circleci" / "deploy-gate.yml").exists()


def test_init_on_a_version_2_config_without_triggers_says_it_needs_2_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = init_output(tmp_path, SEED_CONFIG, capsys)
    assert out.startswith(
        "wrote .circleci/deploy-gate.yml\n\n"
        ".circleci/config.yml still needs, for the pipelines the gate fires:\n\n"
        ".circleci/config.yml:1: version: the gate's API v2 pipelines need `version: 2.1` "
        "(`python -m ci_deploy_gate migrate` moves a `version: 2` config)\n\n"
        "    version: 2.1\n\n"
        ".circleci/config.yml:1: parameters: declare what the gate sends\n"
    )


def test_init_with_a_config_named_that_is_missing_is_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["init", "--config", "ci.yml"], {}) == 2
    assert capsys.readouterr() == (
        "",
        "ci-deploy-gate init: error: --config ci.yml: no such file\n",
    )
    assert not (tmp_path / ".circleci").exists()


def test_init_starters_commented_target_loads_when_uncommented() -> None:
    from ci_deploy_gate.commands.init import starter
    from ci_deploy_gate.rules import parse_rules

    block = starter("deploy").split("  # Another project's pipeline")[1].split("  # Or deploy")[0]
    lines = [line.replace("  # ", "  ", 1) for line in block.splitlines()[1:]]
    trigger = parse_rules("rules:\n" + "\n".join(lines) + "\n", "starter.yml").rules[0].trigger
    assert (trigger.project, trigger.branch, trigger.pin) == ("gh/ORG/docs", "master", False)
    assert trigger.parameters == (("site_version", "${sha}"),)


def test_init_with_a_job_the_config_does_not_have_says_so(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    write(tmp_path / ".circleci" / "config.yml", SEED_CONFIG_21)
    assert main(["init", "--job", "deploy"], {}) == 0
    out = capsys.readouterr().out
    assert ".circleci/config.yml still needs, for the pipelines the gate fires:\n\n" in out
    assert "jobs: no job 'deploy' to deploy: pass --job with the deploy job (jobs here: " in out
