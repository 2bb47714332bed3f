"""The CircleCI config as the run reads it on every build: its `version:` line, cheaply."""

from __future__ import annotations

from pathlib import Path

import pytest

from ci_deploy_gate.ciconfig import says_version_2
from tests.conftest import write


@pytest.mark.parametrize(
    ("first_lines", "version_2"),
    [
        ("version: 2\n", True),
        ("version: 2.0\n", True),
        ("version: '2'\n", True),
        ('version: "2.0"  # old\n', True),
        ("# a comment\n\nversion: 2\njobs: {}\n", True),
        ("version: 2.1\n", False),
        ("version: 21\n", False),
        ("jobs:\n  x:\n    version: 2\n", False),  # not the top-level key
        ("", False),
    ],
)
def test_the_version_line_says_whether_a_config_is_version_2(
    tmp_path: Path, first_lines: str, version_2: bool
) -> None:
    path = write(tmp_path / "config.yml", first_lines)
    assert says_version_2(str(path)) is version_2


def test_no_config_is_not_version_2(tmp_path: Path) -> None:
    assert says_version_2(str(tmp_path / "none.yml")) is False
