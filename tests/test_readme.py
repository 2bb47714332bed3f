"""The README shows what the tool prints: its examples are run here, not retyped."""

from __future__ import annotations

from tests.conftest import ROOT, run_gate


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
