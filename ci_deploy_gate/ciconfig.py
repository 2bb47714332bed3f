"""The CircleCI config (`.circleci/config.yml`) as the gate reads it: YAML with lines,
for `check`, `init` and the run's own look at the config version."""

from __future__ import annotations

from collections.abc import Mapping

from ci_deploy_gate.errors import ConfigError
from ci_deploy_gate.records import NamedTuple
from ci_deploy_gate.yamllines import line_of, load_yaml

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

DEFAULT_CONFIG = ".circleci/config.yml"


class Config(NamedTuple):
    """The parts of a CircleCI config.yml that the checks read, with lines."""

    path: str
    data: Mapping[str, Any]

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
        with open(chosen, encoding="utf-8") as handle:
            text = handle.read()
    except FileNotFoundError:
        if path is None:
            return None
        raise ConfigError(f"--config {path}: no such file") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{chosen}: cannot read the CircleCI config: {exc}") from None
    data = load_yaml(text, chosen)
    if not isinstance(data, Mapping):
        raise ConfigError(f"{chosen}: not a CircleCI config (expected a mapping at the top)")
    return Config(chosen, data)
