"""The CircleCI config (`.circleci/config.yml`) as the gate reads it: YAML with lines,
for `check`, `init` and the run's own look at the config version; for `check` also a
setup config's continuation files, and several configs read as one."""

from __future__ import annotations

import os
from collections.abc import Mapping

from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.records import NamedTuple
from ci_deploy_gate.yamllines import YamlMap, line_of, load_yaml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence
    from typing import Any

DEFAULT_CONFIG = ".circleci/config.yml"
# `version: 2` (or 2.0) at the top of a config, read without parsing the YAML: the run
# checks it on every build, where a full parse would cost more than the rest of a no-match
_VERSION_2 = r"(?m)^version:[ \t]*(['\"]?)2(\.0)?\1[ \t]*(#.*)?$"
# the sections a continuation adds to what the fired pipeline runs (`merged`)
MERGED_SECTIONS = ("jobs", "workflows", "parameters", "commands")
CONTINUATION_ORB = "circleci/continuation"
PATH_FILTERING_ORB = "circleci/path-filtering"
PATH_FILTERING_DEFAULT = ".circleci/continue_config.yml"  # the orb's `config-path` default


class Config(NamedTuple):
    """The parts of a CircleCI config.yml that the checks read, with lines."""

    path: str
    data: Mapping[str, Any]
    # a config read from several files (`merged`): (section, name) -> the file it is in
    origins: Mapping[tuple[object, ...], str] | None = None
    files: tuple[str, ...] = ()  # every file read, when more than `path`

    def file(self, *keys: object) -> str:
        """The file that defines `section.name` (the first two of `keys`)."""
        return (self.origins or {}).get(keys[:2], self.path)

    def named(self, joined: str = " or ") -> str:
        """The files read, for a message: `a.yml`, or `a.yml or b.yml`."""
        return joined.join(self.files or (self.path,))

    @property
    def setup(self) -> bool:
        """A setup config (`setup: true`): its workflow continues with another config."""
        return self.data.get("setup") is True

    def section(self, key: str) -> Mapping[str, Any]:
        value = self.data.get(key)
        return value if isinstance(value, Mapping) else {}

    @property
    def version(self) -> str:
        """`version:` as written: "2", "2.0" or "2.1" (YAML reads 2.1 as a number)."""
        return str(self.data.get("version", ""))

    def line(self, *keys: object) -> int:
        container: object = self.data
        line = 1
        for key in keys:
            line = line_of(container, key)
            container = container.get(key) if isinstance(container, Mapping) else None
        return line


def load_config(path: str | None) -> Config | None:
    """The config at `path`; with None, the default one, or None when there is none."""
    chosen = path or DEFAULT_CONFIG
    try:
        return read_config(chosen)
    except FileNotFoundError:
        if path is None:
            return None
        raise ConfigError(f"--config {path}: no such file") from None


def read_config(path: str) -> Config:
    """The config at `path`; FileNotFoundError when there is none (the caller knows whether
    that is a problem), ConfigError naming `path` first for anything else."""
    try:
        with open(path, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        raise
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the CircleCI config: {exc}") from None
    data = load_yaml(text, path)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{path}: not a CircleCI config (expected a mapping at the top)")
    return Config(path, data)


# --- setup configs and their continuations ------------------------------------------------


def repository_root(path: str) -> str:
    """Where a config's paths are relative to: the folder holding its `.circleci/`, else
    the current folder (as CircleCI runs them from the checkout)."""
    folder = os.path.dirname(path)
    if os.path.basename(os.path.normpath(folder or ".")) == ".circleci":
        return os.path.dirname(folder)
    return ""


def continuations(config: Config) -> list[str]:
    """The files a setup config continues with, as it names them in the repository:
    `continuation/continue`'s `configuration_path`, the path-filtering orb's `filter` job's
    `config-path` (its default when not given). A path built at run time (`<< ... >>`) is
    not a file to read."""
    if not config.setup:
        return []
    continues = _orb_calls(config, CONTINUATION_ORB, "continue")
    filters = _orb_calls(config, PATH_FILTERING_ORB, "filter")
    found = [args.get("configuration_path") for args in continues]
    found += [args.get("config-path", PATH_FILTERING_DEFAULT) for args in filters]
    paths = [path for path in found if isinstance(path, str) and "<<" not in path]
    return list(dict.fromkeys(paths))


def _orb_calls(config: Config, orb: str, name: str) -> Iterator[Mapping[str, Any]]:
    """The arguments of every use of `orb`'s job or command `name`, under any alias."""
    aliases = {
        str(alias)
        for alias, ref in config.section("orbs").items()
        if isinstance(ref, str) and ref.split("@", 1)[0] == orb
    }
    wanted = {f"{alias}/{name}" for alias in aliases}
    for called, args in _calls(config.data):
        if called in wanted:
            yield args


def _calls(node: object) -> Iterator[tuple[str, Mapping[str, Any]]]:
    """Every `- name` and `- name: {args}` item of every list below `node`: the steps of
    jobs and commands, and the jobs of workflows."""
    if isinstance(node, Mapping):
        for value in node.values():
            yield from _calls(value)
    elif isinstance(node, list):
        for item in node:
            if isinstance(item, str):
                yield item, {}
            elif isinstance(item, Mapping) and len(item) == 1:
                ((called, args),) = item.items()
                yield str(called), args if isinstance(args, Mapping) else {}
            yield from _calls(item)


def merged(configs: Sequence[Config]) -> Config:
    """Several configs read as one for the checks: the first's version and settings, and
    the jobs, workflows, parameters and commands of all, a later file's winning (the
    continuation is what the fired pipeline runs). A setup config's own workflows are
    left out when another file has workflows: they run the setup, not the deploy."""
    if len(configs) == 1:
        return configs[0]
    first = configs[0]
    data = YamlMap(first.data)
    data.line, data.lines = 1, dict(getattr(first.data, "lines", {}))
    origins: dict[tuple[object, ...], str] = {}
    continued = any(not c.setup and c.section("workflows") for c in configs)
    for section in MERGED_SECTIONS:
        combined = YamlMap()
        combined.line, combined.lines = first.line(section), {}
        for config in configs:
            if section == "workflows" and config.setup and continued:
                continue
            for name, body in config.section(section).items():
                combined[name] = body
                combined.lines[name] = config.line(section, name)
                origins[(section, name)] = config.path
        data[section] = combined
    files = tuple(config.path for config in configs)
    return Config(first.path, data, origins, files)


def says_version_2(path: str) -> bool:
    """Whether the config at `path` is `version: 2` (or 2.0); False when there is none."""
    import re

    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            text = handle.read(1 << 20)
    except OSError:
        return False
    return re.search(_VERSION_2, text) is not None


def predates_v2(rules_path: str, *, api_given: bool) -> str:
    """Why a `version: 2` config cannot take the pipelines API v2 fires, and the two ways out."""
    from ci_deploy_gate.circleci.versions import MIGRATE, V1_REMOVAL

    if api_given:
        return (
            "this is a `version: 2` config, and the rules use API v2, whose pipelines need "
            "a 2.1 config (pipeline parameters, workflows chosen by `when:`): run "
            f"`{MIGRATE}` to move the config to 2.1, or set circleci.api: v1.1 in "
            f"{rules_path} to keep the single-job trigger until CircleCI removes it on "
            f"{V1_REMOVAL}"
        )
    return (
        f"this is a `version: 2` config and {rules_path} names no circleci.api, so the "
        "gate would fire API v2 pipelines, which a `version: 2` config cannot read (it "
        f"has no pipeline parameters): set circleci.api: v1.1 in {rules_path} to keep "
        f"the single-job trigger until CircleCI removes it on {V1_REMOVAL}, or run "
        f"`{MIGRATE}` to move the config to 2.1"
    )
