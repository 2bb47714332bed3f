"""The one exception family; `cli.main` turns each into a line and an exit code."""

from __future__ import annotations

EXIT_OK = 0
EXIT_API = 1
EXIT_CONFIG = 2


class GateError(Exception):
    """A failure the user can act on: its text is the whole message."""

    exit_code = EXIT_CONFIG
    decision = "error"


class ConfigError(GateError):
    """Usage, rules-file or environment problem (exit 2): nothing was sent."""


class ApiError(GateError):
    """CircleCI refused the request or could not be reached (exit 1)."""

    exit_code = EXIT_API
    decision = "failed"


class DeployFailed(GateError):
    """The deploy, or a sibling node it waited for, did not succeed (exit 1)."""

    exit_code = EXIT_API
    decision = "failed"
