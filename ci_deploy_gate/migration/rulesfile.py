"""The rules file `migrate` writes: API v2, the curl's token variable, one rule per
trigger with the shell text it came from as a comment. Written as text (so it reads as a
person would write it) and then validated by the gate's own loader before it is used."""

from __future__ import annotations

import contextlib
import json
import os
import re
import stat

from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.records import NamedTuple

_PLAIN = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_ ./*-]*")
_YAML_WORDS = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n", "~"})

HEADER = """\
# ci-deploy-gate rules, written by `ci-deploy-gate migrate` from the API v1/v1.1 curl
# trigger(s) in {config}. Check them: python -m ci_deploy_gate check
version: 1
"""


class Rule(NamedTuple):
    name: str
    condition: str  # in the `if` language
    job: str
    parameters: tuple[tuple[str, str], ...]
    source: tuple[str, ...]  # "config.yml:12: the shell text", as comments


class Settings(NamedTuple):
    token_env: str
    url: str | None
    vcs: str | None  # github | bitbucket
    project_slug: str | None


def scalar(value: str) -> str:
    """A YAML scalar that reads back as this string."""
    if _PLAIN.fullmatch(value) and value.lower() not in _YAML_WORDS and not value[0].isdigit():
        return value
    if "'" not in value and "\n" not in value and value.isprintable():
        return f"'{value}'"  # backslashes stay as they are: a /regex/ reads as written
    return json.dumps(value)


def condition(value: str) -> str:
    return value if value in ("true", "false") else scalar(value)


def rules_text(config: str, settings: Settings, rules: list[Rule]) -> str:
    lines = [HEADER.format(config=config).rstrip("\n"), "circleci:", "  api: v2"]
    lines.append(
        f"  token_env: {scalar(settings.token_env)}"
        "   # a personal API token: v2 does not take project tokens"
    )
    for key, value in (
        ("url", settings.url),
        ("vcs", settings.vcs),
        ("project_slug", settings.project_slug),
    ):
        if value:
            lines.append(f"  {key}: {scalar(value)}")
    if len(rules) > 1:
        lines.append("match: all   # the old step fired every trigger whose test held")
    lines.append("rules:")
    for rule in rules:
        lines.append(f"  - name: {scalar(rule.name)}")
        for said in rule.source:
            lines.append("    # " + " ".join(said.split()))
        lines.append(f"    if: {condition(rule.condition)}")
        if rule.parameters:
            lines.append("    trigger:")
            lines.append(f"      job: {scalar(rule.job)}")
            lines.append("      parameters:")
            lines.extend(f"        {scalar(k)}: {json.dumps(v)}" for k, v in rule.parameters)
        else:
            lines.append(f"    trigger: {scalar(rule.job)}")
    return "\n".join(lines) + "\n"


def write_both(config: str, config_text: str, rules: str, rules_text: str, newline: str) -> None:
    """The new config over the old and the new rules file (which must not exist), both
    or neither: written to temporary files beside them first, the rules file linked
    into place (never over a file), the config renamed over the old one, and the rules
    file taken away again when that fails. The config keeps its mode and line endings."""
    made: list[str] = []
    shown, config = config, os.path.realpath(config)  # a symlinked config stays one
    try:
        folder = os.path.dirname(rules)
        if folder:
            os.makedirs(folder, exist_ok=True)
        new_config = _temporary(config, config_text, newline, made)
        new_rules = _temporary(rules, rules_text, "\n", made)
        with contextlib.suppress(OSError):
            os.chmod(new_config, stat.S_IMODE(os.stat(config).st_mode))
        mask = os.umask(0)
        os.umask(mask)
        os.chmod(new_rules, 0o666 & ~mask)
        try:
            os.link(new_rules, rules)
        except FileExistsError:
            raise
        except OSError:  # a file system without hard links
            if os.path.lexists(rules):
                raise FileExistsError(rules) from None
            os.replace(new_rules, rules)
        try:
            os.replace(new_config, config)
        except OSError as exc:
            os.unlink(rules)
            raise ConfigError(
                f"{shown}: {exc.strerror or exc}; nothing written (the rules file was "
                "taken away again)"
            ) from None
    except FileExistsError:
        raise ConfigError(
            f"{rules} exists: not overwritten (pass --rules PATH for another file)"
        ) from None
    except OSError as exc:
        where = exc.filename if isinstance(exc.filename, str) else shown
        raise ConfigError(f"{where}: {exc.strerror or exc}; nothing written") from None
    finally:
        for path in made:
            with contextlib.suppress(OSError):
                os.unlink(path)


def _temporary(beside: str, text: str, newline: str, made: list[str]) -> str:
    import tempfile

    handle, path = tempfile.mkstemp(
        prefix=f".{os.path.basename(beside)}.", suffix=".tmp", dir=os.path.dirname(beside) or "."
    )
    made.append(path)
    with open(handle, "w", encoding="utf-8", newline=newline) as out:
        out.write(text)
    return path
