"""`migrate` on the two seed configs from CircleCI's documents and on real-world shaped
ones (tests/data/migrate/, tests/data/README.md says whence): the result loads under
CircleCI's published schema, `check` finds no error, the `when:` clauses run exactly the
right workflows, and the gate's dry-run fires in exactly the situations where the old
step's curl fired, as bash itself runs it with a recording `curl`."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import subprocess
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import unquote_plus

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ci_deploy_gate.cli import main
from ci_deploy_gate.commands.check import check
from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.migration.plan import make_plan
from tests.circleci_logic import job_runs, workflows_run
from tests.conftest import DATA, ROOT, SHA, TOKEN, run_gate

SEEDS = DATA / "migrate"
CONFIGS = [
    "api-job-trigger.yml",
    "defining-multiple-jobs.yml",
    "maintenance-deploy.yml",
    "token-run-if.yml",
    "anchors-filters.yml",
]
PR_URL = "https://github.com/acme/shop/pull/7"


class Situation:
    def __init__(
        self,
        name: str,
        branch: str | None,
        tag: str | None = None,
        pr: bool = False,
        fork: bool = False,
        user: str = "alice",
    ) -> None:
        self.name, self.branch, self.tag = name, branch, tag
        self.pr, self.fork, self.user = pr, fork, user

    def env(self, job: str, node: int, total: int) -> dict[str, str]:
        env = {
            "CIRCLECI": "true",
            "CIRCLE_SHA1": SHA,
            "CIRCLE_PROJECT_USERNAME": "acme",
            "CIRCLE_PROJECT_REPONAME": "shop",
            "CIRCLE_REPOSITORY_URL": "git@github.com:acme/shop.git",
            "CIRCLE_USERNAME": self.user,
            "CIRCLE_JOB": job,
            "CIRCLE_BUILD_NUM": "41",
            "CIRCLE_NODE_INDEX": str(node),
            "CIRCLE_NODE_TOTAL": str(total),
        }
        if self.branch:
            env["CIRCLE_BRANCH"] = self.branch
        if self.tag:
            env["CIRCLE_TAG"] = self.tag
        if self.pr:
            env["CIRCLE_PULL_REQUEST"] = PR_URL
        if self.fork:  # CircleCI withholds secrets from forked pull requests
            env.update(
                CIRCLE_PR_NUMBER="7", CIRCLE_PR_USERNAME="mallory", CIRCLE_PR_REPONAME="shop"
            )
        return env


SITUATIONS = [
    Situation("push main", "main"),
    Situation("push master", "master"),
    Situation("push release", "release"),
    Situation("push maintenance/1.10", "maintenance/1.10"),
    Situation("push maintenance/1.x", "maintenance/1.x"),
    Situation("push a hotfix branch", "fix-hotfix-login"),
    Situation("push a feature branch", "feature/login"),
    Situation("push gh-pages", "gh-pages"),
    Situation("push a dependabot branch", "dependabot/npm_and_yarn/lodash-4.17.21"),
    Situation("tag v1.2.3", None, tag="v1.2.3"),
    Situation("tag nightly", None, tag="nightly"),
    Situation("pull request from main", "main", pr=True),
    Situation("pull request from a feature branch", "feature/login", pr=True),
    Situation("forked pull request", "pull/7", pr=True, fork=True),
    Situation("docs-bot pushes a feature branch", "feature/docs", user="docs-bot"),
    Situation("docs-bot pushes main", "main", user="docs-bot"),
]

RECORDING_CURL = """#!/bin/bash
# records its arguments, one call a line, the arguments separated by \\x1f
{ for arg in "$@"; do printf '%s\\x1f' "$arg"; done; printf '\\n'; } >> "$CURL_LOG"
"""


def load(path: Path) -> Any:
    return yaml.safe_load(path.read_text(encoding="utf-8"))


def migrated(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> tuple[Path, str]:
    """Copy the config to .circleci/config.yml of a fresh folder, migrate --write it."""
    folder = tmp_path / "repo"
    (folder / ".circleci").mkdir(parents=True)
    shutil.copy(SEEDS / name, folder / ".circleci" / "config.yml")
    here = os.getcwd()
    os.chdir(folder)
    try:
        code = main(["migrate", "--write"], {})
    finally:
        os.chdir(here)
    out = capsys.readouterr().out
    assert code == 0, out
    return folder, out


def trigger_steps(config: Any) -> list[tuple[str, str, str]]:
    """(job, step kind, command) of the old config's trigger steps."""
    found = []
    for job, body in config["jobs"].items():
        for step in body.get("steps", []):
            if isinstance(step, dict):
                ((kind, value),) = step.items()
                command = value.get("command") if isinstance(value, dict) else value
                if kind in ("run", "deploy") and "build_parameters" in str(command):
                    found.append((job, kind, str(command)))
    return found


def recording_curl(folder: Path) -> Path:
    """The folder of the recording `curl`, written once: written while another thread
    forks, its file could still be open in that child when bash execs it (ETXTBSY, and
    the old step would seem to fire nothing), so the tests write it before their threads."""
    bin_dir = folder / "bin"
    if not (bin_dir / "curl").exists():
        bin_dir.mkdir(exist_ok=True)
        (bin_dir / "curl").write_text(RECORDING_CURL, encoding="utf-8")
        (bin_dir / "curl").chmod(0o755)
    return bin_dir


def old_fires(
    command: str, env: dict[str, str], tmp: Path, token: bool
) -> dict[str, dict[str, str]]:
    """Run the old step's script as CircleCI does (bash -eo pipefail) with a recording
    curl on PATH; the jobs it fired, each with its build_parameters. A call fires only with
    the token in it (a forked PR has none) and a branch in its URL (v1.1 has no route for
    .../tree/ with an empty branch: a tag build fired nothing)."""
    bin_dir = recording_curl(tmp.parent)
    log = tmp / "curl.log"
    log.unlink(missing_ok=True)
    full = {**env, "PATH": f"{bin_dir}:/usr/bin:/bin", "CURL_LOG": str(log)}
    for name in (
        "CIRCLE_TOKEN",
        "CIRCLE_API_TOKEN",
        "CIRCLE_API_USER_TOKEN",
        "TOKEN",
        "DEPLOY_TOKEN",
    ):
        if token:
            full[name] = TOKEN
    subprocess.run(
        ["bash", "-eo", "pipefail", "-c", command],
        env=full,
        cwd=tmp,
        capture_output=True,
        check=False,
    )
    fired: dict[str, dict[str, str]] = {}
    for line in log.read_text(encoding="utf-8").splitlines() if log.exists() else []:
        args = line.split("\x1f")[:-1]
        url = next(a for a in args if a.startswith("http"))
        if not any(TOKEN in a for a in args) or "/tree/" not in url or url.endswith("/tree/"):
            continue
        fields = {}
        for option, value in zip(args, args[1:]):
            if option in ("-d", "--data", "--data-urlencode", "-F", "--form"):
                name, _, content = value.partition("=")
                if option in ("-d", "--data"):
                    name, content = unquote_plus(name), unquote_plus(content)
                fields[name] = content
        job = fields.pop("build_parameters[CIRCLE_JOB]")
        fired[job] = {
            k[len("build_parameters[") : -1]: v
            for k, v in fields.items()
            if k.startswith("build_parameters[")
        }
    return fired


def gate_command(config: Any, job: str) -> list[str]:
    """The arguments of `python -m ci_deploy_gate ...` in the migrated job's gate step."""
    for step in config["jobs"][job]["steps"]:
        run = step.get("run") if isinstance(step, dict) else None
        command = run.get("command") if isinstance(run, dict) else run
        for line in str(command or "").splitlines():
            if line.startswith("python -m ci_deploy_gate"):
                return shlex.split(line)[3:]
    raise AssertionError(f"no gate step in {job}")


def gate_fires(
    folder: Path, args: list[str], env: dict[str, str]
) -> tuple[dict[str, Any], dict[str, Any]]:
    done = run_gate([*args, "--dry-run", "--json"], env, cwd=folder)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    return {t["job"]: t["request"]["body"] for t in report.get("triggers") or []}, report


@pytest.mark.parametrize("name", CONFIGS)
def test_migrated_gate_fires_exactly_where_the_old_step_did(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = load(SEEDS / name)
    folder, _ = migrated(tmp_path, name, capsys)
    new = load(folder / ".circleci" / "config.yml")
    ((job, kind, command),) = trigger_steps(old)
    nodes = old["jobs"][job].get("parallelism", 1)
    args = gate_command(new, job)
    cases = []
    for situation in SITUATIONS:
        for node in sorted({0, nodes - 1}):
            cases.append((situation, node))

    def one(
        case: tuple[Situation, int],
    ) -> tuple[Situation, int, dict[str, Any], dict[str, Any], dict[str, Any]]:
        situation, node = case
        env = situation.env(job, node, nodes)
        scratch = tmp_path / f"old-{id(case)}"
        scratch.mkdir()
        runs, filtered = job_runs(old, job, situation.branch, situation.tag, {})
        expected: dict[str, Any] = {}
        if runs and not (kind == "deploy" and node != 0):  # deploy ran on node 0 alone
            expected = old_fires(command, env, scratch, token=not situation.fork)
        if node != 0:
            if kind == "run" and runs:  # the old run step fired from every node
                assert old_fires(command, env, scratch, token=not situation.fork) == old_fires(
                    command, situation.env(job, 0, nodes), scratch, token=not situation.fork
                )
            expected = {}  # the gate fires once, from node 0
        new_runs, _ = job_runs(
            new, job, situation.branch, situation.tag, {"deploy_job": "", "deploy_revision": ""}
        )
        assert new_runs == runs, situation.name
        fired, _ = gate_fires(folder, args, env)
        alone = fired
        fired = fired if new_runs else {}
        return situation, node, expected, fired, alone if filtered else {}

    recording_curl(tmp_path)
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(one, cases))
    for situation, node, expected, fired, filtered_alone in results:
        where = f"{name}: {situation.name}, node {node}"
        assert set(fired) == set(expected), where
        assert filtered_alone == {}, f"{where}: the workflow filters are not in the rule"
        for fired_job, body in fired.items():
            assert body["parameters"]["deploy_job"] == fired_job, where
            assert body["parameters"]["deploy_revision"] == SHA, where
            assert body.get("branch") == situation.branch, where
            extra = {
                k: v
                for k, v in body["parameters"].items()
                if k not in ("deploy_job", "deploy_revision")
            }
            assert extra == expected[fired_job], where
    assert any(expected for _, _, expected, _, _ in results), f"{name}: no situation fires"


def schema_validator() -> Any:
    import jsonschema

    schema = json.loads((DATA / "circleci-config-schema.json").read_text(encoding="utf-8"))
    return jsonschema.Draft7Validator(schema)


@pytest.mark.parametrize("name", CONFIGS)
def test_migrated_config_loads_and_checks_clean(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, out = migrated(tmp_path, name, capsys)
    new = load(folder / ".circleci" / "config.yml")
    errors = sorted(schema_validator().iter_errors(new), key=lambda e: list(e.path))
    assert not errors, [f"{list(e.path)}: {e.message}" for e in errors]
    assert new["version"] == 2.1
    rules = str(folder / ".circleci" / "deploy-gate.yml")
    findings = check(
        rules, str(folder / ".circleci" / "config.yml"), {"CIRCLE_API_USER_TOKEN": TOKEN}
    )
    assert [f for f in findings if f.level == "error"] == []
    assert "check: " in out and " error" not in out.split("check: ")[-1]


@pytest.mark.parametrize("name", CONFIGS)
def test_when_clauses_run_the_push_workflows_or_the_one_deploy(
    name: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    old = load(SEEDS / name)
    folder, _ = migrated(tmp_path, name, capsys)
    new = load(folder / ".circleci" / "config.yml")
    declared = new["parameters"]
    assert declared["deploy_job"] == {"type": "string", "default": ""}
    assert declared["deploy_revision"] == {"type": "string", "default": ""}
    push = {name: spec["default"] for name, spec in declared.items()}
    old_workflows = [w for w in (old.get("workflows") or {}) if w != "version"] or ["build"]
    assert workflows_run(new, push) == old_workflows
    rules = load(folder / ".circleci" / "deploy-gate.yml")
    for job in {
        r["trigger"] if isinstance(r["trigger"], str) else r["trigger"]["job"]
        for r in rules["rules"]
    }:
        assert workflows_run(new, {**push, "deploy_job": job, "deploy_revision": SHA}) == [job]


def test_the_seed_becomes_what_the_readme_shows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = migrated(tmp_path, "api-job-trigger.yml", capsys)
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Moving off API v1.1 before 1 February 2027", 1)[1].split("\n## ", 1)[
        0
    ]
    blocks = section.split("```yaml\n")[1:]
    shown = [block.split("```", 1)[0] for block in blocks]
    assert (SEEDS / "api-job-trigger.yml").read_text(encoding="utf-8") in shown
    assert (folder / ".circleci" / "config.yml").read_text(encoding="utf-8") in shown
    assert (folder / ".circleci" / "deploy-gate.yml").read_text(encoding="utf-8") in shown


def test_the_seed_moves_the_job_to_the_pinned_revision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, out = migrated(tmp_path, "token-run-if.yml", capsys)
    new = load(folder / ".circleci" / "config.yml")
    deploy = new["jobs"]["deploy"]
    assert deploy["environment"] == {"DEPLOY_REVISION": "<< pipeline.parameters.deploy_revision >>"}
    assert deploy["steps"][0] == "checkout"
    assert deploy["steps"][1]["run"]["name"] == "Check out the deploy revision"
    docs = new["jobs"]["publish_docs"]["steps"]
    assert (
        docs[:2] == ["checkout", docs[1]] and "git checkout --detach" in docs[1]["run"]["command"]
    )
    assert "personal API tokens" in out and "$DEPLOY_REVISION" in out


def test_the_revision_step_checks_out_only_a_set_revision(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = migrated(tmp_path, "token-run-if.yml", capsys)
    step = load(folder / ".circleci" / "config.yml")["jobs"]["deploy"]["steps"][1]["run"]["command"]
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "git").write_text('#!/bin/sh\necho "git $*" >> "$GIT_LOG"\n', encoding="utf-8")
    (bin_dir / "git").chmod(0o755)
    assert "<<" not in step  # the parameter is never shell text: the step reads $DEPLOY_REVISION
    for revision, expected, status in (
        ("", "", 0),
        (SHA, f"git checkout --detach {SHA}\n", 0),
        ("--orphan=x", "", 1),
        ("main", "", 1),
        ("$(touch pwned)", "", 1),
    ):
        log = tmp_path / "git.log"
        log.unlink(missing_ok=True)
        env = {"PATH": f"{bin_dir}:/usr/bin:/bin", "GIT_LOG": str(log), "DEPLOY_REVISION": revision}
        done = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", step], env=env, cwd=tmp_path, capture_output=True
        )
        assert done.returncode == status, revision
        assert (log.read_text() if log.exists() else "") == expected
        assert not (tmp_path / "pwned").exists()


def test_the_revision_step_runs_where_the_checkout_went(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """`checkout: {path: ~/src}` puts the source in ~/src: the pin runs there, and `check`
    still sees the job read the revision."""
    folder = tmp_path / "repo"
    (folder / ".circleci").mkdir(parents=True)
    text = (SEEDS / "workflow-named-like-the-job.yml").read_text(encoding="utf-8")
    config = folder / ".circleci" / "config.yml"
    config.write_text(text.replace("  deploy:\n    jobs:", "  ci:\n    jobs:"), encoding="utf-8")
    here = os.getcwd()
    os.chdir(folder)
    try:
        code = main(["migrate", "--write"], {})
    finally:
        os.chdir(here)
    out = capsys.readouterr().out
    assert code == 0, out
    steps = load(config)["jobs"]["deploy"]["steps"]
    assert steps[0] == {"checkout": {"path": "~/src"}}
    assert steps[1]["run"]["name"] == "Check out the deploy revision"
    assert steps[1]["run"]["working_directory"] == "~/src"
    findings = check(str(folder / ".circleci" / "deploy-gate.yml"), str(config), {})
    assert [f for f in findings if f.level == "error"] == [], findings


def test_anchors_aliases_and_comments_are_kept(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder, _ = migrated(tmp_path, "anchors-filters.yml", capsys)
    text = (folder / ".circleci" / "config.yml").read_text(encoding="utf-8")
    for kept in (
        "&container",
        "<<: *container",
        "&deploy_env",
        "environment: *deploy_env",
        "- lint: *release_filters",
        "<<: *release_filters",
        "# Shared pieces, reused below through aliases and merge keys.",
    ):
        assert kept in text
    new = load(folder / ".circleci" / "config.yml")
    assert new["jobs"]["lint"]["environment"] == {
        "AWS_REGION": "eu-west-1"
    }  # the shared map untouched
    assert new["jobs"]["deploy"]["environment"] == {
        "AWS_REGION": "eu-west-1",
        "DEPLOY_REVISION": "<< pipeline.parameters.deploy_revision >>",
        "DEPLOY_TARGET": "<< pipeline.parameters.DEPLOY_TARGET >>",
    }


def test_an_untranslatable_test_is_refused_line_by_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "repo"
    (folder / ".circleci").mkdir(parents=True)
    config = folder / ".circleci" / "config.yml"
    shutil.copy(SEEDS / "untranslatable.yml", config)
    before = config.read_text(encoding="utf-8")
    done = run_gate(["migrate", "--write"], {}, cwd=folder)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr == (
        "ci-deploy-gate migrate: error: cannot migrate "
        ".circleci/config.yml exactly; nothing written:\n"
        "  .circleci/config.yml:11: if [[ $CIRCLE_BRANCH == @(main|release-+([0-9])) ]]; then: "
        "an extended glob (@(...), !(...), +(...)) is not translated\n"
        "  .circleci/config.yml:21: if [ -f .deploy-lock ]; then exit 0; fi: "
        "`-f` tests the file system, not the build\n"
    )
    assert config.read_text(encoding="utf-8") == before
    assert not (folder / ".circleci" / "deploy-gate.yml").exists()


def test_an_existing_rules_file_is_not_overwritten(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "repo"
    (folder / ".circleci").mkdir(parents=True)
    shutil.copy(SEEDS / "api-job-trigger.yml", folder / ".circleci" / "config.yml")
    (folder / ".circleci" / "deploy-gate.yml").write_text("rules: []\n", encoding="utf-8")
    done = run_gate(["migrate", "--write"], {}, cwd=folder)
    assert done.returncode == 2
    assert done.stderr == (
        "ci-deploy-gate migrate: error: cannot migrate "
        ".circleci/config.yml exactly; nothing written:\n"
        "  .circleci/deploy-gate.yml exists: not overwritten (pass --rules PATH for another file)\n"
    )
    assert (folder / ".circleci" / "deploy-gate.yml").read_text(encoding="utf-8") == "rules: []\n"


def test_a_literal_token_is_refused_without_showing_it(tmp_path: Path) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "version: 2\njobs:\n  build:\n    docker: [{image: x}]\n    steps:\n      - run: |\n"
        "          curl -u 0123secret4567: -d build_parameters[CIRCLE_JOB]=deploy \\\n"
        "            https://circleci.com/api/v1.1/project/github/o/r/tree/$CIRCLE_BRANCH\n"
        "  deploy:\n    docker: [{image: x}]\n    steps: [checkout]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        make_plan(str(config), str(tmp_path / "rules.yml"))
    assert "0123secret4567" not in str(caught.value)
    assert f"{config}:7: the step's command: -u is not a $VARIABLE" in str(caught.value)


def test_a_config_without_triggers_is_one_line(tmp_path: Path) -> None:
    (tmp_path / ".circleci").mkdir()
    (tmp_path / ".circleci" / "config.yml").write_text(
        "version: 2\njobs:\n  build:\n    steps: [checkout]\n"
    )
    done = run_gate(["migrate"], {}, cwd=tmp_path)
    assert (done.returncode, done.stdout, done.stderr) == (
        0,
        ".circleci/config.yml: nothing to migrate: no step fires a job through API v1/v1.1\n",
        "",
    )


def test_a_config_that_is_not_yaml_is_one_line(tmp_path: Path) -> None:
    (tmp_path / ".circleci").mkdir()
    (tmp_path / ".circleci" / "config.yml").write_text("version: 2\njobs: [\n")
    done = run_gate(["migrate"], {}, cwd=tmp_path)
    assert done.returncode == 2
    assert done.stderr.startswith(
        "ci-deploy-gate migrate: error: .circleci/config.yml:3: cannot parse the CircleCI config"
    )
    assert done.stderr.count("\n") == 1


def test_a_dry_run_prints_both_diffs_and_changes_nothing(tmp_path: Path) -> None:
    (tmp_path / ".circleci").mkdir()
    shutil.copy(SEEDS / "api-job-trigger.yml", tmp_path / ".circleci" / "config.yml")
    done = run_gate(["migrate"], {}, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("--- .circleci/config.yml\n+++ .circleci/config.yml\n")
    assert "--- /dev/null\n+++ .circleci/deploy-gate.yml\n" in done.stdout
    assert "note: API v2 accepts only personal API tokens" in done.stdout
    assert (tmp_path / ".circleci" / "config.yml").read_text() == (
        SEEDS / "api-job-trigger.yml"
    ).read_text()
    assert not (tmp_path / ".circleci" / "deploy-gate.yml").exists()


TRIGGER = (
    "curl -u ${T}: -d build_parameters[CIRCLE_JOB]=deploy https://circleci.com/api/v1.1/"
    "project/github/$CIRCLE_PROJECT_USERNAME/$CIRCLE_PROJECT_REPONAME/tree/$CIRCLE_BRANCH"
)
STEP_LINES = st.sampled_from(
    [
        "if [[ $CIRCLE_BRANCH == main ]]; then",
        "fi",
        "else",
        TRIGGER,
        f'[ -n "$CIRCLE_TAG" ] && {TRIGGER}',
        TRIGGER.replace("=deploy", "=other").replace("$CIRCLE_PROJECT_USERNAME", "o"),
        "echo hi",
        "exit 0",
        "make",
        "'",
        '"',
        "[[ ",
        "$(date)",
        "build_parameters",
        "  - run: x",
        ": |",
        "\t",
        "{",
        "*a",
        "&b",
    ]
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.lists(STEP_LINES, max_size=8), st.sampled_from(["run", "deploy"]), st.text(max_size=40))
def test_any_step_or_config_text_migrates_or_is_refused(
    tmp_path: Path, lines: list[str], kind: str, noise: str
) -> None:
    body = "\n".join(f"          {line}" for line in lines)
    texts = [
        f"version: 2\njobs:\n  build:\n    docker: [{{image: x}}]\n    steps:\n "
        f"     - {kind}:\n          command: |\n{body or '          x'}\n"
        "  deploy:\n    docker: [{image: x}]\n    steps: [checkout]\n  other:\n    steps: []\n",
        noise,
        "version: 2\n" + noise,
    ]
    for index, text in enumerate(texts):
        config = tmp_path / f"config-{index}.yml"
        config.write_text(text, encoding="utf-8")
        with contextlib.suppress(ConfigError):
            make_plan(str(config), str(tmp_path / "never-written.yml"))


def test_a_workflow_named_like_the_fired_job_is_refused_not_replaced(tmp_path: Path) -> None:
    """The deploy workflow must be named for the job (the gate's v2 lookup finds a deploy
    by that name), so a push workflow of that name is never replaced: refused."""
    folder = tmp_path / "repo"
    (folder / ".circleci").mkdir(parents=True)
    config = folder / ".circleci" / "config.yml"
    shutil.copy(SEEDS / "workflow-named-like-the-job.yml", config)
    before = config.read_text(encoding="utf-8")
    done = run_gate(["migrate", "--write"], {}, cwd=folder)
    assert done.returncode == 2
    assert done.stderr == (
        "ci-deploy-gate migrate: error: cannot migrate "
        ".circleci/config.yml exactly; nothing written:\n"
        "  .circleci/config.yml:22: workflows.deploy: the gate runs 'deploy' in a workflow "
        "named 'deploy', and this workflow has that name: rename the workflow first\n"
    )
    assert config.read_text(encoding="utf-8") == before
    assert not (folder / ".circleci" / "deploy-gate.yml").exists()


def test_a_build_parameter_the_job_sets_itself_is_refused(tmp_path: Path) -> None:
    """`TARGET: staging` in the job, `build_parameters[TARGET]=production` in the curl:
    a pipeline parameter in its place would empty TARGET on push builds of the job, and
    which value the old triggered build saw is not documented. Refused."""
    config = tmp_path / "config.yml"
    shutil.copy(SEEDS / "environment-and-build-parameter.yml", config)
    with pytest.raises(ConfigError) as caught:
        make_plan(str(config), str(tmp_path / "rules.yml"))
    assert str(caught.value) == (
        f"cannot migrate {config} exactly; nothing written:\n"
        f"  {config}:14: jobs.deploy.environment.TARGET: the job sets TARGET itself, and "
        "the trigger sends build_parameters[TARGET]: which value the old build used is not "
        "documented, and the push builds must keep the job's own: rename one of them first"
    )
    text = (SEEDS / "environment-and-build-parameter.yml").read_text(encoding="utf-8")
    config.write_text(text.replace("TARGET: staging", "DEPLOY_REVISION: v1"), encoding="utf-8")
    with pytest.raises(ConfigError) as caught:
        make_plan(str(config), str(tmp_path / "rules.yml"))
    assert (
        f"{config}:14: jobs.deploy.environment.DEPLOY_REVISION: the job sets DEPLOY_REVISION "
        "itself, and the migrated job needs it for the pinned revision: rename one of them first"
    ) in str(caught.value)


@pytest.mark.parametrize(
    ("where", "shell", "fails"),
    [
        ("step", "/bin/sh", True),
        ("job", "/bin/sh -eo pipefail", True),
        ("step", "/bin/bash -u", True),
        ("step", "/bin/bash -eo pipefail", False),
        ("job", "/usr/bin/env bash --login -e", False),
    ],
)
def test_a_trigger_step_under_another_shell_is_refused(
    tmp_path: Path, where: str, shell: str, fails: bool
) -> None:
    """Under dash `[ "$CIRCLE_BRANCH" == master ]` is an error: the step's tests mean what
    bash says only under bash."""
    text = (
        "version: 2\njobs:\n  build:\n    docker: [{image: x}]\n"
        + (f"    shell: {shell}\n" if where == "job" else "")
        + "    steps:\n      - run:\n"
        + (f"          shell: {shell}\n" if where == "step" else "")
        + "          command: |\n"
        '            if [ "$CIRCLE_BRANCH" == "master" ]; then\n'
        "              curl -u $T: -d build_parameters[CIRCLE_JOB]=deploy "
        "https://circleci.com/api/v1.1/project/github/o/r/tree/$CIRCLE_BRANCH\n"
        "            fi\n  deploy:\n    docker: [{image: x}]\n    steps: [{run: echo}]\n"
    )
    config = tmp_path / "config.yml"
    config.write_text(text, encoding="utf-8")
    if not fails:
        assert make_plan(str(config), str(tmp_path / "rules.yml")) is not None
        return
    with pytest.raises(ConfigError) as caught:
        make_plan(str(config), str(tmp_path / "rules.yml"))
    line = 5 if where == "job" else 7
    assert str(caught.value) == (
        f"cannot migrate {config} exactly; nothing written:\n"
        f"  {config}:{line}: shell: {shell}: the trigger step runs under another shell than "
        "bash (CircleCI's default, /bin/bash -eo pipefail), and its tests are read as bash "
        "reads them: run the step under bash first"
    )


@pytest.mark.parametrize("unit", ["x", "$a", '"y"'])
def test_a_huge_line_is_read_in_linear_time_and_never_echoed(tmp_path: Path, unit: str) -> None:
    """A 4 MB line (of one character, of `$a`, of quoted text) is read in a few seconds
    (it took minutes when each character rebuilt the word), and the refusal shows at most
    120 characters of it."""
    config = tmp_path / "config.yml"
    line = unit * (4_000_000 // len(unit))
    config.write_text(
        f"version: 2\njobs:\n  build:\n    steps:\n      - run: |\n          {line} "
        "build_parameters\n",
        encoding="utf-8",
    )
    code = (
        "import sys\nfrom ci_deploy_gate.migration.plan import make_plan\n"
        "from ci_deploy_gate.errors import ConfigError\n"
        "try:\n    make_plan(sys.argv[1], sys.argv[2])\n"
        "except ConfigError as exc:\n    print(exc)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(config), str(tmp_path / "rules.yml")],
        capture_output=True,
        text=True,
        timeout=30,
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"cannot migrate {config} exactly; nothing written:\n")
    assert len(done.stdout) < 1000
    assert "...: " in done.stdout


@pytest.mark.parametrize(
    "options",
    ["-u $T:", "-u $T: --no-such-option", "-u $T: -X GET", "-u $T: -d build_parameters[X]=$Y"],
)
def test_a_credential_in_the_url_is_refused_and_never_shown(tmp_path: Path, options: str) -> None:
    config = tmp_path / "config.yml"
    config.write_text(
        "version: 2\njobs:\n  build:\n    docker: [{image: x}]\n    steps:\n      - run: |\n"
        f"          curl {options} -d build_parameters[CIRCLE_JOB]=deploy "
        "https://bot:s3cr3tpassw0rd@circleci.com/api/v1.1/project/github/o/r/tree/$CIRCLE_BRANCH\n"
        "  deploy:\n    docker: [{image: x}]\n    steps: [{run: echo}]\n",
        encoding="utf-8",
    )
    with pytest.raises(ConfigError) as caught:
        make_plan(str(config), str(tmp_path / "rules.yml"))
    assert "s3cr3tpassw0rd" not in str(caught.value)
    assert not (tmp_path / "rules.yml").exists()
    if options == "-u $T:":
        assert str(caught.value) == (
            f"cannot migrate {config} exactly; nothing written:\n"
            f"  {config}:7: the step's command: the URL holds a user name or password "
            "(USER:PASSWORD@HOST): the gate sends no credential from a URL; a credential "
            "written into the config must move to a project environment variable, sent with "
            "-u $VARIABLE: (and be revoked: it is in the history)"
        )


@pytest.mark.parametrize(
    ("option", "value"),
    [
        ("-d", "blue+green%2Fx"),
        ("--data-raw", "blue+green%2Fx"),
        ("--data-binary", "blue+green%2Fx"),
        ("--data-raw", "@literal"),
        ("--data-urlencode", "blue+green%2Fx"),
    ],
)
def test_every_data_option_sends_what_the_server_decodes(
    tmp_path: Path, option: str, value: str
) -> None:
    """curl sends -d, --data-raw and --data-binary as written, and the server url-decodes
    the form: `blue+green%2Fx` is `blue green/x`. --data-urlencode encodes the value first,
    so the server gets it as written; --data-raw never reads a file."""
    config = tmp_path / "config.yml"
    config.write_text(
        "version: 2\njobs:\n  build:\n    docker: [{image: x}]\n    steps:\n      - run: |\n"
        f"          curl -u $T: -d build_parameters[CIRCLE_JOB]=deploy {option} "
        f'"build_parameters[TARGET]={value}" '
        "https://circleci.com/api/v1.1/project/github/o/r/tree/$CIRCLE_BRANCH\n"
        "  deploy:\n    docker: [{image: x}]\n    steps: [{run: echo}]\n",
        encoding="utf-8",
    )
    plan = make_plan(str(config), str(tmp_path / "rules.yml"))
    assert plan is not None
    (rule,) = yaml.safe_load(plan.rules)["rules"]
    expected = {"blue+green%2Fx": "blue green/x", "@literal": "@literal"}[value]
    if option == "--data-urlencode":
        expected = value
    assert rule["trigger"]["parameters"] == {"TARGET": expected}


def test_a_config_that_cannot_be_written_leaves_no_rules_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Both files or neither: when the config cannot be replaced, the new rules file is
    taken away again, so the next run does not refuse with `exists`."""
    folder = tmp_path / "repo"
    (folder / ".circleci").mkdir(parents=True)
    config = folder / ".circleci" / "config.yml"
    shutil.copy(SEEDS / "api-job-trigger.yml", config)
    before = config.read_bytes()
    real_replace = os.replace

    def failing_replace(src: Any, dst: Any) -> None:
        if os.path.basename(str(dst)) == "config.yml":
            raise PermissionError(13, "Permission denied", str(dst))
        real_replace(src, dst)

    monkeypatch.setattr(os, "replace", failing_replace)
    monkeypatch.chdir(folder)
    assert main(["migrate", "--write"], {}) == 2
    assert capsys.readouterr().err == (
        "ci-deploy-gate migrate: error: .circleci/config.yml: Permission denied; nothing "
        "written (the rules file was taken away again)\n"
    )
    assert config.read_bytes() == before
    assert sorted(p.name for p in (folder / ".circleci").iterdir()) == ["config.yml"]
    monkeypatch.setattr(os, "replace", real_replace)
    assert main(["migrate", "--write"], {}) == 0
    assert (folder / ".circleci" / "deploy-gate.yml").exists()


def test_a_crlf_config_keeps_its_line_ends(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "repo"
    (folder / ".circleci").mkdir(parents=True)
    config = folder / ".circleci" / "config.yml"
    lf = (SEEDS / "api-job-trigger.yml").read_text(encoding="utf-8")
    config.write_bytes(lf.replace("\n", "\r\n").encode("utf-8"))
    config.chmod(0o640)
    done = run_gate(["migrate", "--write"], {}, cwd=folder)
    assert done.returncode == 0, done.stderr
    written = config.read_bytes()
    assert written.count(b"\n") == written.count(b"\r\n") > 20
    assert config.stat().st_mode & 0o777 == 0o640
    lf_folder, _ = migrated(tmp_path / "lf", "api-job-trigger.yml", capsys)
    assert written.decode("utf-8").replace("\r\n", "\n") == (
        lf_folder / ".circleci" / "config.yml"
    ).read_text(encoding="utf-8")
