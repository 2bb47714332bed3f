"""The option table: the quick reader and argparse read an invocation alike, and a plain
run of the gate never imports argparse."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from ci_deploy_gate.cli import parse_options, read_options
from ci_deploy_gate.options import OPTIONS, Options, quick_read
from tests.conftest import RELEASE_RULES, ROOT, circle_env, write

PLAIN = [
    [],
    ["--report", "/tmp/deploy-gate/report.json"],
    ["--dry-run", "--json"],
    ["--rules", "gate.yml", "--env-file", "a.env", "--set", "A=B"],
    ["--json", "--report=out/r.json", "--dry-run"],
    ["--env-file", "a.env", "--env-file=b.env", "--set", "A=B", "--set=C=D=E", "--set", "F="],
    ["--rules", "first.yml", "--rules=second.yml"],
    ["--wait", "--wait-timeout", "60", "--wait-for-nodes"],
    ["--wait-timeout=1.5", "--wait", "--wait"],
    ["--now", "2026-11-20T17:00:00+01:00", "--repo", ".."],
    ["--now=2026-11-20T16:00:00Z", "--api-url", "https://circleci.example", "--force"],
    ["--verbose", "--api-url=http://127.0.0.1:8080", "--repo=src"],
]

UNUSUAL = [
    ["-h"],
    ["--help"],
    ["--version"],
    ["--dry"],  # an abbreviation argparse accepts
    ["--dry-run=yes"],
    ["--rules"],
    ["--rules", "--json"],
    ["--rules="],
    ["--set", "-x"],
    ["--wait-timeout", "soon"],
    ["--wait-timeout", "0"],
    ["--now", "2026-11-20T17:00"],
    ["check"],
    ["--json", "extra"],
    ["--", "--json"],
    ["--bogus"],
]


def test_options_are_the_tables_fields_in_order() -> None:
    assert Options._fields == tuple(option.dest for option in OPTIONS)


@pytest.mark.parametrize("words", PLAIN, ids=" ".join)
def test_quick_reader_and_argparse_agree(words: list[str]) -> None:
    quick = quick_read(words)
    assert quick is not None
    assert quick == parse_options(words)


def test_quick_reader_values() -> None:
    words = ["--env-file", "a.env", "--env-file=b.env", "--set", "A=B", "--set=C=D=E"]
    read = quick_read([*words, "--now", "2026-11-20T17:00:00+01:00", "--wait-timeout=90"])
    assert read is not None
    assert (read.env_files, read.assignments) == (("a.env", "b.env"), ("A=B", "C=D=E"))
    assert read.now == datetime(2026, 11, 20, 17, tzinfo=timezone(timedelta(hours=1)))
    assert (read.wait_timeout, read.rules, read.repo, read.json) == (90.0, None, ".", False)


@pytest.mark.parametrize("words", UNUSUAL, ids=" ".join)
def test_quick_reader_leaves_the_unusual_to_argparse(words: list[str]) -> None:
    assert quick_read(words) is None


def test_an_abbreviation_is_read_by_argparse() -> None:
    assert read_options(["--dry", "--repor", "r.json"]) == quick_read(
        ["--dry-run", "--report", "r.json"]
    )


def _imported(args: list[str], tmp_path: Path) -> set[str]:
    """The modules `python -m ci_deploy_gate ARGS` imported, as -X importtime lists them."""
    env = {
        **circle_env(),
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    done = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "ci_deploy_gate", *args],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        check=False,
    )
    lines = [line for line in done.stderr.splitlines() if line.startswith("import time:")]
    assert lines, done.stderr
    return {line.rsplit("|", 1)[1].strip() for line in lines}


def test_a_plain_run_never_imports_argparse(tmp_path: Path) -> None:
    rules = write(tmp_path / "gate.yml", RELEASE_RULES)
    plain = _imported(["--rules", str(rules), "--dry-run", "--json", "--set", "A=B"], tmp_path)
    assert "ci_deploy_gate.gate" in plain  # the run happened
    assert "argparse" not in plain
    assert "argparse" in _imported(["--rules", str(rules), "--dry"], tmp_path)
