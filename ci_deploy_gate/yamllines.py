"""YAML that knows its lines: safe loading into mappings and lists that remember where
each key and item stood, so every problem can name its `file:line`."""

from __future__ import annotations

from ci_deploy_gate.errors import ConfigError

TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Iterator
    from typing import Any


MERGE_TAG = "tag:yaml.org,2002:merge"
SEQ_TAG = "tag:yaml.org,2002:seq"


class YamlMap(dict):  # type: ignore[type-arg]
    """A YAML mapping that remembers the line of itself and of each key."""

    line = 1
    lines: dict[Any, int]


class YamlList(list):  # type: ignore[type-arg]
    """A YAML list that remembers the line of itself and of each item."""

    line = 1
    lines: list[int]


def load_yaml(text: str, path: str) -> object:
    """Safe YAML whose mappings and lists know their lines (`line`, `lines`); duplicate
    keys are errors. ConfigError names the file, line and column of a syntax error."""
    import yaml

    base: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

    class Loader(base):  # type: ignore[misc]
        pass

    def construct_map(loader: Any, node: Any) -> Iterator[YamlMap]:
        data = YamlMap()
        data.line, data.lines = node.start_mark.line + 1, {}
        yield data
        merged: list[YamlMap] = []
        own = YamlMap()
        own.lines = {}
        for key_node, value_node in node.value:
            if key_node.tag == MERGE_TAG:
                merged.extend(_merged(loader, value_node, key_node))
                continue
            key = loader.construct_object(key_node, deep=True)
            if not isinstance(key, (str, int, float, bool)) and key is not None:
                raise _error("a key must be a plain value", key_node)
            if key in own.lines:
                raise _error(f"duplicate key {key!r}", key_node)
            own[key] = loader.construct_object(value_node, deep=True)
            own.lines[key] = key_node.start_mark.line + 1
        _merge_into(data, merged, own)

    def _merged(loader: Any, value_node: Any, key_node: Any) -> list[YamlMap]:
        """The mappings of `<<: *a` or `<<: [*a, *b]`, in order."""
        nodes = value_node.value if value_node.tag == SEQ_TAG else [value_node]
        found = [loader.construct_object(each, deep=True) for each in nodes]
        if not all(isinstance(each, YamlMap) for each in found):
            raise _error("a merge key (<<) takes a mapping or a list of mappings", key_node)
        return found

    def _error(problem: str, node: Any) -> Exception:
        return yaml.constructor.ConstructorError(None, None, problem, node.start_mark)

    def construct_seq(loader: Any, node: Any) -> Iterator[YamlList]:
        data = YamlList()
        data.line, data.lines = node.start_mark.line + 1, []
        yield data
        for item in node.value:
            data.append(loader.construct_object(item, deep=True))
            data.lines.append(item.start_mark.line + 1)

    Loader.add_constructor("tag:yaml.org,2002:map", construct_map)
    Loader.add_constructor("tag:yaml.org,2002:seq", construct_seq)
    try:
        return yaml.load(text, Loader=Loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = f"{path}:{mark.line + 1}:{mark.column + 1}" if mark else path
        raise ConfigError(f"{where}: not valid YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None


def _merge_into(data: YamlMap, merged: list[YamlMap], own: YamlMap) -> None:
    """YAML merge keys: a mapping's own keys win over merged ones, and among the merged
    mappings the first wins; each key keeps the line where it was written (for a merged
    key, in its anchor). Merged keys come first, as PyYAML orders them."""
    for source in (*merged, own):
        for key, value in source.items():
            if key not in data.lines or source is own:
                data[key] = value
                data.lines[key] = source.lines[key]


def line_of(container: object, key: object = None) -> int:
    """The line of `key` in a mapping or list from `load_yaml`, else of the container."""
    if isinstance(container, YamlMap) and key in container.lines:
        return container.lines[key]
    if isinstance(container, YamlList) and isinstance(key, int) and key < len(container.lines):
        return container.lines[key]
    return getattr(container, "line", 1)


def kind_of(value: object) -> str:
    """How a problem names what it found: 'text', 'a number', 'an empty list' ..."""
    names = {bool: "true/false", int: "a number", float: "a number", str: "text"}
    if value is None:
        return "empty"
    if isinstance(value, str) and not value.strip():
        return "blank text"
    if isinstance(value, dict):
        return "a mapping" if value else "an empty mapping"
    if isinstance(value, list):
        return "a list" if value else "an empty list"
    return names.get(type(value), type(value).__name__)
