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
    capsys: pytest.CaptureFixture[str],
) -> tuple[int, list[str]]:
    """`check` in `tmp_path`; (exit code, the lines it printed)."""
    if rules is not None:
        write(tmp_path / ".circleci" / "deploy-gate.yml", rules)
    if config is not None:
        write(tmp_path / ".circleci" / "config.yml", config)
    env = {"CIRCLE_API_USER_TOKEN": TOKEN} if token else {}
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


def test_an_unset_token_is_a_warning(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = "rules:\n  - {name: p, if: branch is release, trigger: deploy_docker}\n"
    code, lines = check(tmp_path, rules, SEED_CONFIG_21, token=False, capsys=capsys)
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
            "ci-deploy-gate check: error: .circleci/config.yml:3:1: not valid YAML: "
            "duplicate key 'version'",
        ),
        (
            None,
            ("--config", "ci.yml"),
            "ci-deploy-gate check: error: --config ci.yml: no such file",
        ),
        (
            "- a list\n",
            (),
            "ci-deploy-gate check: error: .circleci/config.yml: not a CircleCI config "
            "(expected a mapping at the top)",
        ),
    ],
)
def test_broken_configs_are_one_clear_line(
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    config: str | None,
    args: tuple[str, ...],
    message: str,
) -> None:
    rules = "rules:\n  - {name: p, if: branch is release, trigger: deploy_docker}\n"
    code, lines = check(tmp_path, rules, config, *args, capsys=capsys)
    assert (code, lines) == (2, [message])


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
    for name in ("git", "time"):
        block = text.split(f"# BEGIN {name} example\n")[1].split(f"# END {name} example")[0]
        if name == "git":
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
