"""The API token: read from the environment only, and never shown."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from ci_deploy_gate.errors import ConfigError

MASK = "***"
DEFAULT_TOKEN_ENV = "CIRCLE_API_USER_TOKEN"


class Token:
    """Its repr and str are `***`, so no f-string or log line can show the value."""

    __slots__ = ("_value", "name")

    def __init__(self, value: str, name: str) -> None:
        self._value = value
        self.name = name  # the variable it came from: safe to show

    def reveal(self) -> str:
        """For the one header that must carry it."""
        return self._value

    def __repr__(self) -> str:
        return MASK

    __str__ = __repr__


def read_token(environ: Mapping[str, str], name: str) -> Token:
    value = environ.get(name, "").strip()
    if not value:
        raise ConfigError(
            f"environment: {name} is not set; the gate needs a CircleCI API token there "
            "to fire a job (on a forked pull request CircleCI withholds it; "
            "circleci.token_env names another variable)"
        )
    return Token(value, name)


def secret_values(environ: Mapping[str, str], *names: str) -> list[str]:
    """What to redact: the token under each name it may be read from."""
    return [value for value in (environ.get(name, "").strip() for name in names) if value]


def redact(text: str, secrets: Iterable[str]) -> str:
    """Every output path goes through this: a secret never reaches a log or a report."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    return text
