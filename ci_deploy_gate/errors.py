"""The one exception family; `cli.handled` turns each into a line and an exit code."""

from __future__ import annotations

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Sequence

EXIT_OK = 0
EXIT_API = 1
EXIT_CONFIG = 2
EXIT_INTERNAL = 3  # not a GateError: a bug, said in one line (`--verbose`: the traceback)


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


class CommandFailed(GateError):
    """`run`: a command failed, or could not be started (126, 127); the gate exits with
    that command's own code."""

    decision = "command-failed"

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.exit_code = exit_code


def suggest(name: str, known: Sequence[str]) -> str | None:
    """'did you mean ...?' for a misspelt key, fact or name; None when nothing is close."""
    import difflib  # only on the error path

    close = difflib.get_close_matches(name, known, n=1)
    return f"did you mean {close[0]!r}?" if close else None
