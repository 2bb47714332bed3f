"""`migrate`: a `version: 2` config that fires jobs through the v1/v1.1 trigger API from
a curl step, turned into a `version: 2.1` config and a rules file for API v2.

One concern a module: `shell` reads a step's script into words and commands (knowing
what was quoted), `shelltest` translates shell tests into the `if` language (`ifexpr`
holds the result), `triggers` finds the curl triggers in steps and what guards them,
`filters` folds the workflow filters of the job into the rule, `configedit` rewrites the
config with ruamel.yaml, `rulesfile` writes the rules file, `plan` ties them together.
A problem that cannot be translated exactly is a `Refusal`; `plan` gathers them all
into one ConfigError, one line each.
"""

from __future__ import annotations

from ci_deploy_gate.records import NamedTuple


class Refusal(NamedTuple):
    """Something that cannot be migrated exactly: where it is, and why."""

    line: int  # 1-based, in the config
    text: str  # the shell or YAML text at fault (never a token)
    reason: str


class Refused(Exception):
    """Raised inside the translation with the reason; `plan` adds the file and line."""

    def __init__(self, reason: str, *, secret: bool = False) -> None:
        self.reason = reason
        self.secret = secret  # the shell text holds a token: name the line, not the text
        self.line: int | None = None  # in the script, set by the first reader that knows it
        super().__init__(reason)
