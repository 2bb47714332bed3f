"""`cli.main` in-process: the environment is a dict passed in, never os.environ."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from ci_deploy_gate.cli import main
from tests.conftest import RELEASE_RULES, TOKEN, circle_env, write


def test_dry_run_in_process(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = write(tmp_path / "gate.yml", RELEASE_RULES)
    code = main(["--rules", str(rules), "--dry-run", "--json"], environ=circle_env())
    out, err = capsys.readouterr()
    assert code == 0
    doc = json.loads(out)
    assert doc["decision"] == "dry-run"
    assert doc["triggers"][0]["response"] is None
    assert TOKEN not in out + err


def test_unwritable_report_is_a_configuration_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = write(tmp_path / "gate.yml", RELEASE_RULES)
    blocker = write(tmp_path / "file", "")
    code = main(
        ["--rules", str(rules), "--dry-run", "--report", str(blocker / "r.json")],
        environ=circle_env(),
    )
    out, err = capsys.readouterr()
    assert code == 2
    assert out.startswith("dry-run: ")
    assert err == (
        f"ci-deploy-gate: error: --report {blocker}/r.json: cannot write the report: "
        f"File exists: {blocker}\n"
    )


def test_custom_token_variable_is_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = write(
        tmp_path / "gate.yml",
        "circleci: {token_env: DEPLOY_TOKEN}\nrules:\n"
        "  - {name: p, if: env.DEPLOY_TOKEN is not x, trigger: d}\n",
    )
    code = main(
        ["--rules", str(rules), "--dry-run"], environ=circle_env(DEPLOY_TOKEN="other-secret-42")
    )
    out, _ = capsys.readouterr()
    assert code == 0
    assert "other-secret-42" not in out
    assert "(env.DEPLOY_TOKEN: '***')" in out


def test_usage_error_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as caught:
        main(["--bogus"], environ={})
    assert caught.value.code == 2
    assert "unrecognized arguments: --bogus" in capsys.readouterr().err


def test_token_given_by_set_is_redacted(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = write(
        tmp_path / "gate.yml",
        "rules:\n  - {name: p, if: env.CIRCLE_API_USER_TOKEN is not x, trigger: d}\n",
    )
    code = main(
        [
            "--rules",
            str(rules),
            "--dry-run",
            "--json",
            "--set",
            "CIRCLE_API_USER_TOKEN=set-secret-9",
        ],
        environ=circle_env(CIRCLE_API_USER_TOKEN=None),
    )
    out, err = capsys.readouterr()
    assert code == 0
    assert "set-secret-9" not in out + err
    assert json.loads(out)["rules"][0]["conditions"][0]["actual"] == "***"
