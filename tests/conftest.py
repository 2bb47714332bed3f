from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from ci_deploy_gate.circleci.retry import Clock

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "tests" / "data"  # copies of what the tests need; tests/data/README.md says whence
SHA = "4abf27c499581fceaa1a3d2903d99a9e4262c920"
TOKEN = "c1rcle-t0ken-5ecret-0123456789abcdef0123"

# Recorded real CircleCI v1.1 exchanges in tests/data/v1.1-responses
CREATED = (
    "mtchavez-circleci-vcr__CircleCi_Project__build_branch__when_successful__build__"
    "returns_newly_created_build.yml"
)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """CI runs the tests with CI=true, and maybe inside CircleCI: its own variables
    must never change a verdict."""
    for name in list(os.environ):
        if name in ("CI", "CIRCLECI") or name.startswith(("CIRCLE_", "DEPLOY_GATE_")):
            monkeypatch.delenv(name)
    yield


def circle_env(**overrides: str | None) -> dict[str, str]:
    """A push of `release` on node 0 of 1, as CircleCI sets it; None removes a variable."""
    env = {
        "CIRCLECI": "true",
        "CIRCLE_BRANCH": "release",
        "CIRCLE_SHA1": SHA,
        "CIRCLE_PROJECT_USERNAME": "acme",
        "CIRCLE_PROJECT_REPONAME": "shop",
        "CIRCLE_REPOSITORY_URL": "git@github.com:acme/shop.git",
        "CIRCLE_USERNAME": "alice",
        "CIRCLE_JOB": "build",
        "CIRCLE_NODE_INDEX": "0",
        "CIRCLE_NODE_TOTAL": "1",
        "CIRCLE_API_USER_TOKEN": TOKEN,
    }
    for name, value in overrides.items():
        if value is None:
            env.pop(name, None)
        else:
            env[name] = value
    return env


RELEASE_RULES = """\
version: 1
rules:
  - name: production
    if: branch is release and not pull_request
    trigger: deploy_docker
"""
V1_RULES = "circleci: {api: v1.1}\n" + RELEASE_RULES  # the job trigger of a `version: 2` config


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def run_gate(
    args: list[str], env: Mapping[str, str], cwd: Path, timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    """`python -m ci_deploy_gate` as CircleCI runs it: a fresh process, only `env` set."""
    full_env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "PYTHONDONTWRITEBYTECODE": "1",
        **env,
    }
    return subprocess.run(
        [sys.executable, "-m", "ci_deploy_gate", *args],
        env=full_env,
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def recorded(name: str) -> Any:
    """A recorded real CircleCI exchange from tests/data/v1.1-responses."""
    import yaml

    path = DATA / "v1.1-responses" / name
    return yaml.safe_load(path.read_text(encoding="utf-8"))


@pytest.fixture
def fake() -> Iterator[Any]:
    """A stateful CircleCI on loopback (tests/fake_circleci.py)."""
    from tests.fake_circleci import serve

    yield from serve()


class FakeTime:
    """Waits move this clock on instead of sleeping; jitter always takes the full span."""

    def __init__(self) -> None:
        self.now = 0.0
        self.waits: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.waits.append(seconds)
        self.now += seconds

    def clock(self) -> Clock:
        return Clock(now=lambda: self.now, sleep=self.sleep, random=lambda: 1.0)


@pytest.fixture
def fake_time() -> FakeTime:
    """Waits advance this clock instead of sleeping."""
    return FakeTime()
