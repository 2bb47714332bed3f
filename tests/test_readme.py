"""The README shows what the tool prints: its examples are run here, not retyped."""

from __future__ import annotations

from pathlib import Path

from tests.conftest import ROOT, circle_env, run_gate, write
from tests.gitrepo import Repo


def test_the_quick_start_dry_run_prints_what_the_readme_shows() -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    start = "```text\ndry-run: rule 'production' matched; nothing sent\n  rule production:"
    shown = readme.split(start, 1)[1].split("```", 1)[0]
    result = run_gate(
        ["--rules", "rules.example.yaml", "--env-file", "examples/release.env", "--dry-run"],
        {},
        ROOT,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == start.removeprefix("```text\n") + shown


def test_the_git_facts_examples_print_what_the_readme_shows(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("\n### Git facts\n", 1)[1].split("\n### ", 1)[0]
    rules = section.split("```yaml\n", 1)[1].split("```", 1)[0]
    feature, tag, error = (block.split("```", 1)[0] for block in section.split("```text\n")[1:])
    repo = Repo(tmp_path / "project")  # CircleCI's checkout of a tag: no origin/main
    sha = repo.commit("api", "api/app.py")
    write(repo.path / ".circleci" / "deploy-gate.yml", rules)

    result = run_gate([], circle_env(CIRCLE_BRANCH="feature/login", CIRCLE_SHA1=sha), repo.path)
    assert (result.returncode, result.stdout) == (0, feature), result.stderr

    env = circle_env(CIRCLE_BRANCH=None, CIRCLE_TAG="v1.0.0", CIRCLE_SHA1=sha)
    result = run_gate(["--dry-run"], env, repo.path)
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(tag)

    result = run_gate([], circle_env(CIRCLE_BRANCH="main", CIRCLE_SHA1=sha), repo.path)
    assert result.returncode == 2
    assert result.stderr == error.replace("/home/circleci/project", str(repo.path))


def test_the_readme_config_and_rules_pass_check(tmp_path: Path) -> None:
    import re

    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Use it in `config.yml`")[1].split("\n## ")[0]
    config, rules = re.findall(r"```yaml\n(.*?)```", section, re.S)[:2]
    write(tmp_path / ".circleci" / "config.yml", config)
    write(tmp_path / ".circleci" / "deploy-gate.yml", rules)
    result = run_gate(["check"], {}, tmp_path)
    assert (result.returncode, result.stdout.splitlines()[-1]) == (0, "check: 2 notes"), (
        result.stdout
    )
