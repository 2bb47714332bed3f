from __future__ import annotations

from pathlib import Path

import pytest

from ci_deploy_gate.envfile import overlay, read_env_file
from ci_deploy_gate.errors import ConfigError
from tests.conftest import ROOT, write


def test_dotenv_forms(tmp_path: Path) -> None:
    path = write(
        tmp_path / "ci.env",
        "# a comment\n\nexport CIRCLE_BRANCH=release\nA='single quoted'\n"
        'B="double # not a comment"\nC=plain # comment\nEMPTY=\n',
    )
    assert read_env_file(str(path)) == {
        "CIRCLE_BRANCH": "release",
        "A": "single quoted",
        "B": "double # not a comment",
        "C": "plain",
        "EMPTY": "",
    }


def test_shipped_example_environment_reads() -> None:
    values = read_env_file(str(ROOT / "examples" / "release.env"))
    assert values["CIRCLE_BRANCH"] == "release"
    assert values["CIRCLECI"] == "true"


def test_set_wins_over_env_file_which_wins_over_environment(tmp_path: Path) -> None:
    path = write(tmp_path / "ci.env", "A=file\nB=file\n")
    merged = overlay({"A": "process", "B": "process", "C": "process"}, [str(path)], ["B=set"])
    assert (merged["A"], merged["B"], merged["C"]) == ("file", "set", "process")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("A=1\nthis is not it\n", "ci.env:2: expected NAME=VALUE"),
        (
            "A=1\nLONELY\n",
            "ci.env:2: expected NAME=VALUE, found no '=' (not shown: it may hold a secret)",
        ),
        ("1BAD=x\n", "ci.env:1: expected NAME=VALUE"),
    ],
)
def test_bad_env_file_line(tmp_path: Path, text: str, message: str) -> None:
    path = write(tmp_path / "ci.env", text)
    with pytest.raises(ConfigError) as caught:
        read_env_file(str(path))
    assert str(caught.value) == f"{tmp_path}/{message}"


def test_bad_env_file_line_is_not_echoed(tmp_path: Path) -> None:
    path = write(tmp_path / "ci.env", "TOKEN secret-value-here\n")
    with pytest.raises(ConfigError) as caught:
        read_env_file(str(path))
    assert "secret-value-here" not in str(caught.value)


def test_missing_env_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        read_env_file(str(tmp_path / "none.env"))
    assert (
        str(caught.value)
        == f"--env-file {tmp_path}/none.env: cannot read it: No such file or directory"
    )


NOT_SHOWN = "(not shown: it may hold a secret)"


@pytest.mark.parametrize(
    ("items", "message"),
    [
        (["NOEQUALS"], f"--set: expected NAME=VALUE, found no '=' {NOT_SHOWN}"),
        (["A=1", "tok3n"], f"--set #2: expected NAME=VALUE, found no '=' {NOT_SHOWN}"),
        (["=x"], "--set: expected NAME=VALUE, found nothing before '='"),
        (
            ["1A=x"],
            f"--set: expected NAME=VALUE, found a NAME that is not a variable name {NOT_SHOWN}",
        ),
        (
            ["TOKEN:s3cr3t=="],
            f"--set: expected NAME=VALUE, found a NAME that is not a variable name {NOT_SHOWN}",
        ),
    ],
)
def test_bad_set_is_named_not_echoed(items: list[str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        overlay({}, [], items)
    assert str(caught.value) == message
