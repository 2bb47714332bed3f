"""Real git repositories in temporary folders, made with the git command itself."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

# No user or system configuration can change what these repositories look like.
GIT_ENV = {
    "GIT_CONFIG_GLOBAL": os.devnull,
    "GIT_CONFIG_NOSYSTEM": "1",
    "GIT_AUTHOR_NAME": "Dev",
    "GIT_AUTHOR_EMAIL": "dev@acme.io",
    "GIT_COMMITTER_NAME": "Robot",
    "GIT_COMMITTER_EMAIL": "robot@acme.io",
}


class Repo:
    def __init__(self, path: Path, *, init: bool = True) -> None:
        self.path = path
        if init:
            path.mkdir(parents=True, exist_ok=True)
            self.git("init", "-q", "-b", "main")

    def git(self, *args: str, author: str | None = None) -> str:
        env = {**os.environ, **GIT_ENV}
        if author:
            env["GIT_AUTHOR_EMAIL"] = author
        done = subprocess.run(
            ["git", *args], cwd=self.path, env=env, capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    def write(self, *paths: str, text: str = "x\n") -> None:
        for name in paths:
            target = self.path / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(text, encoding="utf-8")

    def commit(self, message: str, *paths: str, author: str | None = None) -> str:
        """Write `paths`, stage everything, commit; returns the new SHA."""
        self.write(*paths)
        self.git("add", "-A")
        self.git("commit", "-q", "--allow-empty", "-m", message, author=author)
        return self.git("rev-parse", "HEAD")

    def publish(self, branch: str = "main") -> None:
        """Make origin/BRANCH and origin/HEAD point here, as a clone of a remote would."""
        self.git("update-ref", f"refs/remotes/origin/{branch}", "HEAD")
        self.git("symbolic-ref", "refs/remotes/origin/HEAD", f"refs/remotes/origin/{branch}")
