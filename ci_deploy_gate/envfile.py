"""`--env-file` and `--set`: a fake or derived CircleCI environment for a local dry-run."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from ci_deploy_gate.errors import ConfigError

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def read_env_file(path: str) -> dict[str, str]:
    """The dotenv format as python-dotenv reads it, but a bad line is an error, not a skip."""
    from dotenv.parser import parse_stream

    try:
        with open(path, encoding="utf-8") as handle:
            bindings = list(parse_stream(handle))
    except OSError as exc:
        raise ConfigError(f"--env-file {path}: cannot read it: {exc.strerror or exc}") from None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"--env-file {path}: not UTF-8 text: {exc.reason}") from None
    values: dict[str, str] = {}
    for binding in bindings:
        line = binding.original.line
        if binding.error or (binding.key is not None and not _NAME.match(binding.key)):
            # The line itself is not echoed: it may hold a secret.
            raise ConfigError(f"{path}:{line}: expected NAME=VALUE")
        if binding.key is None:
            continue  # blank line or comment
        if binding.value is None:  # a lone word: it may be a pasted token, so not shown
            raise ConfigError(f"{path}:{line}: expected NAME=VALUE, found no '=' {_NOT_SHOWN}")
        values[binding.key] = binding.value
    return values


_NOT_SHOWN = "(not shown: it may hold a secret)"


def parse_assignments(assignments: Sequence[str]) -> dict[str, str]:
    """A bad --set is named by its place, never echoed: `--set TOKEN:value` or a token
    pasted alone would otherwise print the secret before anything knows to redact it."""
    values: dict[str, str] = {}
    for number, item in enumerate(assignments, 1):
        name, equals, value = item.partition("=")
        where = f"--set #{number}" if len(assignments) > 1 else "--set"
        if not equals:
            raise ConfigError(f"{where}: expected NAME=VALUE, found no '=' {_NOT_SHOWN}")
        if not name:
            raise ConfigError(f"{where}: expected NAME=VALUE, found nothing before '='")
        if not _NAME.match(name):
            raise ConfigError(
                f"{where}: expected NAME=VALUE, found a NAME that is not a variable name "
                f"{_NOT_SHOWN}"
            )
        values[name] = value
    return values


def overrides(env_files: Sequence[str], assignments: Sequence[str]) -> dict[str, tuple[str, str]]:
    """NAME -> (value, where it was set): each --env-file in order, then every --set."""
    found: dict[str, tuple[str, str]] = {}
    for path in env_files:
        found.update((k, (v, f"--env-file {path}")) for k, v in read_env_file(path).items())
    found.update((k, (v, "--set")) for k, v in parse_assignments(assignments).items())
    return found


def overlay(
    environ: Mapping[str, str], env_files: Sequence[str], assignments: Sequence[str]
) -> dict[str, str]:
    """Process environment, then each --env-file in order, then every --set."""
    merged = dict(environ)
    merged.update((k, v) for k, (v, _) in overrides(env_files, assignments).items())
    return merged
