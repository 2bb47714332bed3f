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


# --- internal errors: one line, exit 3 ----------------------------------------------------


def test_internal_error_is_one_line_and_exit_3(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # open() refuses a NUL in a path with ValueError, which no GateError describes
    code = main(["--rules", "gate\0.yml", "--dry-run", "--json"], environ=circle_env())
    out, err = capsys.readouterr()
    assert (code, out) == (3, "")
    assert err == (
        "ci-deploy-gate: internal error: ValueError: embedded null byte "
        "(run with --verbose for the traceback)\n"
    )


def test_internal_error_with_verbose_shows_the_traceback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["--rules", "gate\0.yml", "--dry-run", "--verbose"], environ=circle_env())
    err = capsys.readouterr().err.splitlines()
    assert code == 3
    assert err[0] == "Traceback (most recent call last):"
    assert any("read_rules_text" in line for line in err)
    assert err[-2:] == [
        "ValueError: embedded null byte",
        "ci-deploy-gate: internal error: ValueError: embedded null byte",
    ]


def test_internal_error_never_shows_the_token(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import ci_deploy_gate.evaluate

    def broken(*args: object) -> None:
        raise RuntimeError(f"boom\n  near {TOKEN}")

    monkeypatch.setattr(ci_deploy_gate.evaluate, "decide", broken)
    rules = write(tmp_path / "gate.yml", RELEASE_RULES)
    assert main(["--rules", str(rules), "--dry-run"], environ=circle_env()) == 3
    assert capsys.readouterr().err == (
        "ci-deploy-gate: internal error: RuntimeError: boom near *** "
        "(run with --verbose for the traceback)\n"
    )
    assert main(["--rules", str(rules), "--dry-run", "--verbose"], environ=circle_env()) == 3
    err = capsys.readouterr().err
    assert TOKEN not in err
    assert "RuntimeError: boom\n  near ***\n" in err
    assert err.endswith("ci-deploy-gate: internal error: RuntimeError: boom near ***\n")


def test_internal_error_in_a_command(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check", "--rules", "gate\0.yml"], {}) == 3
    assert capsys.readouterr().err == (
        "ci-deploy-gate check: internal error: ValueError: embedded null byte "
        "(run with --verbose for the traceback)\n"
    )
    assert main(["check", "--rules", "gate\0.yml", "--verbose"], {}) == 3
    assert capsys.readouterr().err.startswith("Traceback (most recent call last):\n")


def test_error_report_carries_what_was_decided(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = write(tmp_path / "gate.yml", RELEASE_RULES)
    env = circle_env(CIRCLE_API_USER_TOKEN=None)
    assert main(["--rules", str(rules), "--json"], environ=env) == 2
    out, err = capsys.readouterr()
    assert err == (
        "ci-deploy-gate: error: environment: CIRCLE_API_USER_TOKEN is not set; the gate needs "
        "a CircleCI API token there to fire a job (on a forked pull request CircleCI withholds "
        "it; circleci.token_env names another variable)\n"
    )
    doc = json.loads(out)
    assert (doc["decision"], doc["rule"], doc["node"]) == (
        "error",
        "production",
        {"index": 0, "total": 1},
    )
    assert doc["rules"][0]["matched"] is True
    assert doc["sources"]["branch"] == "environment (CIRCLE_BRANCH)"
    assert doc["triggers"] == []


def test_a_regex_cut_at_its_inner_slash_says_how_to_write_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = write(
        tmp_path / "gate.yml",
        "rules:\n  - name: release\n    if: branch matches /release/.*/\n    trigger: deploy\n",
    )
    code = main(["--rules", str(rules), "--dry-run"], environ=circle_env())
    out, err = capsys.readouterr()
    assert (code, out) == (2, "")
    assert err == (
        f"ci-deploy-gate: error: {rules}:3: rules[0] (release): if: unexpected '.*/' at "
        "column 25 (a /regex/ ends at its first '/' not escaped with '\\': write "
        '/release\\/.*/, quote it: "/release/.*/", or use the glob release/*)\n'
    )


# --- every form of a secret is redacted (issue 14.3) ---------------------------------------

ODD_TOKEN = "qu\"o'te\\back-sl\u00e4sh \u2603+&/secret"
TRIGGER_TOKEN = "tr1gger\\tok\u00e9n-secret"
RULES_SHOWING_TOKENS = (
    "circleci: {token_env: MAIN_TOKEN}\n"
    "rules:\n"
    "  - name: p\n"
    "    if: env.MAIN_TOKEN is not x and env.DOCS_TOKEN is not x\n"
    "    trigger: {job: d, token_env: DOCS_TOKEN}\n"
)


def _forms(secret: str) -> list[str]:
    from urllib.parse import quote, quote_plus

    return [
        secret,
        json.dumps(secret)[1:-1],
        repr(secret)[1:-1],
        quote(secret, safe=""),
        quote_plus(secret),
    ]


@pytest.mark.parametrize("as_json", [False, True])
def test_every_form_of_every_token_is_redacted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], as_json: bool
) -> None:
    rules = write(tmp_path / "gate.yml", RULES_SHOWING_TOKENS)
    report = tmp_path / "r.json"
    code = main(
        ["--rules", str(rules), "--dry-run", "--report", str(report)]
        + (["--json"] if as_json else []),
        environ=circle_env(MAIN_TOKEN=ODD_TOKEN, DOCS_TOKEN=TRIGGER_TOKEN),
    )
    out, err = capsys.readouterr()
    assert code == 0
    written = out + err + report.read_text(encoding="utf-8")
    leaks = [form for token in (ODD_TOKEN, TRIGGER_TOKEN) for form in _forms(token)]
    assert [form for form in leaks if form in written] == []
    doc = json.loads(report.read_text(encoding="utf-8"))
    assert [c["actual"] for c in doc["rules"][0]["conditions"]] == ["***", "***"]
    if as_json:
        assert json.loads(out) == doc
    else:
        assert "(env.MAIN_TOKEN: '***')" in out
        assert "(env.DOCS_TOKEN: '***')" in out


def test_a_one_letter_token_does_not_break_json(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = write(
        tmp_path / "gate.yml",
        "rules:\n  - {name: p, if: env.CIRCLE_API_USER_TOKEN is not x, trigger: d}\n",
    )
    code = main(
        ["--rules", str(rules), "--dry-run", "--json"],
        environ=circle_env(CIRCLE_API_USER_TOKEN="e"),
    )
    out, _ = capsys.readouterr()
    assert code == 0
    doc = json.loads(out)  # the `e` of every key and value is still there
    assert doc["decision"] == "dry-run"
    assert doc["rules"][0]["conditions"][0]["actual"] == "***"


def test_a_short_token_is_redacted_in_text_where_it_stands_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rules = write(
        tmp_path / "gate.yml",
        "rules:\n  - {name: p, if: env.CIRCLE_API_USER_TOKEN is not x, trigger: d}\n",
    )
    code = main(["--rules", str(rules), "--dry-run"], environ=circle_env(CIRCLE_API_USER_TOKEN="e"))
    out, _ = capsys.readouterr()
    assert code == 0
    assert out.startswith("dry-run: rule 'p' matched; nothing sent\n  rule p: matched\n")
    assert "(env.CIRCLE_API_USER_TOKEN: '***')" in out
    assert "'e'" not in out
